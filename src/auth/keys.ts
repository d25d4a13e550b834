// API keys: `lsh_m_…` for members, `lsh_a_…` for agents. The first 18 characters are a public
// prefix used to find the key; only a SHA-256 of the whole key is stored (keys carry ~262 random bits,
// so a slow hash would add latency to every request and no safety).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PREFIX_LENGTH = 18; // "lsh_m_" + 12 characters

export type KeyKind = 'member' | 'agent';

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 × 62: dropping larger bytes keeps every character equally likely.
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export function generateKey(kind: KeyKind): { key: string; prefix: string; hash: Buffer } {
  const key = `lsh_${kind === 'member' ? 'm' : 'a'}_${randomBase62(44)}`;
  return { key, prefix: key.slice(0, PREFIX_LENGTH), hash: hashKey(key) };
}

/** The lookup prefix of a presented key, or undefined when it cannot be one of ours. */
export function keyPrefix(key: string): string | undefined {
  return /^lsh_[ma]_[0-9A-Za-z]{44}$/.test(key) ? key.slice(0, PREFIX_LENGTH) : undefined;
}

export function keyMatches(key: string, hash: Buffer): boolean {
  const presented = hashKey(key);
  return presented.length === hash.length && timingSafeEqual(presented, hash);
}
