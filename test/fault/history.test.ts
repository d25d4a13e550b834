// A history checker over a mixed random workload, in the spirit of Jepsen/Elle but simple: for
// about 12 s, agents ask approvals (1–3 s timeouts, some with a default) that several members race
// to answer or cancel, agents message each other (and one inbox is held right at BACKLOG_CAP), an
// owner pauses and unpauses them (full and soft), and every agent receives over WebSocket streams
// (reconnecting, sometimes abruptly) or sync polling with acks. Every client-visible operation is
// recorded with when it was invoked and when it completed, every stream frame with when it arrived,
// and Postgres is sampled as it goes. Then the history is checked against what Leash promises:
//   1. one terminal state per approval        4. the backlog cap is never exceeded (nor refused early)
//   2. no acknowledged write is lost            5. no delivery while a full pause is in force
//   3. gapless, ordered delivery per recipient  6. the pause gate and the pause state machine
// The seed fixes each actor's choices (each has its own PRNG stream); the interleaving is the
// machine's. Replay with FAULT_SEED=<seed>. On a violation the full history is written to
// artifacts/fault-history-<seed>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { sql } from 'kysely';
import WebSocket from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp, type Response } from '../support/app.js';
import { useWorkers } from '../support/worker.js';

const SEED = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isSafeInteger(SEED)) throw new Error(`FAULT_SEED must be an integer, not ${process.env.FAULT_SEED}`);
const RUN_MS = 12_000;
/** Askers stop this much earlier (the longest timeout), so every deadline falls within the run. */
const ASK_UNTIL_BEFORE_END_MS = 3_000;
const CAP = 10_000;
/** The held inbox starts this far below the cap, so senders reach it within a second or two. */
const PREFILL_GAP = 10;
/** How late past expires_at an approval may still be pending (read straight from Postgres, which
 *  no GET can settle) before it counts as stuck: the worker's timer fires at expires_at. */
const STUCK_GRACE_MS = 4_000;
const SAMPLE_EVERY_MS = 250;
const WORKERS = ['a0', 'a1', 'a2', 'a3', 'a4'] as const;
const HOARD = 'hoard';

const t = useTestApp({ BACKLOG_CAP: String(CAP) });
const startWorker = useWorkers(t);

// ---------------------------------------------------------------------------------------------
// Randomness: one PRNG stream per actor, so an actor's choices depend on the seed only.

interface Rng {
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  shuffle<T>(xs: readonly T[]): T[];
}

function rngFor(label: string): Rng {
  let h = 2166136261 ^ SEED;
  for (const c of label) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  let a = h >>> 0;
  // mulberry32
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return {
    int,
    chance: (p) => next() < p,
    pick: (xs) => xs[int(0, xs.length - 1)]!,
    shuffle: (xs) => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(0, i);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The history: operations (invocation and completion), stream frames (arrival) and DB samples.

type OpKind =
  | 'approval.create'
  | 'approval.respond'
  | 'approval.cancel'
  | 'approval.get'
  | 'message.send'
  | 'message.read'
  | 'message.ack'
  | 'agent.pause'
  | 'agent.unpause'
  | 'stream.open'
  | 'stream.ack'
  | 'stream.close';

interface Op {
  n: number;
  kind: OpKind;
  /** Who acted: an agent's name, or a member's label. */
  actor: string;
  /** The agent the operation is about: sender, reader, asker, or the agent paused. */
  agent?: string;
  /** A message's recipient (name). */
  to?: string;
  /** The unique tag in a message's body, which finds it in Postgres whatever the answer was. */
  tag?: string;
  approval?: string;
  /** A responder's member id. */
  member?: string;
  session?: number;
  method?: string;
  url?: string;
  req?: any;
  invokedAt: number;
  completedAt: number;
  /** HTTP status; 101 for an open stream; 0 for a frame sent or a transport failure. */
  status: number;
  body: any;
}

interface FrameRec {
  agent: string;
  session: number;
  at: number;
  frame: any;
}

interface Sample {
  at: number;
  agents: { name: string; inbox: number; acked: number; held: number }[];
  overdue: { id: string; expiresAt: number }[];
}

class History {
  readonly ops: Op[] = [];
  readonly frames: FrameRec[] = [];
  readonly samples: Sample[] = [];
  /** Messages written straight into an inbox before the run (not through the API). */
  readonly prefill = new Map<string, number>();
  readonly t0 = Date.now();

  begin(kind: OpKind, actor: string, fields: Partial<Op> = {}): Op {
    const op: Op = { n: this.ops.length, kind, actor, invokedAt: Date.now(), completedAt: NaN, status: 0, body: undefined, ...fields };
    this.ops.push(op);
    return op;
  }

  end(op: Op, status: number, body: unknown): Op {
    op.completedAt = Date.now();
    op.status = status;
    op.body = body;
    return op;
  }

  /** One HTTP call through inject(), recorded. */
  async http(kind: OpKind, actor: string, method: string, url: string, key: string, body: unknown, fields: Partial<Op> = {}): Promise<Op> {
    const op = this.begin(kind, actor, { method, url, req: body, ...fields });
    let res: Response;
    try {
      res = await t.call(method, url, { key, body });
    } catch (err) {
      return this.end(op, 0, { transport_error: String(err) });
    }
    return this.end(op, res.status, res.body);
  }
}

// ---------------------------------------------------------------------------------------------
// The cast.

interface Agent {
  name: string;
  id: string;
  key: string;
}

interface Member {
  label: string;
  id: string;
  key: string;
}

interface Asked {
  id: string;
  asker: Agent;
  options: string[];
  expiresAt: number;
}

type PauseState = null | 'send' | 'full';

interface World {
  h: History;
  wsId: string;
  base: string;
  ownerKey: string;
  workers: Agent[];
  hoard: Agent;
  members: Member[];
  asked: Asked[];
  pause: Map<string, PauseState>;
  followUps: Promise<unknown>[];
  nextSession: number;
}

// ---------------------------------------------------------------------------------------------
// WebSocket streams, recorded frame by frame (the listener is attached before the socket opens,
// so no frame escapes its arrival time).

interface Conn {
  ws: WebSocket;
  agent: string;
  session: number;
  ready: any;
  highest: number;
  closed: { code: number } | undefined;
}

async function openStream(w: World, a: Agent): Promise<Conn | undefined> {
  const session = w.nextSession++;
  const op = w.h.begin('stream.open', a.name, { agent: a.name, session, url: '/v1/stream' });
  const ws = new WebSocket(`${w.base.replace(/^http/, 'ws')}/v1/stream`, { headers: { authorization: `Bearer ${a.key}` } });
  const conn: Conn = { ws, agent: a.name, session, ready: undefined, highest: 0, closed: undefined };
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data));
    w.h.frames.push({ agent: a.name, session, at: Date.now(), frame });
    if (frame.type === 'ready') conn.ready = frame;
    if (frame.type === 'message') conn.highest = Math.max(conn.highest, frame.message.seq);
  });
  ws.on('close', (code) => (conn.closed = { code }));
  ws.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        reject(new Error(`HTTP ${res.statusCode}`));
      });
      ws.once('error', reject);
    });
  } catch (err) {
    w.h.end(op, 0, { transport_error: String(err) });
    return undefined;
  }
  await until(() => conn.ready !== undefined || conn.closed !== undefined, 10_000);
  if (!conn.ready) {
    w.h.end(op, 0, { transport_error: 'no ready frame', closed: conn.closed });
    ws.terminate();
    return undefined;
  }
  w.h.end(op, 101, { acked_seq: conn.ready.acked_seq, pause: conn.ready.agent.pause });
  return conn;
}

