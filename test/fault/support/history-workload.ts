// The workload of the history checker (history.test.ts): the seed and its per-actor PRNG streams,
// the recorded history and the world it runs in, the actors, set-up, wind-down, and a snapshot of
// what Postgres holds at the end. The test app `t` is passed in: useTestApp registers vitest hooks,
// so it is called at the test file's top level.
import { sql } from 'kysely';
import WebSocket from 'ws';
import type { TestApp } from '../../support/app.js';

export const SEED = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isSafeInteger(SEED)) throw new Error(`FAULT_SEED must be an integer, not ${process.env.FAULT_SEED}`);
export const RUN_MS = 12_000;
/** Askers stop this much earlier (the longest timeout), so every deadline falls within the run. */
const ASK_UNTIL_BEFORE_END_MS = 3_000;
export const CAP = 10_000;
/** The held inbox starts this far below the cap, so senders reach it within a second or two. */
const PREFILL_GAP = 10;
/** How late past expires_at an approval may still be pending (read straight from Postgres, which
 *  no GET can settle) before it counts as stuck: the worker's timer fires at expires_at. */
export const STUCK_GRACE_MS = 4_000;
const SAMPLE_EVERY_MS = 250;
const WORKERS = ['a0', 'a1', 'a2', 'a3', 'a4'] as const;
const HOARD = 'hoard';

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

export type OpKind =
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

export interface Op {
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

export interface FrameRec {
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

/** An HTTP call to some Leash web process: its status and parsed JSON body. */
export type Transport = (
  method: string,
  url: string,
  key: string,
  body: unknown,
) => Promise<{ status: number; body: any }>;

export class History {
  readonly ops: Op[] = [];
  readonly frames: FrameRec[] = [];
  readonly samples: Sample[] = [];
  /** Messages written straight into an inbox before the run (not through the API). */
  readonly prefill = new Map<string, number>();
  readonly t0 = Date.now();
  private readonly t: TestApp;
  private readonly via: Transport | undefined;

  /** Calls go through inject() into the test's app, or through `via` (real processes). */
  constructor(t: TestApp, via?: Transport) {
    this.t = t;
    this.via = via;
  }

