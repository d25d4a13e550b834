// Idempotency-Key on creates: the key's record commits in the same transaction as the thing it
// created, so a replay returns exactly what the first request committed. A concurrent duplicate
// blocks on the key's row until the first commits, then replays it; if the first failed, it runs.
// Stored responses hold secrets shown once (API keys, signing secrets), so they are encrypted.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { json, type Db } from '../db/index.js';
import { fail, invalid } from '../errors.js';
import { principalOf } from './auth.js';

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const KEEP_MS = 24 * 3_600_000;

function keyFor(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'leash', 'idempotency-responses-v1', 32));
}

function seal(secret: string, value: unknown): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(secret), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

function open(secret: string, sealed: string): unknown {
  const raw = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', keyFor(secret), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'));
}

export interface Outcome<T, S extends number> {
  status: S;
  body: T;
  replayed: boolean;
}

/** A create route's whole reply: runs `run` under the request's Idempotency-Key (if any) and
 *  sends `status` (or the replayed response) with `Idempotent-Replayed`. */
export async function sendCreated<T>(
  db: Db,
  secret: string,
  req: FastifyRequest,
  reply: FastifyReply,
  run: (db: Db) => Promise<T>,
  status: 201 | 202 = 201,
) {
  const out = await idempotent(db, secret, req, status, run);
  return reply.code(out.status).header('idempotent-replayed', String(out.replayed)).send(out.body);
}

export async function idempotent<T, S extends number>(
  db: Db,
  secret: string,
  req: FastifyRequest,
  status: S,
  run: (db: Db) => Promise<T>,
): Promise<Outcome<T, S>> {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return { status, body: await run(db), replayed: false };
  const key = Array.isArray(raw) ? raw[0]! : raw;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    invalid([{ field: 'header.idempotency-key', message: 'must be 1-255 visible ASCII characters' }]);
  }
  const p = principalOf(req);
  const principalId = p.kind === 'member' ? p.member.id : p.agent.id;
  const hash = createHash('sha256')
    .update(`${req.method} ${req.routeOptions.url} ${canonical(req.params)} ${canonical(req.body ?? null)}`)
    .digest('hex');
  return db.transaction().execute(async (tx) => {
    // A key older than 24 hours is forgotten, whether or not the sweep has deleted it yet.
    await tx
      .deleteFrom('idempotency_keys')
      .where('principal_id', '=', principalId)
      .where('key', '=', key)
      .where('created_at', '<', new Date(Date.now() - KEEP_MS))
      .execute();
    const fresh = await tx
      .insertInto('idempotency_keys')
      .values({ principal_id: principalId, key, request_hash: hash })
      .onConflict((oc) => oc.doNothing())
      .returning('key')
      .executeTakeFirst();
    if (!fresh) {
      const prior = await tx
        .selectFrom('idempotency_keys')
        .select(['request_hash', 'status_code', 'response'])
        .where('principal_id', '=', principalId)
        .where('key', '=', key)
        .executeTakeFirstOrThrow();
      if (prior.request_hash !== hash) {
        fail('idempotency_key_reused', 'This Idempotency-Key was used with a different request; use a new key');
      }
      return { status: prior.status_code as S, body: open(secret, prior.response as string) as T, replayed: true };
    }
    const body = await run(tx);
    await tx
      .updateTable('idempotency_keys')
      .set({ status_code: status, response: json(seal(secret, body)) })
      .where('principal_id', '=', principalId)
      .where('key', '=', key)
      .execute();
    return { status, body, replayed: false };
  });
}