function ackOnStream(w: World, conn: Conn, seq: number): void {
  if (conn.closed || conn.ws.readyState !== WebSocket.OPEN) return;
  const op = w.h.begin('stream.ack', conn.agent, { agent: conn.agent, session: conn.session, req: { seq } });
  conn.ws.send(JSON.stringify({ type: 'ack', seq }));
  w.h.end(op, 0, null);
}

/** A clean close, or a crash (the socket just goes: no close handshake). */
async function closeStream(w: World, conn: Conn, how: 'close' | 'crash'): Promise<void> {
  const op = w.h.begin('stream.close', conn.agent, { agent: conn.agent, session: conn.session, req: { how } });
  if (!conn.closed) {
    if (how === 'crash') conn.ws.terminate();
    else conn.ws.close();
  }
  if (!(await until(() => conn.closed !== undefined, 5_000))) conn.ws.terminate();
  w.h.end(op, 0, conn.closed ?? null);
}

// ---------------------------------------------------------------------------------------------
// The actors. Each loop runs until `end`, sleeping a little between operations.

async function senderLoop(w: World, a: Agent, end: number): Promise<void> {
  const rng = rngFor(`sender:${a.name}`);
  const others = w.workers.filter((x) => x !== a);
  for (let n = 1; Date.now() < end; n++) {
    const to = rng.chance(0.35) ? HOARD : rng.pick(others).name;
    const tag = `${a.name}#${n}`;
    await w.h.http('message.send', a.name, 'POST', '/v1/messages', a.key, { to, body: { tag } }, { agent: a.name, to, tag });
    await sleep(rng.int(10, 60));
  }
}

const OPTION_SETS = [
  ['Approve', 'Reject'],
  ['Yes', 'No', 'Later'],
  ['Wire', 'Hold', 'Escalate', 'Refund'],
];

type FollowUp = { kind: 'wait'; seconds: number } | { kind: 'peek'; fromDeadlineMs: number } | { kind: 'cancel'; afterMs: number } | { kind: 'none' };

function pickFollowUp(rng: Rng, timeoutMs: number): FollowUp {
  const r = rng.int(0, 99);
  if (r < 35) return { kind: 'wait', seconds: rng.int(1, 4) };
  // A peek lands around the deadline, where "pending is never shown past expires_at" is tested.
  if (r < 55) return { kind: 'peek', fromDeadlineMs: rng.int(-300, 300) };
  // Mostly early, so some cancels win; some late, so some lose to an answer or the timeout.
  if (r < 70) return { kind: 'cancel', afterMs: rng.chance(0.7) ? rng.int(0, 400) : rng.int(0, timeoutMs + 300) };
  return { kind: 'none' };
}

async function followUp(w: World, asked: Asked, what: FollowUp, peeker: Member): Promise<void> {
  const path = `/v1/pause/${asked.id}`;
  const fields = { agent: asked.asker.name, approval: asked.id };
  if (what.kind === 'wait') await w.h.http('approval.get', asked.asker.name, 'GET', `${path}?wait=${what.seconds}`, asked.asker.key, undefined, fields);
  if (what.kind === 'peek') {
    await sleep(Math.max(0, asked.expiresAt + what.fromDeadlineMs - Date.now()));
    await w.h.http('approval.get', peeker.label, 'GET', path, peeker.key, undefined, fields);
  }
  if (what.kind === 'cancel') {
    await sleep(what.afterMs);
    await w.h.http('approval.cancel', asked.asker.name, 'POST', `${path}/cancel`, asked.asker.key, undefined, fields);
  }
}

async function askerLoop(w: World, a: Agent, end: number): Promise<void> {
  const rng = rngFor(`asker:${a.name}`);
  while (Date.now() < end) {
    const options = rng.pick(OPTION_SETS);
    const timeoutSeconds = rng.int(1, 3);
    const body = {
      recipient: 'approvers@example.com',
      channel: 'web',
      message: `May ${a.name} go ahead?`,
      options,
      timeout_seconds: timeoutSeconds,
      ...(rng.chance(0.5) ? { timeout_default: rng.pick(options) } : {}),
    };
    const what = pickFollowUp(rng, timeoutSeconds * 1000);
    const peeker = rng.pick(w.members);
    const op = await w.h.http('approval.create', a.name, 'POST', '/v1/pause', a.key, body, { agent: a.name });
    if (op.status === 201) {
      const asked = { id: op.body.pause_id as string, asker: a, options, expiresAt: Date.parse(op.body.expires_at) };
      op.approval = asked.id;
      w.asked.push(asked);
      w.followUps.push(followUp(w, asked, what, peeker));
    }
    await sleep(rng.int(150, 450));
  }
}

/** Several members answer one approval at once (and sometimes someone cancels it meanwhile). */
async function racerLoop(w: World, label: string, end: number): Promise<void> {
  const rng = rngFor(`racer:${label}`);
  while (Date.now() < end) {
    // Some just past their deadline too: those answers must lose to the timeout.
    const open = w.asked.filter((x) => x.expiresAt > Date.now() - 300);
    if (open.length) {
      const target = rng.pick(open);
      const path = `/v1/pause/${target.id}`;
      const fields = { agent: target.asker.name, approval: target.id };
      const racers = rng
        .shuffle(w.members)
        .slice(0, rng.int(2, 3))
        .map((m) => {
          const choice = rng.pick(target.options);
          return () => w.h.http('approval.respond', m.label, 'POST', `${path}/respond`, m.key, { choice }, { ...fields, member: m.id });
        });
      if (rng.chance(0.2)) {
        const m = rng.pick(w.members);
        racers.push(() => w.h.http('approval.cancel', m.label, 'POST', `${path}/cancel`, m.key, undefined, fields));
      }
      await Promise.all(racers.map((go) => go()));
    }
    await sleep(rng.int(40, 160));
  }
}