  begin(kind: OpKind, actor: string, fields: Partial<Op> = {}): Op {
    const op: Op = {
      n: this.ops.length,
      kind,
      actor,
      invokedAt: Date.now(),
      completedAt: NaN,
      status: 0,
      body: undefined,
      ...fields,
    };
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
  async http(
    kind: OpKind,
    actor: string,
    method: string,
    url: string,
    key: string,
    body: unknown,
    fields: Partial<Op> = {},
  ): Promise<Op> {
    const op = this.begin(kind, actor, { method, url, req: body, ...fields });
    let res: { status: number; body: any };
    try {
      res = this.via ? await this.via(method, url, key, body) : await this.t.call(method, url, { key, body });
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

export type PauseState = null | 'send' | 'full';

export interface World {
  t: TestApp;
  h: History;
  wsId: string;
  /** The web processes' URLs: streams open on each in turn. */
  bases: string[];
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
  const base = w.bases[session % w.bases.length]!;
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/stream`, {
    headers: { authorization: `Bearer ${a.key}` },
  });
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
    await w.h.http(
      'message.send',
      a.name,
      'POST',
      '/v1/messages',
      a.key,
      { to, body: { tag } },
      { agent: a.name, to, tag },
    );
    await sleep(rng.int(10, 60));
  }
}

const OPTION_SETS = [
  ['Approve', 'Reject'],
  ['Yes', 'No', 'Later'],
  ['Wire', 'Hold', 'Escalate', 'Refund'],
];

type FollowUp =
  | { kind: 'wait'; seconds: number }
  | { kind: 'peek'; fromDeadlineMs: number }
  | { kind: 'cancel'; afterMs: number }
  | { kind: 'none' };

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
  if (what.kind === 'wait')
    await w.h.http(
      'approval.get',
      asked.asker.name,
      'GET',
      `${path}?wait=${what.seconds}`,
      asked.asker.key,
      undefined,
      fields,
    );
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
          return () =>
            w.h.http(
              'approval.respond',
              m.label,
              'POST',
              `${path}/respond`,
              m.key,
              { choice },
              { ...fields, member: m.id },
            );
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
      : await w.h.http(
          'agent.pause',
          'owner',
          'POST',
          `/v1/agents/${a.id}/pause`,
          w.ownerKey,
          { mode: action === 'pause-full' ? 'full' : 'send', reason: `seed ${SEED}` },
          fields,
        );
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
    from agents a where a.workspace_id = ${w.wsId}`.execute(w.t.deps.db);
  const overdue = await w.t.deps.db
    .selectFrom('approvals')
    .select(['id', 'expires_at'])
    .where('workspace_id', '=', w.wsId)
    .where('status', '=', 'pending')
    .where('expires_at', '<', new Date(at - STUCK_GRACE_MS))
    .execute();
  w.h.samples.push({
    at,
    agents: rows.map((r) => ({
      name: r.name,
      inbox: Number(r.inbox_seq),
      acked: Number(r.acked_seq),
      held: Number(r.held),
    })),
    overdue: overdue.map((r) => ({ id: r.id, expiresAt: r.expires_at.getTime() })),
  });
}

export function startSampler(w: World): () => Promise<void> {
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

export async function setUp(t: TestApp, bases: string[], via?: Transport): Promise<World> {
  const ws = await t.workspace('Fault');
  const members: Member[] = [];
  for (const [label, role] of [
    ['approver1', 'approver'],
    ['approver2', 'approver'],
    ['owner2', 'owner'],
  ] as const) {
    const m = await ws.member(role);
    members.push({ label, ...m });
  }
  const agents: Agent[] = [];
  for (const name of [...WORKERS, HOARD]) agents.push({ name, ...(await ws.agent(name)) });
  const hoard = agents.pop()!;
  const h = new History(t, via);
  await prefill(t, h, ws.id, hoard, agents[0]!, CAP - PREFILL_GAP);
  return {
    t,
    h,
    wsId: ws.id,
    bases,
    ownerKey: ws.ownerKey,
    workers: agents,
    hoard,
    members,
    asked: [],
    pause: new Map(),
    followUps: [],
    nextSession: 1,
  };
}

/** Fills an inbox to just under the cap straight in the tables: 9,960 sends through the API would
 *  take most of the time budget, and what is tested is the boundary, not the filling. */
async function prefill(
  t: TestApp,
  h: History,
  wsId: string,
  recipient: Agent,
  sender: Agent,
  n: number,
): Promise<void> {
  await sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
            select gen_random_uuid(), ${wsId}, ${recipient.id}, ${sender.id}, s, json_build_object('tag', 'prefill#' || s)
            from generate_series(1, ${n}::int) s`.execute(t.deps.db);
  await t.deps.db
    .updateTable('agents')
    .set({ inbox_seq: n, backlog_since: new Date() })
    .where('id', '=', recipient.id)
    .execute();
  h.prefill.set(recipient.name, n);
}

export async function runWorkload(w: World): Promise<void> {
  const end = Date.now() + RUN_MS;
  const loops: Promise<void>[] = [];
  for (const a of w.workers) {
    loops.push(
      senderLoop(w, a, end),
      askerLoop(w, a, end - ASK_UNTIL_BEFORE_END_MS),
      receiverLoop(w, a, end),
      controllerLoop(w, a, end),
    );
  }
  loops.push(controllerLoop(w, w.hoard, end), syncSession(w, w.hoard, rngFor('receiver:hoard'), end, HOARD_SYNC));
  loops.push(racerLoop(w, 'r1', end), racerLoop(w, 'r2', end));
  await Promise.all(loops);
  await Promise.all(w.followUps);
}

async function inboxSeqs(t: TestApp, wsId: string): Promise<Map<string, number>> {
  const rows = await t.deps.db
    .selectFrom('agents')
    .select(['name', 'inbox_seq'])
    .where('workspace_id', '=', wsId)
    .execute();
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
    const op = await w.h.http('message.read', a.name, 'GET', '/v1/messages?limit=1000', a.key, undefined, {
      agent: a.name,
    });
    op.req = { after: undefined, limit: 1000, wait: 0 };
    const data: any[] = op.status === 200 ? op.body.data : [];
    if (!data.length) return;
    await restAck(w, a, data[data.length - 1].seq);
  }
}

export async function windDown(w: World): Promise<void> {
  // Every pause ends here, so everything acknowledged must now reach its recipient.
  for (const a of [...w.workers, w.hoard]) if (w.pause.get(a.name)) await control(w, a, 'unpause');
  const last = await inboxSeqs(w.t, w.wsId);
  await Promise.all([
    ...w.workers.map((a) => finalStreamDrain(w, a, last.get(a.name) ?? 0)),
    finalSyncDrain(w, w.hoard),
  ]);
  // Past every deadline plus the grace, no approval may still be pending (the sampler watches).
  const lastDeadline = Math.max(0, ...w.asked.map((x) => x.expiresAt));
  await sleep(Math.max(0, lastDeadline + STUCK_GRACE_MS + 2 * SAMPLE_EVERY_MS - Date.now()));
}

// ---------------------------------------------------------------------------------------------
// What Postgres holds at the end.

export interface StoredApproval {
  status: string;
  choice: string | null;
  responder: any;
  viaTimeout: boolean;
  expiresAt: number;
  responseAt: number | null;
  agentId: string | null;
}

export interface Snapshot {
  approvals: Map<string, StoredApproval>;
  /** recipient name → seq → the stored message */
  messages: Map<string, Map<number, { id: string; sender: string; tag: string | null }>>;
  agents: Map<string, { id: string; inbox: number; acked: number; pause: PauseState }>;
  /** pause_id → the pause_request.* event types in the outbox */
  approvalEvents: Map<string, string[]>;
}

export async function snapshot(t: TestApp, wsId: string): Promise<Snapshot> {
  const db = t.deps.db;
  const approvals = await db.selectFrom('approvals').selectAll().where('workspace_id', '=', wsId).execute();
  const { rows: messages } = await sql<{
    id: string;
    seq: string;
    recipient: string;
    sender: string;
    tag: string | null;
  }>`
    select m.id, m.seq, r.name as recipient, s.name as sender, m.body->>'tag' as tag
    from messages m join agents r on r.id = m.recipient_id join agents s on s.id = m.sender_id
    where m.workspace_id = ${wsId}`.execute(db);
  const agents = await db
    .selectFrom('agents')
    .select(['id', 'name', 'inbox_seq', 'acked_seq', 'pause_mode'])
    .where('workspace_id', '=', wsId)
    .execute();
  const events = await db
    .selectFrom('outbox')
    .select(['type', 'payload'])
    .where('workspace_id', '=', wsId)
    .where('type', 'like', 'pause_request.%')
    .execute();
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
  for (const a of agents)
    snap.agents.set(a.name, {
      id: a.id,
      inbox: Number(a.inbox_seq),
      acked: Number(a.acked_seq),
      pause: a.pause_mode as PauseState,
    });
  for (const e of events) {
    const id = (e.payload as any).data?.pause_id as string;
    snap.approvalEvents.set(id, [...(snap.approvalEvents.get(id) ?? []), e.type]);
  }
  return snap;
}
