// The JSON body parser: an empty body is {}, prototype-polluting keys are refused, and strings Postgres
// cannot store (a NUL, or an unpaired UTF-16 surrogate such as "\ud800") are refused up front with
// the field named, instead of surfacing as a 500 deep inside a transaction. So is JSON nested deeper
// than MAX_DEPTH, which would exhaust the stack of every recursive walk after this one.
import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { LeashError } from '../errors.js';
import { UNSTORABLE, UNSTORABLE_MESSAGE } from '../storable-text.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Deeper JSON is refused: every recursive walk of a body (JSON.stringify in size checks, the
 *  idempotency hash, the pg driver) would otherwise exhaust the stack and answer 500. */
export const MAX_DEPTH = 100;
const DEPTH_MESSAGE = `must not be nested more than ${MAX_DEPTH} levels deep`;

/** The top-level field holding a value nested deeper than MAX_DEPTH (the body itself is level 1),
 *  or undefined. Iterative, since the input may be far deeper than the stack. */
function tooDeep(value: unknown): string | undefined {
  const stack: [unknown, number, string][] = [[value, 1, 'body']];
  while (stack.length > 0) {
    const [v, depth, field] = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (depth > MAX_DEPTH) return field;
    for (const [k, child] of Object.entries(v)) {
      stack.push([child, depth + 1, depth === 1 && !Array.isArray(v) ? k || '""' : field]);
    }
  }
  return undefined;
}

function bracketsOver(text: string, n: number): boolean {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c === 0x5b || c === 0x7b) && ++count > n) return true;
  }
  return false;
}

/** The dotted path of the first unstorable string in a value (a key or a string), or undefined. */
function badPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path || 'body' : undefined;
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (UNSTORABLE.test(k)) return path || 'body';
      const name = k === '' ? '""' : k; // an empty key is named, quoted, as the error handler does
      const found = badPath(v, path ? `${path}.${name}` : name);
      if (found) return found;
    }
  }
  return undefined;
}

export function registerJsonBody(app: FastifyInstance) {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      // Refused, not read with U+FFFD in place of the bad bytes (and stored that way).
      return done(
        new LeashError('invalid_request', 'body: is not valid UTF-8', [
          { field: 'body', message: 'is not valid UTF-8' },
        ]),
        undefined,
      );
    }
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
    // Only walk the value when the text has that many brackets at all.
    if (bracketsOver(text, MAX_DEPTH)) {
      const deep = tooDeep(value);
      if (deep)
        return done(
          new LeashError('invalid_request', `${deep}: ${DEPTH_MESSAGE}`, [{ field: deep, message: DEPTH_MESSAGE }]),
          undefined,
        );
    }
    // Only walk the value when the text could hold such a string at all (both arrive as escapes).
    // Inside a top-level array (never a valid body) the path starts at "body".
    const field =
      /\\u(0000|d[89a-f])/i.test(text) || text.includes('\u0000')
        ? badPath(value, Array.isArray(value) ? 'body' : '')
        : undefined;
    if (field)
      return done(
        new LeashError('invalid_request', `${field}: ${UNSTORABLE_MESSAGE}`, [{ field, message: UNSTORABLE_MESSAGE }]),
        undefined,
      );
    done(null, value);
  });
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PATCH')) req.body = {};
  });
}