type ControlAction = 'pause-full' | 'pause-send' | 'unpause';

async function control(w: World, a: Agent, action: ControlAction): Promise<Op> {
  const fields = { agent: a.name };
  const op =
    action === 'unpause'
      ? await w.h.http('agent.unpause', 'owner', 'POST', `/v1/agents/${a.id}/unpause`, w.ownerKey, undefined, fields)
      : await w.h.http('agent.pause', 'owner', 'POST', `/v1/agents/${a.id}/pause`, w.ownerKey, { mode: action === 'pause-full' ? 'full' : 'send', reason: `seed ${SEED}` }, fields);
  if (op.status === 200) w.pause.set(a.name, op.body.pause?.mode ?? null);
  return op;
}

/** The owner's pauses of one agent, one at a time; now and then a redundant one (which must 409). */
async function controllerLoop(w: World, a: Agent, end: number): Promise<void> {
  const rng = rngFor(`controller:${a.name}`);
  for (;;) {
    const state = w.pause.get(a.name) ?? null;
    await sleep(state === null ? rng.int(600, 2000) : rng.int(200, 700));
    if (Date.now() >= end) return;
    let action: ControlAction;
    if (rng.chance(0.1)) action = state === null ? 'unpause' : state === 'full' ? 'pause-full' : 'pause-send';
    else if (state === null) action = rng.chance(0.65) ? 'pause-full' : 'pause-send';
    else if (rng.chance(0.6)) action = 'unpause';
    else action = state === 'full' ? 'pause-send' : 'pause-full';
    await control(w, a, action);
  }
}

async function restAck(w: World, a: Agent, seq: number): Promise<Op> {
  return w.h.http('message.ack', a.name, 'POST', '/v1/messages/ack', a.key, { seq }, { agent: a.name });
}

interface SyncStyle {
  limit: [number, number];
  gapMs: [number, number];
  waitChance: number;
  ackChance: number;
}

/** Sync polling: the first read starts after the server's acked seq, later ones after a cursor. */
async function syncSession(w: World, a: Agent, rng: Rng, end: number, style: SyncStyle): Promise<void> {
  let cursor: number | undefined;
  while (Date.now() < end) {
    const req = { after: cursor, limit: rng.int(...style.limit), wait: rng.chance(style.waitChance) ? 1 : 0 };
    const q = new URLSearchParams({ limit: String(req.limit), wait: String(req.wait) });
    if (cursor !== undefined) q.set('after', String(cursor));
    const op = await w.h.http('message.read', a.name, 'GET', `/v1/messages?${q}`, a.key, undefined, { agent: a.name });
    op.req = req;
    const data: any[] = op.status === 200 ? op.body.data : [];
    if (data.length) {
      cursor = data[data.length - 1].seq as number;
      if (rng.chance(style.ackChance)) await restAck(w, a, cursor);
    }
    await sleep(rng.int(...style.gapMs));
  }
}

async function streamSession(w: World, a: Agent, rng: Rng, end: number): Promise<void> {
  const conn = await openStream(w, a);
  if (!conn) return sleep(100);
  let acked = conn.ready.acked_seq as number;
  while (Date.now() < end && !conn.closed) {
    await sleep(rng.int(20, 120));
    // Not every message is acked before the stream goes: those may come again, never skipped.
    if (conn.highest > acked && rng.chance(0.8)) {
      acked = conn.highest;
      ackOnStream(w, conn, acked);
    }
  }
  await closeStream(w, conn, rng.chance(0.15) ? 'crash' : 'close');
}

const WORKER_SYNC: SyncStyle = { limit: [1, 25], gapMs: [20, 150], waitChance: 0.3, ackChance: 0.7 };
/** The held inbox is read slowly, a few at a time, so senders keep running into the cap. */
const HOARD_SYNC: SyncStyle = { limit: [2, 8], gapMs: [400, 1000], waitChance: 0.2, ackChance: 1 };

async function receiverLoop(w: World, a: Agent, end: number): Promise<void> {
  const rng = rngFor(`receiver:${a.name}`);
  while (Date.now() < end) {
    const sessionEnd = Math.min(end, Date.now() + rng.int(500, 2500));
    if (rng.chance(0.55)) await streamSession(w, a, rng, sessionEnd);
    else await syncSession(w, a, rng, sessionEnd, WORKER_SYNC);
  }
}

/** Postgres as it is, read directly (a GET would settle an overdue approval and hide a stuck timer). */
async function sample(w: World): Promise<void> {
  const at = Date.now();
  const { rows } = await sql<{ name: string; inbox_seq: string; acked_seq: string; held: string }>`
    select a.name, a.inbox_seq, a.acked_seq,
      (select count(*) from messages m where m.recipient_id = a.id and m.seq > a.acked_seq) as held
    from agents a where a.workspace_id = ${w.wsId}`.execute(t.deps.db);
  const overdue = await t.deps.db
    .selectFrom('approvals')
    .select(['id', 'expires_at'])
    .where('workspace_id', '=', w.wsId)
    .where('status', '=', 'pending')
    .where('expires_at', '<', new Date(at - STUCK_GRACE_MS))
    .execute();
  w.h.samples.push({
    at,
    agents: rows.map((r) => ({ name: r.name, inbox: Number(r.inbox_seq), acked: Number(r.acked_seq), held: Number(r.held) })),
    overdue: overdue.map((r) => ({ id: r.id, expiresAt: r.expires_at.getTime() })),
  });
}

function startSampler(w: World): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      await sample(w);
      await sleep(SAMPLE_EVERY_MS);
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

// ---------------------------------------------------------------------------------------------
// Setup, the run, and the end of the run (everyone unpaused, everything drained).

async function setUp(base: string): Promise<World> {
  const ws = await t.workspace('Fault');
  const members: Member[] = [];
  for (const [label, role] of [['approver1', 'approver'], ['approver2', 'approver'], ['owner2', 'owner']] as const) {
    const m = await ws.member(role);
    members.push({ label, ...m });
  }
  const agents: Agent[] = [];
  for (const name of [...WORKERS, HOARD]) agents.push({ name, ...(await ws.agent(name)) });
  const hoard = agents.pop()!;
  const h = new History();
  await prefill(h, ws.id, hoard, agents[0]!, CAP - PREFILL_GAP);
  return { h, wsId: ws.id, base, ownerKey: ws.ownerKey, workers: agents, hoard, members, asked: [], pause: new Map(), followUps: [], nextSession: 1 };
}

