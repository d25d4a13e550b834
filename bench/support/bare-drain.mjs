// The bare baseline for the delivery_url drain: the least a correct drain does, with the same
// libraries Leash uses (pg, undici, standardwebhooks) and nothing else. It reads an inbox in pages
// of 200 in seq order, POSTs each message signed, one at a time, and writes the ack every 50.
// With `check`, it also reads the agent's row before each POST, as Leash does so that nothing
// starts after a full pause, a stop or a new URL commits.
//   POST /drain {"agent": id, "url": receiver, "secret": "whsec_…", "check": bool} → {"delivered": n}
import http from 'node:http';
import process from 'node:process';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import { pgConfig } from '../../dist/src/db/index.js';

const pool = new pg.Pool({ ...pgConfig(process.env.DATABASE_URL), max: 2 });

async function drain({ agent, url, secret, check }) {
  const webhook = new Webhook(secret);
  let last = 0;
  let delivered = 0;
  for (;;) {
    const { rows } = await pool.query(
      `select m.id, m.seq, m.body, m.created_at, s.name as "from", s.id as from_id
         from messages m join agents s on s.id = m.sender_id
        where m.recipient_id = $1 and m.seq > $2 order by m.seq limit 200`,
      [agent, last],
    );
    if (rows.length === 0) break;
    for (const m of rows) {
      if (check) await pool.query('select delivery_url, pause_mode, run_state from agents where id = $1', [agent]);
      const data = {
        id: m.id,
        seq: Number(m.seq),
        from: m.from,
        from_id: m.from_id,
        body: m.body,
        created_at: m.created_at.toISOString(),
      };
      const body = JSON.stringify({ type: 'message', timestamp: new Date().toISOString(), data });
      const now = new Date();
      const res = await request(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': m.id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': webhook.sign(m.id, now, body),
        },
        body,
      });
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`receiver answered ${res.statusCode}`);
      last = data.seq;
      delivered++;
      if (delivered % 50 === 0) await pool.query('update agents set acked_seq = $2 where id = $1', [agent, last]);
    }
  }
  await pool.query('update agents set acked_seq = $2 where id = $1', [agent, last]);
  return { delivered };
}

http
  .createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      if (req.url !== '/drain') return res.writeHead(200).end('ready');
      try {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await drain(JSON.parse(raw))));
      } catch (err) {
        res.writeHead(500).end(String(err));
      }
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1');

// A clean exit on the bench's SIGTERM (so BENCH_PROFILE's --cpu-prof gets written).
process.on('SIGTERM', () => pool.end().finally(() => process.exit(0)));
