// The history checker of history.test.ts across real processes: two `web` and two `worker`
// processes on one Postgres and one Redis (queue mode), each HTTP call and each stream going to one
// web process or the other in turn, while one worker is killed with SIGKILL a third of the way in
// and started again two thirds in. The same six properties must hold.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestApp } from '../support/app.js';
import { startLeash, type LeashProcess } from '../support/processes.js';
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
  RUN_MS,
  SEED,
  runWorkload,
  setUp,
  snapshot,
  startSampler,
  windDown,
  type Snapshot,
  type Transport,
  type World,
} from './support/history-workload.js';
import { freePort } from './support/services.js';

const t = useTestApp({ BACKLOG_CAP: String(CAP) });
const webs: string[] = [];
const procs: LeashProcess[] = [];
let workerEnv: Record<string, string> = {};

beforeAll(async () => {
  const shared = testEnv(t.config.databaseUrl, {
    QUEUE_PREFIX: `leash-history-cluster-${randomBytes(4).toString('hex')}`,
    BACKLOG_CAP: String(CAP),
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    SWEEP_INTERVAL_MS: '1000',
  });
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  webs.push(`http://127.0.0.1:${ports[0]}`, `http://127.0.0.1:${ports[1]}`);
  workerEnv = shared;
  const started = await Promise.all([
    startLeash('web', { ...shared, PORT: String(ports[0]), PUBLIC_URL: webs[0]! }, `${webs[0]}/readyz`),
    startLeash('web', { ...shared, PORT: String(ports[1]), PUBLIC_URL: webs[0]! }, `${webs[1]}/readyz`),
    startLeash('worker', { ...shared, METRICS_PORT: String(ports[2]) }, `http://127.0.0.1:${ports[2]}/readyz`),
    startLeash('worker', { ...shared, METRICS_PORT: String(ports[3]) }, `http://127.0.0.1:${ports[3]}/readyz`),
  ]);
  procs.push(...started);
}, 120_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
});

/** Each call to the next web process in turn. */
function roundRobin(): Transport {
  let n = 0;
  return async (method, url, key, body) => {
    const base = webs[n++ % webs.length]!;
    const res = await fetch(base + url, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed };
  };
}

describe(`history across 2 web + 2 worker processes, one worker killed and restarted (seed ${SEED})`, () => {
  let w: World;
  let snap: Snapshot;
  const chaos: string[] = [];

  it('runs the mixed workload over both web processes while a worker is killed and restarted', async () => {
    console.log(`history checker (cluster): seed ${SEED} (replay with FAULT_SEED=${SEED})`);
    w = await setUp(t, webs, roundRobin());
    const stopSampling = startSampler(w);
    const victim = procs[2]!;
    const restart = (async () => {
      await new Promise((r) => setTimeout(r, RUN_MS / 3));
      await victim.kill();
      chaos.push(`worker killed at ${Date.now() - w.h.t0} ms`);
      await new Promise((r) => setTimeout(r, RUN_MS / 3));
      const port = await freePort();
      procs[2] = await startLeash(
        'worker',
        { ...workerEnv, METRICS_PORT: String(port) },
        `http://127.0.0.1:${port}/readyz`,
      );
      chaos.push(`worker restarted at ${Date.now() - w.h.t0} ms`);
    })();
    try {
      await Promise.all([runWorkload(w), restart]);
      await windDown(w);
    } finally {
      await stopSampling();
    }
    snap = await snapshot(t, w.wsId);
    const count = (kind: Parameters<typeof opsOf>[1], status?: number) =>
      opsOf(w.h, kind, (o) => status === undefined || o.status === status).length;
    console.log(
      `history (cluster): ${w.h.ops.length} ops, ${w.h.frames.length} frames; ${chaos.join(', ')}; ` +
        `sends ${count('message.send', 202)} accepted, pauses ${count('agent.pause', 200)}, streams ${count('stream.open', 101)}`,
    );
    expect(chaos).toHaveLength(2);
    expect(count('message.send', 202)).toBeGreaterThan(50);
    expect(count('agent.pause', 200)).toBeGreaterThan(5);
    expect(count('stream.open', 101)).toBeGreaterThan(5);
    const outcomes = [...snap.approvals.values()].map((r) => r.status);
    expect(outcomes, 'some approvals timed out').toContain('timed_out');
    expect(outcomes, 'some approvals were answered').toContain('responded');
  }, 120_000);

  it('1. each approval has one terminal state', () => {
    assertNone(w.h, 'one terminal state per approval', checkApprovals(w.h, snap));
  });

  it('2. no acknowledged write is lost', () => {
    assertNone(w.h, 'no lost acknowledged writes', [
      ...checkApprovalsStored(w.h, snap),
      ...checkMessagesStored(w.h, snap),
      ...checkAcknowledgedDelivered(w.h),
    ]);
  });

  it('3. gapless, ordered delivery per recipient', () => {
    assertNone(w.h, 'gapless ordered delivery', checkDeliveryOrder(w.h, snap));
  });

  it(`4. the backlog cap (${CAP}) holds exactly`, () => {
    assertNone(w.h, 'backlog cap', checkCap(w.h, snap));
  });

  it('5. nothing is delivered while a full pause is in force', () => {
    assertNone(w.h, 'no delivery under full pause', checkNoDeliveryUnderFullPause(w.h, snap));
  });

  it('6. the pause gate and the pause state machine', () => {
    assertNone(w.h, 'pause gate', checkPauseGate(w.h, snap));
  });

  it('every web process and the surviving worker stayed up', () => {
    for (const p of procs) expect(p.child.exitCode, p.err()).toBeNull();
  });
});
