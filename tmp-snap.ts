import WebSocket from 'ws';
import http from 'node:http';
import { readdirSync } from 'node:fs';
import { startLeash, ask } from './bench/support/leash.js';
import { client, post } from './bench/support/lib.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const leash = await startLeash('snap', { NODE_OPTIONS: '--heapsnapshot-signal=SIGUSR2' });
const pid = leash.process.pid!;
const snap = async () => { const n = readdirSync('.').filter((f) => f.endsWith('.heapsnapshot')).length; process.kill(pid, 'SIGUSR2'); while (readdirSync('.').filter((f) => f.endsWith('.heapsnapshot')).length === n) await sleep(500); await sleep(3000); };
const out: WebSocket[] = [];
const openWs = async (n: number) => { for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: 200 }, () => { const ws = new WebSocket(leash.origin.replace('http', 'ws') + '/v1/stream', { headers: { authorization: `Bearer ${leash.agent.key}` } }); out.push(ws); return new Promise((r, j) => { ws.once('open', r); ws.once('error', j); }); })); };
const L = client(leash.origin, 1); const pending = (await post(L, '/v1/pause', ask(1), leash.agent.key)).json.pause_id; await L.close();
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const polls: http.ClientRequest[] = [];
const openPolls = async (n: number) => { for (let i = 0; i < n; i++) { const r = http.get(`${leash.origin}/v1/pause/${pending}?wait=60`, { agent, headers: { authorization: `Bearer ${leash.agent.key}` } }); r.on('error', () => {}); polls.push(r); } await sleep(4000); };
const mode = process.env.MODE ?? 'ws';
await sleep(3000);
if (mode === 'ws') { await openWs(1000); await snap(); await openWs(2000); await snap(); }
else { await openPolls(1000); await snap(); await openPolls(2000); await snap(); }
for (const s of out) s.terminate(); for (const p of polls) p.destroy();
await leash.stop();
