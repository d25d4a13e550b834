// The form body parser (application/x-www-form-urlencoded: the pages' forms, Twilio's webhooks).
// Strict where a lenient parser guesses: bytes that are not UTF-8, raw or percent-encoded, are
// refused (400) rather than silently stored as U+FFFD. A key given twice becomes a list, as
// parsers usually do (Twilio's route refuses lists); keys land on an object without a prototype.
import type { FastifyInstance } from 'fastify';
import { LeashError } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type FormBody = Record<string, string | string[]>;

const notUtf8 = () =>
  new LeashError('invalid_request', 'body: is not valid UTF-8 (as sent, or once percent-decoded)', [
    { field: 'body', message: 'is not valid UTF-8' },
  ]);

/** Decodes one name or value; throws for a malformed escape or one that is not UTF-8. */
const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));

export function parseForm(raw: Buffer): FormBody {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw notUtf8();
  }
  const out: FormBody = Object.create(null);
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    let key: string;
    let value: string;
    try {
      key = decode(eq < 0 ? pair : pair.slice(0, eq));
      value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    } catch {
      throw notUtf8();
    }
    const prior = out[key];
    out[key] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  return out;
}

export function registerFormBody(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseForm(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
