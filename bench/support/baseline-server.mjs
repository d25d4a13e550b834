// The bare baseline: a Fastify route doing one INSERT with pg, nothing else. Leash's figures are
// read against this, measured in the same run on the same machine.
import process from 'node:process';
import Fastify from 'fastify';
import pg from 'pg';
import { pgConfig } from '../../dist/src/db/index.js';

const pool = new pg.Pool({ ...pgConfig(process.env.DATABASE_URL), max: 10 });
await pool.query(
  'create table if not exists bench_baseline (id uuid primary key default gen_random_uuid(), body jsonb not null, created_at timestamptz not null default now())',
);
const app = Fastify();
app.post('/insert', async (req) => {
  const { rows } = await pool.query('insert into bench_baseline (body) values ($1) returning id, created_at', [
    JSON.stringify(req.body),
  ]);
  return rows[0];
});
const address = await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.stdout.write(`baseline listening ${address}`);
