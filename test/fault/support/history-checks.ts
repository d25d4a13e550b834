// The checks of the history checker (history.test.ts): pure functions over a recorded history and
// the final snapshot, each returning its violations, and how a violation reads when a test fails.
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  CAP,
  SEED,
  STUCK_GRACE_MS,
  type FrameRec,
  type History,
  type Op,
  type OpKind,
  type PauseState,
  type Snapshot,
  type StoredApproval,
} from './history-workload.js';

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
    writeFileSync(
      path,
      JSON.stringify({ seed: SEED, t0: h.t0, ops: h.ops, frames: h.frames, samples: h.samples }, null, 1),
    );
    dumped = true;
  }
  return path;
}

export function assertNone(h: History, check: string, violations: Violation[]): void {
  if (!violations.length) return;
  const shown = violations.slice(0, 15).map((v, i) => {
    const lines = [
      ...(v.ops ?? []).map((op) => describeOp(h, op)),
      ...(v.frames ?? []).map((f) => describeFrame(h, f)),
    ];
    return [`${i + 1}. ${v.what}`, ...lines.map((l) => `     ${l}`)].join('\n');
  });
  const more = violations.length > 15 ? `\n… and ${violations.length - 15} more` : '';
  throw new Error(
    `${check}: ${violations.length} violation(s), seed ${SEED} (replay: FAULT_SEED=${SEED}; history in ${dumpHistory(h)})\n${shown.join('\n')}${more}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Small queries over the history.

export const opsOf = (h: History, kind: OpKind, pred: (op: Op) => boolean = () => true) =>
  h.ops.filter((op) => op.kind === kind && pred(op));
const errorCode = (op: Op): string | undefined => op.body?.error?.code;
const isPausedRefusal = (op: Op) => op.status === 403 && errorCode(op) === 'AGENT_PAUSED_BY_OWNER';

/** The highest acked_seq a REST ack confirmed for `agent` before `t`: acked_seq is at least this from then on. */
function confirmedAckBefore(h: History, agent: string, t: number): number {
  let best = 0;
  for (const op of opsOf(h, 'message.ack', (o) => o.agent === agent && o.status === 200 && o.completedAt < t))
    best = Math.max(best, op.body.acked_seq);
  return best;
}

/** The highest seq any ack (REST or stream) asked for before `t`: acked_seq can be at most this then. */
function ackRequestedBefore(h: History, agent: string, t: number): number {
  let best = 0;
  for (const op of h.ops) {
    if ((op.kind === 'message.ack' || op.kind === 'stream.ack') && op.agent === agent && op.invokedAt < t)
      best = Math.max(best, op.req.seq);
  }
  return best;
}

const asAsked = (
  h: History,
): { op: Op; id: string; expiresAt: number; asker: string; timeoutDefault: string | null }[] =>
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
  if (row.status === 'responded')
    return message.startsWith('Already decided by ') && message.endsWith(`: ${row.choice}`);
  if (row.status === 'timed_out')
    return message.startsWith('Already timed out at ') || message.startsWith('Timed out at ');
  return message === 'Already cancelled';
}

export function checkApprovals(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const a of asAsked(h)) {
    const row = snap.approvals.get(a.id);
    if (!row) continue; // check 2 reports it
    const decisions = h.ops.filter(
      (o) => (o.kind === 'approval.respond' || o.kind === 'approval.cancel') && o.approval === a.id,
    );
    const wins = decisions.filter((o) => o.status === 200);
    const where = `approval ${a.id} (asked by ${a.asker}, expires +${a.expiresAt - h.t0}ms, final ${row.status}${row.choice ? ` "${row.choice}"` : ''})`;
    if (wins.length > 1) out.push({ what: `${where}: ${wins.length} decisions acknowledged with 200`, ops: wins });
    for (const lose of decisions.filter((o) => o.status !== 200)) {
      if (lose.status !== 409 || errorCode(lose) !== 'not_pending')
        out.push({
          what: `${where}: a losing decision got ${lose.status} ${errorCode(lose)}, not 409 not_pending`,
          ops: [lose],
        });
      else if (!loserMessageFits(lose.body.error.message, row))
        out.push({ what: `${where}: a loser was told something other than the final outcome`, ops: [lose] });
    }
    const win = wins[0];
    if (win) {
      const want = expectedOutcome(win);
      if (
        row.status !== want.status ||
        (want.choice !== undefined && row.choice !== want.choice) ||
        (want.member !== undefined && row.responder?.member_id !== want.member)
      ) {
        out.push({
          what: `${where}: the acknowledged decision is not the recorded one (want ${JSON.stringify(want)}, row has responder ${JSON.stringify(row.responder)})`,
          ops: [win],
        });
      }
      if (win.body.status !== want.status)
        out.push({ what: `${where}: the 200 body says ${win.body.status}`, ops: [win] });
      if (win.invokedAt >= a.expiresAt)
        out.push({ what: `${where}: decided by a request that arrived after expires_at`, ops: [win] });
    } else if (row.status === 'responded' || row.status === 'cancelled') {
      out.push({ what: `${where}: ${row.status} in Postgres, but no client was told 200`, ops: decisions });
    }
    if (row.status === 'pending')
      out.push({ what: `${where}: still pending ${Date.now() - a.expiresAt} ms after expires_at`, ops: [a.op] });
    out.push(...checkTimeout(where, a, row));
    out.push(...checkObservations(h, where, a, row, win));
    const events = snap.approvalEvents.get(a.id) ?? [];
    if (row.status !== 'pending' && (events.length !== 1 || events[0] !== `pause_request.${row.status}`)) {
      out.push({
        what: `${where}: outbox has terminal events ${JSON.stringify(events)}, want exactly one pause_request.${row.status}`,
      });
    }
  }
  out.push(...checkNeverStuck(h));
  return out;
}

function checkTimeout(
  where: string,
  a: { expiresAt: number; timeoutDefault: string | null; op: Op },
  row: StoredApproval,
): Violation[] {
  if (row.status !== 'timed_out')
    return row.viaTimeout ? [{ what: `${where}: via_timeout is true on a ${row.status} approval`, ops: [a.op] }] : [];
  const problems: string[] = [];
  if (!row.viaTimeout) problems.push('via_timeout is false');
  if (row.choice !== a.timeoutDefault)
    problems.push(
      `response_choice ${JSON.stringify(row.choice)} is not the timeout_default ${JSON.stringify(a.timeoutDefault)}`,
    );
  if (row.responder !== null) problems.push(`responder ${JSON.stringify(row.responder)} is set`);
  if (row.responseAt === null || row.responseAt < a.expiresAt)
    problems.push(`response_at ${row.responseAt} is before expires_at ${a.expiresAt}`);
  return problems.map((p) => ({ what: `${where}: timed out, but ${p}`, ops: [a.op] }));
}

/** Reads of an approval: a settled status never changes, and pending is never shown after the
 *  deadline or after a decision was acknowledged. */
function checkObservations(
  h: History,
  where: string,
  a: { id: string; expiresAt: number },
  row: { status: string; choice: string | null },
  win: Op | undefined,
): Violation[] {
  const out: Violation[] = [];
  for (const get of opsOf(h, 'approval.get', (o) => o.approval === a.id)) {
    if (get.status !== 200) {
      out.push({ what: `${where}: a read failed`, ops: [get] });
      continue;
    }
    const seen = get.body;
    if (seen.status === 'pending') {
      if (get.invokedAt >= a.expiresAt)
        out.push({ what: `${where}: shown pending to a read made after expires_at`, ops: [get] });
      if (win && get.invokedAt > win.completedAt)
        out.push({ what: `${where}: shown pending after the decision was acknowledged`, ops: [win, get] });
    } else if (seen.status !== row.status || seen.response_choice !== row.choice) {
      out.push({
        what: `${where}: a read saw ${seen.status} ${JSON.stringify(seen.response_choice)}, which is not the terminal state`,
        ops: [get],
      });
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
      out.push({
        what: `approval ${o.id} was pending in Postgres at +${s.at - h.t0}ms, ${s.at - o.expiresAt} ms past expires_at (grace ${STUCK_GRACE_MS} ms)`,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Check 2: nothing acknowledged is lost; nothing refused is stored.

export function checkApprovalsStored(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const a of asAsked(h)) {
    const row = snap.approvals.get(a.id);
    if (!row) out.push({ what: `approval ${a.id} was acknowledged 201 but is not in Postgres`, ops: [a.op] });
    else if (row.agentId !== snap.agents.get(a.asker)?.id)
      out.push({ what: `approval ${a.id} is stored for agent ${row.agentId}, not its asker`, ops: [a.op] });
  }
  return out;
}

export function checkMessagesStored(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  const storedTags = new Set<string>();
  for (const inbox of snap.messages.values()) for (const m of inbox.values()) if (m.tag) storedTags.add(m.tag);
  const bySeq = new Map<string, Op>();
  for (const op of opsOf(h, 'message.send')) {
    if (op.status !== 202) {
      if (storedTags.has(op.tag!))
        out.push({ what: `message ${op.tag} was refused (${op.status}) but is stored`, ops: [op] });
      continue;
    }
    const key = `${op.to}:${op.body.seq}`;
    const twin = bySeq.get(key);
    if (twin)
      out.push({ what: `two sends acknowledged with the same seq ${op.body.seq} to ${op.to}`, ops: [twin, op] });
    bySeq.set(key, op);
    const stored = snap.messages.get(op.to!)?.get(op.body.seq);
    if (!stored)
      out.push({
        what: `message ${op.tag} was acknowledged 202 as seq ${op.body.seq} to ${op.to} but is not in Postgres`,
        ops: [op],
      });
    else if (stored.id !== op.body.id || stored.tag !== op.tag)
      out.push({
        what: `seq ${op.body.seq} to ${op.to} holds ${stored.tag} (${stored.id}), not the acknowledged ${op.tag} (${op.body.id})`,
        ops: [op],
      });
    if (op.body.to !== snap.agents.get(op.to!)?.id)
      out.push({ what: `message ${op.tag} was acknowledged for recipient id ${op.body.to}, not ${op.to}`, ops: [op] });
  }
  return out;
}

export function checkAcknowledgedDelivered(h: History): Violation[] {
  const out: Violation[] = [];
  const delivered = new Map<string, Set<number>>();
  for (const b of deliveries(h)) {
    const set = delivered.get(b.agent) ?? new Set();
    for (const m of b.msgs) set.add(m.seq);
    delivered.set(b.agent, set);
  }
  for (const op of opsOf(h, 'message.send', (o) => o.status === 202)) {
    if (!delivered.get(op.to!)?.has(op.body.seq))
      out.push({
        what: `message ${op.tag} (seq ${op.body.seq} to ${op.to}) was acknowledged but never delivered, even after everyone was unpaused`,
        ops: [op],
      });
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
    batches.push({
      agent: op.agent!,
      via: 'sync',
      startedAt: op.invokedAt,
      after: op.req.after,
      msgs: op.body.data.map(asDelivered),
      ops: [op],
      frames: [],
    });
  }
  for (const open of opsOf(h, 'stream.open', (o) => o.status === 101)) {
    const frames = h.frames.filter((f) => f.session === open.session && f.frame.type === 'message');
    batches.push({
      agent: open.agent!,
      via: 'stream',
      startedAt: open.invokedAt,
      after: open.body.acked_seq,
      msgs: frames.map((f) => asDelivered(f.frame.message)),
      ops: [open],
      frames,
    });
  }
  return batches.sort((x, y) => x.startedAt - y.startedAt);
}

const asDelivered = (m: any) => ({
  seq: m.seq as number,
  id: m.id as string,
  from: m.from as string,
  tag: m.body?.tag as string | undefined,
});

function checkBatch(b: Batch, highestBefore: number, confirmedAck: number): string[] {
  const problems: string[] = [];
  const seqs = b.msgs.map((m) => m.seq);
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1]! + 1)
      problems.push(
        `seq ${seqs[i]} came right after ${seqs[i - 1]} (a ${seqs[i]! <= seqs[i - 1]! ? 'repeat or reorder' : 'gap'})`,
      );
  }
  const first = b.after !== undefined ? b.after + 1 : seqs[0];
  if (b.after !== undefined && seqs.length && seqs[0] !== b.after + 1)
    problems.push(`started at seq ${seqs[0]}, not right after ${b.after}`);
  if (first !== undefined && first > highestBefore + 1)
    problems.push(`skipped seq ${highestBefore + 1}..${first - 1}: nothing above ${highestBefore} had been delivered`);
  // Redelivery is allowed only of what was not acknowledged (a sync read with an explicit `after` asks for it).
  const fromServerCursor = b.via === 'stream' || b.after === undefined;
  if (fromServerCursor && seqs.length && seqs[0]! <= confirmedAck)
    problems.push(`redelivered seq ${seqs[0]}, although acked_seq ${confirmedAck} had been confirmed`);
  if (b.via === 'stream' && b.after! < confirmedAck)
    problems.push(
      `ready said acked_seq ${b.after}, below the ${confirmedAck} already confirmed (acks moved backwards)`,
    );
  return problems;
}

export function checkDeliveryOrder(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  const perAgent = new Map<string, Batch[]>();
  for (const b of deliveries(h)) perAgent.set(b.agent, [...(perAgent.get(b.agent) ?? []), b]);
  for (const [name, agent] of snap.agents) {
    let highest = 0;
    const seen = new Set<number>();
    for (const b of perAgent.get(name) ?? []) {
      for (const p of checkBatch(b, highest, confirmedAckBefore(h, name, b.startedAt)))
        out.push({ what: `${name}, ${b.via} delivery: ${p}`, ops: b.ops, frames: b.frames.slice(0, 12) });
      for (const m of b.msgs) {
        const stored = snap.messages.get(name)?.get(m.seq);
        if (!stored || stored.id !== m.id)
          out.push({
            what: `${name}: seq ${m.seq} was delivered as message ${m.id} (${m.tag}), but seq ${m.seq} is ${stored ? `${stored.id} (${stored.tag})` : 'not stored'}`,
            ops: b.ops,
          });
        seen.add(m.seq);
        highest = Math.max(highest, m.seq);
      }
    }
    const missing = [];
    for (let s = 1; s <= agent.inbox; s++) if (!seen.has(s)) missing.push(s);
    if (missing.length)
      out.push({
        what: `${name} never saw ${missing.length} of seq 1..${agent.inbox}: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`,
      });
    if (highest > agent.inbox)
      out.push({ what: `${name} was delivered seq ${highest}, beyond inbox_seq ${agent.inbox}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Check 4: the cap. Held = stored and not acknowledged.

export function checkCap(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const s of h.samples) {
    for (const a of s.agents) {
      if (a.held > CAP || a.inbox - a.acked > CAP)
        out.push({
          what: `at +${s.at - h.t0}ms ${a.name} held ${a.held} messages (inbox_seq ${a.inbox}, acked_seq ${a.acked}), over the cap ${CAP}`,
        });
    }
  }
  for (const [name, a] of snap.agents)
    if (a.inbox - a.acked > CAP) out.push({ what: `at the end ${name} holds ${a.inbox - a.acked}, over the cap` });
  // Accepted: at commit, seq - acked_seq <= cap, and acked_seq was at most what had been acked by then.
  for (const op of opsOf(h, 'message.send', (o) => o.status === 202)) {
    const ackedAtMost = ackRequestedBefore(h, op.to!, op.completedAt);
    if (op.body.seq - ackedAtMost > CAP)
      out.push({
        what: `seq ${op.body.seq} to ${op.to} was accepted while acked_seq was at most ${ackedAtMost}: ${op.body.seq - ackedAtMost} held`,
        ops: [op],
      });
  }
  out.push(...checkBackloggedRefusals(h));
  return out;
}

/** The cap is exact: a 429 is wrong if the inbox could not have been full when it was decided. */
function checkBackloggedRefusals(h: History): Violation[] {
  const out: Violation[] = [];
  for (const op of opsOf(h, 'message.send', (o) => o.status === 429)) {
    let inboxAtMost = h.prefill.get(op.to!) ?? 0;
    for (const s of opsOf(h, 'message.send', (o) => o.status === 202 && o.to === op.to && o.invokedAt < op.completedAt))
      inboxAtMost = Math.max(inboxAtMost, s.body.seq);
    const ackedAtLeast = confirmedAckBefore(h, op.to!, op.invokedAt);
    if (inboxAtMost - ackedAtLeast < CAP)
      out.push({
        what: `refused RECIPIENT_BACKLOGGED while ${op.to} held at most ${inboxAtMost - ackedAtLeast} (inbox_seq ≤ ${inboxAtMost}, acked_seq ≥ ${ackedAtLeast})`,
        ops: [op],
      });
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
  const changes = h.ops.filter(
    (o) => (o.kind === 'agent.pause' || o.kind === 'agent.unpause') && o.agent === agent && o.status !== 409,
  );
  const segments: Segment[] = [];
  let current: Segment = { state: null, from: -Infinity, to: Infinity };
  for (const op of changes) {
    segments.push({ ...current, to: op.invokedAt });
    // A failure other than 409 may or may not have committed.
    const state: Segment['state'] =
      op.status !== 200 ? 'unknown' : op.kind === 'agent.unpause' ? null : op.body.pause.mode;
    current = { state, from: op.completedAt, to: Infinity, opened: op };
  }
  segments.push(current);
  return segments;
}

const within = (s: Segment, op: Op) => op.invokedAt > s.from && op.completedAt < s.to;

export function checkNoDeliveryUnderFullPause(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const name of snap.agents.keys()) {
    for (const s of pauseSegments(h, name).filter((x) => x.state === 'full')) {
      const pushed = h.frames.filter(
        (f) => f.agent === name && f.frame.type === 'message' && f.at > s.from && f.at < s.to,
      );
      if (pushed.length)
        out.push({
          what: `${name}: ${pushed.length} message frame(s) arrived after its full pause was acknowledged and before it was released`,
          ops: s.opened ? [s.opened] : [],
          frames: pushed.slice(0, 10),
        });
      for (const read of opsOf(
        h,
        'message.read',
        (o) => o.agent === name && o.status === 200 && o.body.data.length > 0 && within(s, o),
      )) {
        out.push({
          what: `${name}: a sync read made and answered under its full pause returned ${read.body.data.length} message(s)`,
          ops: [...(s.opened ? [s.opened] : []), read],
        });
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
    if (op.status !== want[0] || errorCode(op) !== want[1])
      out.push({
        what: `${agent} was ${state ?? 'unpaused'}; ${op.kind} ${mode ?? ''} should get ${want.join(' ')}`,
        ops: [op],
      });
    if (op.status === 200) {
      state = op.body.pause?.mode ?? null;
      if (state !== mode)
        out.push({
          what: `${agent}: ${op.kind} ${mode ?? ''} answered 200 with pause ${JSON.stringify(op.body.pause)}`,
          ops: [op],
        });
    }
  }
  if (stored !== state)
    out.push({
      what: `${agent}: Postgres ends with pause ${stored ?? 'none'}, but the last acknowledged change left ${state ?? 'none'}`,
    });
  return out;
}

/** A paused agent (either mode) may not send or ask; an unpaused one is never refused as paused. */
export function checkPauseGate(h: History, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  for (const [name, stored] of snap.agents) {
    out.push(...checkPauseStateMachine(h, name, stored.pause));
    const outbound = h.ops.filter(
      (o) => (o.kind === 'message.send' || o.kind === 'approval.create') && o.agent === name,
    );
    for (const s of pauseSegments(h, name)) {
      if (s.state === 'unknown') continue;
      for (const op of outbound.filter((o) => within(s, o))) {
        if (s.state !== null && !isPausedRefusal(op))
          out.push({
            what: `${name} was paused (${s.state}) for the whole of this ${op.kind}, which got ${op.status}`,
            ops: [...(s.opened ? [s.opened] : []), op],
          });
        if (s.state === null && isPausedRefusal(op))
          out.push({
            what: `${name} was unpaused for the whole of this ${op.kind}, refused as paused`,
            ops: [...(s.opened ? [s.opened] : []), op],
          });
      }
    }
  }
  return out;
}
