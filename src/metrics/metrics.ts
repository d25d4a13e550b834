// What a process counts, for GET /metrics (contract §9), on its own prom-client registry (one per
// Deps, so two Leashes in one test process never share counts). Labels are bounded sets — route
// patterns, status codes, channel names, queue names — never an agent, an approval or a key.
// Counters count what this process did (approvals decided and timed out are counted by the worker
// that fans their events out, once each); the gauges read cluster-wide state from Postgres when
// scraped (src/metrics/state.ts), so every process reports the same figure for them.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Request latency buckets, seconds: most answers take milliseconds; long-polls and waits take up to a minute. */
const HTTP_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 60];
/** Time to decision, seconds: a human answers in seconds to days (the longest timeout is a week). */
const DECISION_BUCKETS = [1, 5, 15, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600];

/** Cluster-wide figures, read from Postgres when scraped (src/metrics/state.ts). */
export interface ClusterState {
  approvalsPending: number;
  approvalsExpiringSoon: number;
  outboxLagSeconds: number;
  outboxUndispatched: number;
  deliveriesPending: number;
  deliveriesFailedRecently: number;
  inboxBacklog: number;
  inboxBacklogMax: number;
}

/** Jobs per queue and state (waiting, delayed, active). */
export type SchedulerDepths = Record<string, Record<string, number>>;

/** Where the scraped figures come from; unset sources report nothing. */
export interface MetricSources {
  state?: () => Promise<ClusterState>;
  scheduler?: () => Promise<SchedulerDepths>;
}

export interface Metrics {
  registry: Registry;
  sources: MetricSources;
  httpRequests: Histogram<'method' | 'route' | 'status'>;
  approvalsCreated: Counter<'channel'>;
  approvalsDecided: Counter<'channel' | 'via'>;
  approvalsTimedOut: Counter<'channel'>;
  decisionSeconds: Histogram<'channel'>;
  channelSends: Counter<'channel' | 'outcome'>;
  deliveryAttempts: Counter<'outcome'>;
}

const STATE_GAUGES: Record<keyof ClusterState, [name: string, help: string]> = {
  approvalsPending: ['leash_approvals_pending', 'Approvals waiting for an answer'],
  approvalsExpiringSoon: ['leash_approvals_expiring_soon', 'Pending approvals that time out within 10 minutes'],
  outboxLagSeconds: ['leash_outbox_lag_seconds', 'Age of the oldest event not yet fanned out (0 when none waits)'],
  outboxUndispatched: ['leash_outbox_undispatched', 'Events not yet fanned out'],
  deliveriesPending: ['leash_deliveries_pending', 'Webhook and delivery_url POSTs still to be made'],
  deliveriesFailedRecently: ['leash_deliveries_failed_recent', 'Deliveries given up on in the last 24 hours'],
  inboxBacklog: ['leash_inbox_backlog', 'Messages held or not yet acknowledged, all agents'],
  inboxBacklogMax: ['leash_inbox_backlog_max', 'The largest backlog of one agent'],
};

/** One read per scrape, however many gauges ask: a scrape starts every gauge's collect at once,
 *  so those share the read in flight, and the next scrape reads anew. */
function onePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined;
  return () => {
    current ??= read().finally(() => (current = undefined));
    return current;
  };
}

/** The process's own figures, read when scraped. Not prom-client's default metrics: their
 *  event-loop monitor and GC observer run all the time, and bench/decide.ts's tail doubled with
 *  them on (bench/changes.md). */
function processGauges(registers: Registry[]): void {
  const started = Date.now() / 1000 - process.uptime();
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge('leash_process_cpu_seconds_total', 'CPU time used by the process, user and system, in seconds', () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  });
  gauge('leash_process_resident_memory_bytes', 'Resident memory of the process', () => process.memoryUsage().rss);
  gauge('leash_process_heap_used_bytes', 'V8 heap in use', () => process.memoryUsage().heapUsed);
  gauge('leash_process_start_time_seconds', 'When the process started, in Unix seconds', () => started);
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  processGauges(registers);
  const sources: MetricSources = {};
  const state = onePerScrape(async () => (sources.state ? await sources.state() : undefined));
  for (const [key, [name, help]] of Object.entries(STATE_GAUGES) as [keyof ClusterState, [string, string]][]) {
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        // Postgres away: the figure is left out rather than reported as 0 (the scrape still answers).
        const s = await state().catch(() => undefined);
        this.reset();
        if (s) this.set(s[key]);
      },
    });
  }
  new Gauge({
    name: 'leash_scheduler_jobs',
    help: 'Jobs in the scheduler by queue and state (waiting, delayed, active); reported by workers',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      const depths = sources.scheduler ? await sources.scheduler().catch(() => undefined) : undefined;
      this.reset();
      for (const [queue, states] of Object.entries(depths ?? {}))
        for (const [st, n] of Object.entries(states)) this.set({ queue, state: st }, n);
    },
  });
  return {
    registry,
    sources,
    httpRequests: new Histogram({
      name: 'leash_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status, with their latency',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    }),
    approvalsCreated: new Counter({
      name: 'leash_approvals_created_total',
      help: 'Approvals created, by the channel asked on',
      labelNames: ['channel'],
      registers,
    }),
    approvalsDecided: new Counter({
      name: 'leash_approvals_decided_total',
      help: 'Approvals decided by people, by the channel asked on and the channel answered through',
      labelNames: ['channel', 'via'],
      registers,
    }),
    approvalsTimedOut: new Counter({
      name: 'leash_approvals_timed_out_total',
      help: 'Approvals that timed out, by the channel asked on',
      labelNames: ['channel'],
      registers,
    }),
    decisionSeconds: new Histogram({
      name: 'leash_approval_time_to_decision_seconds',
      help: 'From asking to a human decision, by the channel asked on',
      labelNames: ['channel'],
      buckets: DECISION_BUCKETS,
      registers,
    }),
    channelSends: new Counter({
      name: 'leash_channel_sends_total',
      help: 'Questions sent to people, by channel and outcome (sent; failed: a try that threw)',
      labelNames: ['channel', 'outcome'],
      registers,
    }),
    deliveryAttempts: new Counter({
      name: 'leash_delivery_attempts_total',
      help: 'Signed webhook and delivery_url POSTs tried, by outcome (succeeded, retry, failed: given up)',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