/** Fills an inbox to just under the cap straight in the tables: 9,960 sends through the API would
 *  take most of the time budget, and what is tested is the boundary, not the filling. */
async function prefill(h: History, wsId: string, recipient: Agent, sender: Agent, n: number): Promise<void> {
  await sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
            select gen_random_uuid(), ${wsId}, ${recipient.id}, ${sender.id}, s, json_build_object('tag', 'prefill#' || s)
            from generate_series(1, ${n}::int) s`.execute(t.deps.db);
  await t.deps.db.updateTable('agents').set({ inbox_seq: n, backlog_since: new Date() }).where('id', '=', recipient.id).execute();
  h.prefill.set(recipient.name, n);
}

async function runWorkload(w: World): Promise<void> {
  const end = Date.now() + RUN_MS;
  const loops: Promise<void>[] = [];
  for (const a of w.workers) {
    loops.push(senderLoop(w, a, end), askerLoop(w, a, end - ASK_UNTIL_BEFORE_END_MS), receiverLoop(w, a, end), controllerLoop(w, a, end));
  }
  loops.push(controllerLoop(w, w.hoard, end), syncSession(w, w.hoard, rngFor('receiver:hoard'), end, HOARD_SYNC));
  loops.push(racerLoop(w, 'r1', end), racerLoop(w, 'r2', end));
  await Promise.all(loops);
  await Promise.all(w.followUps);
}

async function inboxSeqs(wsId: string): Promise<Map<string, number>> {
  const rows = await t.deps.db.selectFrom('agents').select(['name', 'inbox_seq']).where('workspace_id', '=', wsId).execute();
  return new Map(rows.map((r) => [r.name, Number(r.inbox_seq)]));
}

/** A last stream per agent after the unpause: the held backlog must drain, in order. */
async function finalStreamDrain(w: World, a: Agent, last: number): Promise<void> {
  const conn = await openStream(w, a);
  if (!conn) return;
  let acked = conn.ready.acked_seq as number;
  await until(() => {
    if (conn.highest > acked) ackOnStream(w, conn, (acked = conn.highest));
    return Math.max(acked, conn.highest) >= last || conn.closed !== undefined;
  }, 15_000);
  await closeStream(w, conn, 'close');
}

async function finalSyncDrain(w: World, a: Agent): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const op = await w.h.http('message.read', a.name, 'GET', '/v1/messages?limit=1000', a.key, undefined, { agent: a.name });
    op.req = { after: undefined, limit: 1000, wait: 0 };
    const data: any[] = op.status === 200 ? op.body.data : [];
    if (!data.length) return;
    await restAck(w, a, data[data.length - 1].seq);
  }
}

async function windDown(w: World): Promise<void> {
  // Every pause ends here, so everything acknowledged must now reach its recipient.
  for (const a of [...w.workers, w.hoard]) if (w.pause.get(a.name)) await control(w, a, 'unpause');
  const last = await inboxSeqs(w.wsId);
  await Promise.all([...w.workers.map((a) => finalStreamDrain(w, a, last.get(a.name) ?? 0)), finalSyncDrain(w, w.hoard)]);
  // Past every deadline plus the grace, no approval may still be pending (the sampler watches).
  const lastDeadline = Math.max(0, ...w.asked.map((x) => x.expiresAt));
  await sleep(Math.max(0, lastDeadline + STUCK_GRACE_MS + 2 * SAMPLE_EVERY_MS - Date.now()));
}

// ---------------------------------------------------------------------------------------------
// What Postgres holds at the end.

interface StoredApproval {
  status: string;
  choice: string | null;
  responder: any;
  viaTimeout: boolean;
  expiresAt: number;
  responseAt: number | null;
  agentId: string | null;
}

interface Snapshot {
  approvals: Map<string, StoredApproval>;
  /** recipient name → seq → the stored message */
  messages: Map<string, Map<number, { id: string; sender: string; tag: string | null }>>;
  agents: Map<string, { id: string; inbox: number; acked: number; pause: PauseState }>;
  /** pause_id → the pause_request.* event types in the outbox */
  approvalEvents: Map<string, string[]>;
}

async function snapshot(wsId: string): Promise<Snapshot> {
  const db = t.deps.db;
  const approvals = await db.selectFrom('approvals').selectAll().where('workspace_id', '=', wsId).execute();
  const { rows: messages } = await sql<{ id: string; seq: string; recipient: string; sender: string; tag: string | null }>`
    select m.id, m.seq, r.name as recipient, s.name as sender, m.body->>'tag' as tag
    from messages m join agents r on r.id = m.recipient_id join agents s on s.id = m.sender_id
    where m.workspace_id = ${wsId}`.execute(db);
  const agents = await db.selectFrom('agents').select(['id', 'name', 'inbox_seq', 'acked_seq', 'pause_mode']).where('workspace_id', '=', wsId).execute();
  const events = await db.selectFrom('outbox').select(['type', 'payload']).where('workspace_id', '=', wsId).where('type', 'like', 'pause_request.%').execute();
  const snap: Snapshot = { approvals: new Map(), messages: new Map(), agents: new Map(), approvalEvents: new Map() };
  for (const r of approvals) {
    snap.approvals.set(r.id, {
      status: r.status,
      choice: r.response_choice,
      responder: r.responder,
      viaTimeout: r.via_timeout,
      expiresAt: r.expires_at.getTime(),
      responseAt: r.response_at?.getTime() ?? null,
      agentId: r.agent_id,
    });
  }
  for (const m of messages) {
    const inbox = snap.messages.get(m.recipient) ?? new Map();
    inbox.set(Number(m.seq), { id: m.id, sender: m.sender, tag: m.tag });
    snap.messages.set(m.recipient, inbox);
  }
  for (const a of agents) snap.agents.set(a.name, { id: a.id, inbox: Number(a.inbox_seq), acked: Number(a.acked_seq), pause: a.pause_mode as PauseState });
  for (const e of events) {
    const id = (e.payload as any).data?.pause_id as string;
    snap.approvalEvents.set(id, [...(snap.approvalEvents.get(id) ?? []), e.type]);
  }
  return snap;
}

// ---------------------------------------------------------------------------------------------
// Violations and how they read.

interface Violation {
  what: string;
  ops?: Op[];
  frames?: FrameRec[];
}

const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}…` : s);

function describeOp(h: History, op: Op): string {
  const when = `+${op.invokedAt - h.t0}..+${op.completedAt - h.t0}ms`;
  const what = op.method ? `${op.method} ${op.url}` : op.kind;
  return `op#${op.n} [${when}] ${op.actor} ${what} ${op.req === undefined ? '' : clip(JSON.stringify(op.req), 120)} → ${op.status} ${clip(JSON.stringify(op.body) ?? '')}`;
}

