// The JSON body parser: an empty body is {}, prototype-polluting keys are refused, and strings Postgres
// cannot store (a NUL, or an unpaired UTF-16 surrogate such as "\ud800") are refused up front with
// the field named, instead of surfacing as a 500 deep inside a transaction.
import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { LeashError } from '../errors.js';

// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MESSAGE = 'must not contain NUL characters (\\u0000) or unpaired surrogates';

/** The dotted path of the first unstorable string in a value (a key or a string), or undefined. */
function badPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path || 'body' : undefined;
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (UNSTORABLE.test(k)) return path || 'body';
      const found = badPath(v, path ? `${path}.${k}` : k);
      if (found) return found;
    }
  }
  return undefined;
}

export function registerJsonBody(app: FastifyInstance) {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    let value: unknown;
    try {
      // Refused, not silently dropped: metadata is returned unchanged, so nothing may vanish from it.
      value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (err) {
      if (/forbidden prototype property/i.test((err as Error).message)) {
        const message = 'keys named "__proto__" (or "constructor" holding "prototype") are not accepted';
        return done(new LeashError('invalid_request', `body: ${message}`, [{ field: 'body', message }]), undefined);
      }
      (err as { statusCode?: number }).statusCode = 400;
      (err as { code?: string }).code = 'FST_ERR_CTP_INVALID_JSON_BODY';
      return done(err as Error, undefined);
    }
    // Only walk the value when the text could hold such a string at all (both arrive as escapes).
    const field = /\\u(0000|d[89a-f])/i.test(text) || text.includes('\u0000') ? badPath(value, '') : undefined;
    if (field) return done(new LeashError('invalid_request', `${field}: ${MESSAGE}`, [{ field, message: MESSAGE }]), undefined);
    done(null, value);
  });
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PATCH')) req.body = {};
  });
}
