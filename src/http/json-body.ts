// The JSON body parser: an empty body is {}, prototype keys are dropped, and NUL characters are
// refused up front (Postgres can store them in neither text nor jsonb, so they would otherwise
// surface as a 500 deep inside a transaction).
import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { LeashError } from '../errors.js';

/** The dotted path of the first NUL in a value (in a key or a string), or undefined. */
function nulPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path || 'body' : undefined;
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const here = path ? `${path}.${k}` : k;
      if (k.includes('\u0000')) return path || 'body';
      const found = nulPath(v, here);
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
      value = sjson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
    } catch (err) {
      (err as { statusCode?: number }).statusCode = 400;
      (err as { code?: string }).code = 'FST_ERR_CTP_INVALID_JSON_BODY';
      return done(err as Error, undefined);
    }
    // Only walk the value when the text could hold a NUL at all.
    const field = text.includes('\\u0000') || text.includes('\u0000') ? nulPath(value, '') : undefined;
    if (field) {
      return done(new LeashError('invalid_request', `${field}: must not contain NUL characters (\\u0000)`, [{ field, message: 'must not contain NUL characters (\\u0000)' }]), undefined);
    }
    done(null, value);
  });
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PATCH')) req.body = {};
  });
}