function describeFrame(h: History, f: FrameRec): string {
  return `frame [+${f.at - h.t0}ms] ${f.agent} stream#${f.session} ${clip(JSON.stringify(f.frame))}`;
}

let dumped = false;
function dumpHistory(h: History): string {
  const path = `artifacts/fault-history-${SEED}.json`;
  if (!dumped) {
    mkdirSync('artifacts', { recursive: true });
    writeFileSync(path, JSON.stringify({ seed: SEED, t0: h.t0, ops: h.ops, frames: h.frames, samples: h.samples }, null, 1));
    dumped = true;
  }
  return path;
}

function assertNone(h: History, check: string, violations: Violation[]): void {
  if (!violations.length) return;
  const shown = violations.slice(0, 15).map((v, i) => {
    const lines = [...(v.ops ?? []).map((op) => describeOp(h, op)), ...(v.frames ?? []).map((f) => describeFrame(h, f))];
    return [`${i + 1}. ${v.what}`, ...lines.map((l) => `     ${l}`)].join('\n');
  });
  const more = violations.length > 15 ? `\n… and ${violations.length - 15} more` : '';
  throw new Error(`${check}: ${violations.length} violation(s), seed ${SEED} (replay: FAULT_SEED=${SEED}; history in ${dumpHistory(h)})\n${shown.join('\n')}${more}`);
}

// ---------------------------------------------------------------------------------------------
// Small queries over the history.

const opsOf = (h: History, kind: OpKind, pred: (op: Op) => boolean = () => true) => h.ops.filter((op) => op.kind === kind && pred(op));
const errorCode = (op: Op): string | undefined => op.body?.error?.code;
const isPausedRefusal = (op: Op) => op.status === 403 && errorCode(op) === 'AGENT_PAUSED_BY_OWNER';

/** The highest acked_seq a REST ack confirmed for `agent` before `t`: acked_seq is at least this from then on. */
function confirmedAckBefore(h: History, agent: string, t: number): number {
  let best = 0;
  for (const op of opsOf(h, 'message.ack', (o) => o.agent === agent && o.status === 200 && o.completedAt < t)) best = Math.max(best, op.body.acked_seq);
  return best;
}

/** The highest seq any ack (REST or stream) asked for before `t`: acked_seq can be at most this then. */
function ackRequestedBefore(h: History, agent: string, t: number): number {
  let best = 0;
  for (const op of h.ops) {
    if ((op.kind === 'message.ack' || op.kind === 'stream.ack') && op.agent === agent && op.invokedAt < t) best = Math.max(best, op.req.seq);
  }
  return best;
}

const asAsked = (h: History): { op: Op; id: string; expiresAt: number; asker: string; timeoutDefault: string | null }[] =>
  opsOf(h, 'approval.create', (o) => o.status === 201).map((op) => ({
    op,
    id: op.body.pause_id,
    expiresAt: Date.parse(op.body.expires_at),
    asker: op.agent!,
    timeoutDefault: op.req.timeout_default ?? null,
  }));

// ---------------------------------------------------------------------------------------------
// Check 1: one terminal state per approval.

/** What a decision that won should have left in the row. */
function expectedOutcome(win: Op): { status: string; choice?: string; member?: string } {
  if (win.kind === 'approval.cancel') return { status: 'cancelled' };
  return { status: 'responded', choice: win.req.choice, member: win.member };
}

/** A loser's 409 names what came first; it must name the outcome the row ended with. */
function loserMessageFits(message: string, row: { status: string; choice: string | null }): boolean {
  if (row.status === 'responded') return message.startsWith('Already decided by ') && message.endsWith(`: ${row.choice}`);
  if (row.status === 'timed_out') return message.startsWith('Already timed out at ') || message.startsWith('Timed out at ');
  return message === 'Already cancelled';
}

function checkApprovals(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const a of asAsked(h)) {
    const row = snap.approvals.get(a.id);
    if (!row) continue; // check 2 reports it
    const decisions = h.ops.filter((o) => (o.kind === 'approval.respond' || o.kind === 'approval.cancel') && o.approval === a.id);
    const wins = decisions.filter((o) => o.status === 200);
    const where = `approval ${a.id} (asked by ${a.asker}, expires +${a.expiresAt - h.t0}ms, final ${row.status}${row.choice ? ` "${row.choice}"` : ''})`;
    if (wins.length > 1) out.push({ what: `${where}: ${wins.length} decisions acknowledged with 200`, ops: wins });
    for (const lose of decisions.filter((o) => o.status !== 200)) {
      if (lose.status !== 409 || errorCode(lose) !== 'not_pending') out.push({ what: `${where}: a losing decision got ${lose.status} ${errorCode(lose)}, not 409 not_pending`, ops: [lose] });
      else if (!loserMessageFits(lose.body.error.message, row)) out.push({ what: `${where}: a loser was told something other than the final outcome`, ops: [lose] });
    }
    const win = wins[0];
    if (win) {
      const want = expectedOutcome(win);
      if (row.status !== want.status || (want.choice !== undefined && row.choice !== want.choice) || (want.member !== undefined && row.responder?.member_id !== want.member)) {
        out.push({ what: `${where}: the acknowledged decision is not the recorded one (want ${JSON.stringify(want)}, row has responder ${JSON.stringify(row.responder)})`, ops: [win] });
      }
      if (win.body.status !== want.status) out.push({ what: `${where}: the 200 body says ${win.body.status}`, ops: [win] });
      if (win.invokedAt >= a.expiresAt) out.push({ what: `${where}: decided by a request that arrived after expires_at`, ops: [win] });
    } else if (row.status === 'responded' || row.status === 'cancelled') {
      out.push({ what: `${where}: ${row.status} in Postgres, but no client was told 200`, ops: decisions });
    }
    if (row.status === 'pending') out.push({ what: `${where}: still pending ${Date.now() - a.expiresAt} ms after expires_at`, ops: [a.op] });
    out.push(...checkTimeout(where, a, row));
    out.push(...checkObservations(h, where, a, row, win));
    const events = snap.approvalEvents.get(a.id) ?? [];
    if (row.status !== 'pending' && (events.length !== 1 || events[0] !== `pause_request.${row.status}`)) {
      out.push({ what: `${where}: outbox has terminal events ${JSON.stringify(events)}, want exactly one pause_request.${row.status}` });
    }
  }
  out.push(...checkNeverStuck(h));
  return out;
}

