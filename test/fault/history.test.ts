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
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { useWorkers } from '../support/worker.js';
import {
  assertNone,
  checkAcknowledgedDelivered,
  checkApprovals,
  checkApprovalsStored,
  checkCap,
  checkDeliveryOrder,
  checkMessagesStored,
  checkNoDeliveryUnderFullPause,
  checkPauseGate,
  opsOf,
} from './support/history-checks.js';
import {
  CAP,
  SEED,
  runWorkload,
  setUp,
  snapshot,
  startSampler,
  windDown,
  type OpKind,
  type Snapshot,
  type World,
} from './support/history-workload.js';

const t = useTestApp({ BACKLOG_CAP: String(CAP) });
const startWorker = useWorkers(t);

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
    w = await setUp(t, [base]);
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
    snap = await snapshot(t, w.wsId);
    phase('snapshot');
    const count = (kind: OpKind, status?: number) =>
      opsOf(w.h, kind, (o) => status === undefined || o.status === status).length;
    const outcomes = [...snap.approvals.values()].reduce<Record<string, number>>(
      (acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }),
      {},
    );
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
    assertNone(w.h, 'no lost acknowledged writes', [
      ...checkApprovalsStored(w.h, snap),
      ...checkMessagesStored(w.h, snap),
      ...checkAcknowledgedDelivered(w.h),
    ]);
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
