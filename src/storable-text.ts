// Text Postgres cannot store: NUL (text columns refuse it) and unpaired UTF-16 surrogates (they
// have no UTF-8 form). Every surface takes text from outside (JSON bodies, forms, chat commands,
// SMS, notes); each refuses such text with a clear message instead of failing deep inside a
// statement. The core checks the free text it stores, so a surface that forgets cannot 500.
import { invalid } from './errors.js';

// eslint-disable-next-line no-control-regex -- matching NUL is the point
export const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const UNSTORABLE_MESSAGE = 'must not contain NUL characters (\\u0000) or unpaired surrogates';

export const isStorable = (s: string) => !UNSTORABLE.test(s);

/** Refuses (400, naming the field) a value Postgres could not store. */
export function requireStorable(field: string, value: string | null | undefined): void {
  if (value && !isStorable(value)) invalid([{ field, message: UNSTORABLE_MESSAGE }]);
}