function checkTimeout(where: string, a: { expiresAt: number; timeoutDefault: string | null; op: Op }, row: StoredApproval): Violation[] {
  if (row.status !== 'timed_out') return row.viaTimeout ? [{ what: `${where}: via_timeout is true on a ${row.status} approval`, ops: [a.op] }] : [];
  const problems: string[] = [];
  if (!row.viaTimeout) problems.push('via_timeout is false');
  if (row.choice !== a.timeoutDefault) problems.push(`response_choice ${JSON.stringify(row.choice)} is not the timeout_default ${JSON.stringify(a.timeoutDefault)}`);
  if (row.responder !== null) problems.push(`responder ${JSON.stringify(row.responder)} is set`);
  if (row.responseAt === null || row.responseAt < a.expiresAt) problems.push(`response_at ${row.responseAt} is before expires_at ${a.expiresAt}`);
  return problems.map((p) => ({ what: `${where}: timed out, but ${p}`, ops: [a.op] }));
}

/** Reads of an approval: a settled status never changes, and pending is never shown after the
 *  deadline or after a decision was acknowledged. */
function checkObservations(h: History, where: string, a: { id: string; expiresAt: number }, row: { status: string; choice: string | null }, win: Op | undefined): Violation[] {
  const out: Violation[] = [];
  for (const get of opsOf(h, 'approval.get', (o) => o.approval === a.id)) {
    if (get.status !== 200) {
      out.push({ what: `${where}: a read failed`, ops: [get] });
      continue;
    }
    const seen = get.body;
    if (seen.status === 'pending') {
      if (get.invokedAt >= a.expiresAt) out.push({ what: `${where}: shown pending to a read made after expires_at`, ops: [get] });
      if (win && get.invokedAt > win.completedAt) out.push({ what: `${where}: shown pending after the decision was acknowledged`, ops: [win, get] });
    } else if (seen.status !== row.status || seen.response_choice !== row.choice) {
      out.push({ what: `${where}: a read saw ${seen.status} ${JSON.stringify(seen.response_choice)}, which is not the terminal state`, ops: [get] });
    }
  }
  return out;
}

function checkNeverStuck(h: History): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const s of h.samples) {
    for (const o of s.overdue) {
      if (seen.has(o.id)) continue;
      seen.add(o.id);
      out.push({ what: `approval ${o.id} was pending in Postgres at +${s.at - h.t0}ms, ${s.at - o.expiresAt} ms past expires_at (grace ${STUCK_GRACE_MS} ms)` });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Check 2: nothing acknowledged is lost; nothing refused is stored.

function checkApprovalsStored(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const a of asAsked(h)) {
    const row = snap.approvals.get(a.id);
    if (!row) out.push({ what: `approval ${a.id} was acknowledged 201 but is not in Postgres`, ops: [a.op] });
    else if (row.agentId !== snap.agents.get(a.asker)?.id) out.push({ what: `approval ${a.id} is stored for agent ${row.agentId}, not its asker`, ops: [a.op] });
  }
  return out;
}

function checkMessagesStored(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  const storedTags = new Set<string>();
  for (const inbox of snap.messages.values()) for (const m of inbox.values()) if (m.tag) storedTags.add(m.tag);
  const bySeq = new Map<string, Op>();
  for (const op of opsOf(h, 'message.send')) {
    if (op.status !== 202) {
      if (storedTags.has(op.tag!)) out.push({ what: `message ${op.tag} was refused (${op.status}) but is stored`, ops: [op] });
      continue;
    }
    const key = `${op.to}:${op.body.seq}`;
    const twin = bySeq.get(key);
    if (twin) out.push({ what: `two sends acknowledged with the same seq ${op.body.seq} to ${op.to}`, ops: [twin, op] });
    bySeq.set(key, op);
    const stored = snap.messages.get(op.to!)?.get(op.body.seq);
    if (!stored) out.push({ what: `message ${op.tag} was acknowledged 202 as seq ${op.body.seq} to ${op.to} but is not in Postgres`, ops: [op] });
    else if (stored.id !== op.body.id || stored.tag !== op.tag) out.push({ what: `seq ${op.body.seq} to ${op.to} holds ${stored.tag} (${stored.id}), not the acknowledged ${op.tag} (${op.body.id})`, ops: [op] });
    if (op.body.to !== snap.agents.get(op.to!)?.id) out.push({ what: `message ${op.tag} was acknowledged for recipient id ${op.body.to}, not ${op.to}`, ops: [op] });
  }
  return out;
}

function checkAcknowledgedDelivered(h: History): Violation[] {
  const out: Violation[] = [];
  const delivered = new Map<string, Set<number>>();
  for (const b of deliveries(h)) {
    const set = delivered.get(b.agent) ?? new Set();
    for (const m of b.msgs) set.add(m.seq);
    delivered.set(b.agent, set);
  }
  for (const op of opsOf(h, 'message.send', (o) => o.status === 202)) {
    if (!delivered.get(op.to!)?.has(op.body.seq)) out.push({ what: `message ${op.tag} (seq ${op.body.seq} to ${op.to}) was acknowledged but never delivered, even after everyone was unpaused`, ops: [op] });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Check 3: per recipient, delivery is gapless and in seq order; only unacknowledged messages come again.

interface Batch {
  agent: string;
  via: 'stream' | 'sync';
  /** When it was asked for: the stream's open, or the read's invocation. */
  startedAt: number;
  /** Where it must start: after the stream's ready acked_seq, or the read's explicit `after`. */
  after: number | undefined;
  msgs: { seq: number; id: string; from: string; tag?: string }[];
  ops: Op[];
  frames: FrameRec[];
}

/** Every delivery an agent saw, as batches in the order it asked for them (one receiver at a time per agent). */
function deliveries(h: History): Batch[] {
  const batches: Batch[] = [];
  for (const op of opsOf(h, 'message.read', (o) => o.status === 200)) {
    batches.push({ agent: op.agent!, via: 'sync', startedAt: op.invokedAt, after: op.req.after, msgs: op.body.data.map(asDelivered), ops: [op], frames: [] });
  }
  for (const open of opsOf(h, 'stream.open', (o) => o.status === 101)) {
    const frames = h.frames.filter((f) => f.session === open.session && f.frame.type === 'message');
    batches.push({ agent: open.agent!, via: 'stream', startedAt: open.invokedAt, after: open.body.acked_seq, msgs: frames.map((f) => asDelivered(f.frame.message)), ops: [open], frames });
  }
  return batches.sort((x, y) => x.startedAt - y.startedAt);
}

const asDelivered = (m: any) => ({ seq: m.seq as number, id: m.id as string, from: m.from as string, tag: m.body?.tag as string | undefined });

function checkBatch(b: Batch, highestBefore: number, confirmedAck: number): string[] {
  const problems: string[] = [];
  const seqs = b.msgs.map((m) => m.seq);
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1]! + 1) problems.push(`seq ${seqs[i]} came right after ${seqs[i - 1]} (a ${seqs[i]! <= seqs[i - 1]! ? 'repeat or reorder' : 'gap'})`);
  }
  const first = b.after !== undefined ? b.after + 1 : seqs[0];
  if (b.after !== undefined && seqs.length && seqs[0] !== b.after + 1) problems.push(`started at seq ${seqs[0]}, not right after ${b.after}`);
  if (first !== undefined && first > highestBefore + 1) problems.push(`skipped seq ${highestBefore + 1}..${first - 1}: nothing above ${highestBefore} had been delivered`);
  // Redelivery is allowed only of what was not acknowledged (a sync read with an explicit `after` asks for it).
  const fromServerCursor = b.via === 'stream' || b.after === undefined;
  if (fromServerCursor && seqs.length && seqs[0]! <= confirmedAck) problems.push(`redelivered seq ${seqs[0]}, although acked_seq ${confirmedAck} had been confirmed`);
  if (b.via === 'stream' && b.after! < confirmedAck) problems.push(`ready said acked_seq ${b.after}, below the ${confirmedAck} already confirmed (acks moved backwards)`);
  return problems;
}

function checkDeliveryOrder(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  const perAgent = new Map<string, Batch[]>();
  for (const b of deliveries(h)) perAgent.set(b.agent, [...(perAgent.get(b.agent) ?? []), b]);
  for (const [name, agent] of snap.agents) {
    let highest = 0;
    const seen = new Set<number>();
    for (const b of perAgent.get(name) ?? []) {
      for (const p of checkBatch(b, highest, confirmedAckBefore(h, name, b.startedAt))) out.push({ what: `${name}, ${b.via} delivery: ${p}`, ops: b.ops, frames: b.frames.slice(0, 12) });
      for (const m of b.msgs) {
        const stored = snap.messages.get(name)?.get(m.seq);
        if (!stored || stored.id !== m.id) out.push({ what: `${name}: seq ${m.seq} was delivered as message ${m.id} (${m.tag}), but seq ${m.seq} is ${stored ? `${stored.id} (${stored.tag})` : 'not stored'}`, ops: b.ops });
        seen.add(m.seq);
        highest = Math.max(highest, m.seq);
      }
    }
    const missing = [];
    for (let s = 1; s <= agent.inbox; s++) if (!seen.has(s)) missing.push(s);
    if (missing.length) out.push({ what: `${name} never saw ${missing.length} of seq 1..${agent.inbox}: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}` });
    if (highest > agent.inbox) out.push({ what: `${name} was delivered seq ${highest}, beyond inbox_seq ${agent.inbox}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Check 4: the cap. Held = stored and not acknowledged.

function checkCap(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const s of h.samples) {
    for (const a of s.agents) {
      if (a.held > CAP || a.inbox - a.acked > CAP) out.push({ what: `at +${s.at - h.t0}ms ${a.name} held ${a.held} messages (inbox_seq ${a.inbox}, acked_seq ${a.acked}), over the cap ${CAP}` });
    }
  }
  for (const [name, a] of snap.agents) if (a.inbox - a.acked > CAP) out.push({ what: `at the end ${name} holds ${a.inbox - a.acked}, over the cap` });
  // Accepted: at commit, seq - acked_seq <= cap, and acked_seq was at most what had been acked by then.
  for (const op of opsOf(h, 'message.send', (o) => o.status === 202)) {
    const ackedAtMost = ackRequestedBefore(h, op.to!, op.completedAt);
    if (op.body.seq - ackedAtMost > CAP) out.push({ what: `seq ${op.body.seq} to ${op.to} was accepted while acked_seq was at most ${ackedAtMost}: ${op.body.seq - ackedAtMost} held`, ops: [op] });
  }
  out.push(...checkBackloggedRefusals(h));
  return out;
}

/** The cap is exact: a 429 is wrong if the inbox could not have been full when it was decided. */
function checkBackloggedRefusals(h: History): Violation[] {
  const out: Violation[] = [];
  for (const op of opsOf(h, 'message.send', (o) => o.status === 429)) {
    let inboxAtMost = h.prefill.get(op.to!) ?? 0;
    for (const s of opsOf(h, 'message.send', (o) => o.status === 202 && o.to === op.to && o.invokedAt < op.completedAt)) inboxAtMost = Math.max(inboxAtMost, s.body.seq);
    const ackedAtLeast = confirmedAckBefore(h, op.to!, op.invokedAt);
    if (inboxAtMost - ackedAtLeast < CAP) out.push({ what: `refused RECIPIENT_BACKLOGGED while ${op.to} held at most ${inboxAtMost - ackedAtLeast} (inbox_seq ≤ ${inboxAtMost}, acked_seq ≥ ${ackedAtLeast})`, ops: [op] });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checks 5 and 6: pauses. The owner's controller changes one agent's pause at a time, so its 200s
// cut that agent's history into segments of known state: from one change's 200 to the next
// change's invocation. Between a change's invocation and its 200 the state is in flux.

interface Segment {
  state: PauseState | 'unknown';
  from: number;
  to: number;
  /** The change that began it (undefined for the initial, unpaused segment). */
  opened?: Op;
}

function pauseSegments(h: History, agent: string): Segment[] {
  const changes = h.ops.filter((o) => (o.kind === 'agent.pause' || o.kind === 'agent.unpause') && o.agent === agent && o.status !== 409);
  const segments: Segment[] = [];
  let current: Segment = { state: null, from: -Infinity, to: Infinity };
  for (const op of changes) {
    segments.push({ ...current, to: op.invokedAt });
    // A failure other than 409 may or may not have committed.
    const state: Segment['state'] = op.status !== 200 ? 'unknown' : op.kind === 'agent.unpause' ? null : op.body.pause.mode;
    current = { state, from: op.completedAt, to: Infinity, opened: op };
  }
  segments.push(current);
  return segments;
}

const within = (s: Segment, op: Op) => op.invokedAt > s.from && op.completedAt < s.to;

function checkNoDeliveryUnderFullPause(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const name of snap.agents.keys()) {
    for (const s of pauseSegments(h, name).filter((x) => x.state === 'full')) {
      const pushed = h.frames.filter((f) => f.agent === name && f.frame.type === 'message' && f.at > s.from && f.at < s.to);
      if (pushed.length) out.push({ what: `${name}: ${pushed.length} message frame(s) arrived after its full pause was acknowledged and before it was released`, ops: s.opened ? [s.opened] : [], frames: pushed.slice(0, 10) });
      for (const read of opsOf(h, 'message.read', (o) => o.agent === name && o.status === 200 && o.body.data.length > 0 && within(s, o))) {
        out.push({ what: `${name}: a sync read made and answered under its full pause returned ${read.body.data.length} message(s)`, ops: [...(s.opened ? [s.opened] : []), read] });
      }
    }
  }
  return out;
}

/** The controller's view of the pause (a single writer) must match every answer Leash gave it,
 *  and what Postgres holds at the end. */
function checkPauseStateMachine(h: History, agent: string, stored: PauseState): Violation[] {
  const out: Violation[] = [];
  let state: PauseState = null;
  for (const op of h.ops.filter((o) => (o.kind === 'agent.pause' || o.kind === 'agent.unpause') && o.agent === agent)) {
    const mode: PauseState = op.kind === 'agent.unpause' ? null : op.req.mode;
    const redundant = mode === state;
    const want = redundant ? [409, op.kind === 'agent.unpause' ? 'not_paused' : 'already_paused'] : [200, undefined];
    if (op.status !== want[0] || errorCode(op) !== want[1]) out.push({ what: `${agent} was ${state ?? 'unpaused'}; ${op.kind} ${mode ?? ''} should get ${want.join(' ')}`, ops: [op] });
    if (op.status === 200) {
      state = op.body.pause?.mode ?? null;
      if (state !== mode) out.push({ what: `${agent}: ${op.kind} ${mode ?? ''} answered 200 with pause ${JSON.stringify(op.body.pause)}`, ops: [op] });
    }
  }
  if (stored !== state) out.push({ what: `${agent}: Postgres ends with pause ${stored ?? 'none'}, but the last acknowledged change left ${state ?? 'none'}` });
  return out;
}

/** A paused agent (either mode) may not send or ask; an unpaused one is never refused as paused. */
function checkPauseGate(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const [name, stored] of snap.agents) {
    out.push(...checkPauseStateMachine(h, name, stored.pause));
    const outbound = h.ops.filter((o) => (o.kind === 'message.send' || o.kind === 'approval.create') && o.agent === name);
    for (const s of pauseSegments(h, name)) {
      if (s.state === 'unknown') continue;
      for (const op of outbound.filter((o) => within(s, o))) {
        if (s.state !== null && !isPausedRefusal(op)) out.push({ what: `${name} was paused (${s.state}) for the whole of this ${op.kind}, which got ${op.status}`, ops: [...(s.opened ? [s.opened] : []), op] });
        if (s.state === null && isPausedRefusal(op)) out.push({ what: `${name} was unpaused for the whole of this ${op.kind}, refused as paused`, ops: [...(s.opened ? [s.opened] : []), op] });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

describe(`history of a mixed random workload (seed ${SEED})`, () => {
  let w: World;
  let snap: Snapshot;
  let base = '';

  beforeAll(async () => {
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });

  it('runs approvals, messages, pauses, streams and sync polling concurrently, then unpauses and drains', async () => {
    console.log(`history checker: seed ${SEED} (replay with FAULT_SEED=${SEED})`);
    await startWorker();
    const phases: string[] = [];
    let mark = Date.now();
    const phase = (name: string) => {
      phases.push(`${name} ${((Date.now() - mark) / 1000).toFixed(1)}s`);
      mark = Date.now();
    };
    w = await setUp(base);
    phase('setup');
    const stopSampling = startSampler(w);
    try {
      await runWorkload(w);
      phase('run');
      await windDown(w);
      phase('wind-down');
    } finally {
      await stopSampling();
    }
    snap = await snapshot(w.wsId);
    phase('snapshot');
    const count = (kind: OpKind, status?: number) => opsOf(w.h, kind, (o) => status === undefined || o.status === status).length;
    const outcomes = [...snap.approvals.values()].reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
    console.log(
      `history: ${w.h.ops.length} ops, ${w.h.frames.length} frames, ${w.h.samples.length} samples; ` +
        `sends ${count('message.send', 202)} accepted / ${count('message.send', 429)} backlogged / ${count('message.send', 403)} paused; ` +
        `approvals ${JSON.stringify(outcomes)}, ${count('approval.respond')} answers, ${count('approval.cancel')} cancels; ` +
        `pauses ${count('agent.pause', 200)}, unpauses ${count('agent.unpause', 200)}, streams ${count('stream.open', 101)}, sync reads ${count('message.read')}; ` +
        phases.join(', '),
    );
    // The workload must have exercised what the checks are about, or they prove little.
    expect(count('message.send', 202)).toBeGreaterThan(50);
    expect(count('message.send', 429), 'the held inbox reached the cap').toBeGreaterThan(0);
    expect(count('agent.pause', 200)).toBeGreaterThan(5);
    expect(count('stream.open', 101)).toBeGreaterThan(5);
    expect(outcomes.responded, 'some approvals were answered').toBeGreaterThan(0);
    expect(outcomes.timed_out, 'some approvals timed out').toBeGreaterThan(0);
    expect(count('approval.cancel'), 'some cancels were tried').toBeGreaterThan(0);
  }, 90_000);

  it('1. each approval has one terminal state: one acknowledged decision at most, losers 409 not_pending, timeouts with via_timeout and the default, none stuck', () => {
    assertNone(w.h, 'one terminal state per approval', checkApprovals(w.h, snap));
  });

  it('2. no acknowledged write is lost: every 201/202 is stored as acknowledged and every message delivered; nothing refused is stored', () => {
    assertNone(w.h, 'no lost acknowledged writes', [...checkApprovalsStored(w.h, snap), ...checkMessagesStored(w.h, snap), ...checkAcknowledgedDelivered(w.h)]);
  });

  it('3. each recipient sees seq 1..n in order, without gaps; only unacknowledged messages come again after a reconnect', () => {
    assertNone(w.h, 'gapless ordered delivery', checkDeliveryOrder(w.h, snap));
  });

  it(`4. no inbox ever holds more than the cap (${CAP}), and a sender is refused only at the cap`, () => {
    assertNone(w.h, 'backlog cap', checkCap(w.h, snap));
  });

  it('5. nothing is delivered (stream or sync) after a full pause is acknowledged and before it is released', () => {
    assertNone(w.h, 'no delivery under full pause', checkNoDeliveryUnderFullPause(w.h, snap));
  });

  it('6. pause answers follow the pause state; a paused agent can neither send nor ask, an unpaused one is never refused as paused', () => {
    assertNone(w.h, 'pause gate', checkPauseGate(w.h, snap));
  });
});
