// The scheduler inside the one process (embedded and single mode): jobs wait in memory for their
// time and run under each queue's concurrency, with the retries, RunAgain and job-id dedupe the
// BullMQ scheduler gives. Nothing here survives the process, and nothing needs to: the worker
// re-arms everything from Postgres at start, as it does after Redis lost its data.
import type { Logger } from 'pino';
import {
  JOB_RETRIES,
  QUEUE_NAMES,
  RunAgain,
  type Job,
  type JobData,
  type Processor,
  type Processors,
  type QueueName,
  type Scheduler,
} from '../scheduler.js';
import { claimScheduling } from './claim.js';
import { memoryPacing } from './pacing.js';

/** setTimeout's longest delay; a job due later is looked at again then. */
const MAX_DELAY_MS = 2 ** 31 - 1;

interface Entry {
  job: Job;
  /** Tries that threw (RunAgain does not count). */
  failures: number;
  timer?: NodeJS.Timeout;
  running: boolean;
}

class Lane {
  readonly entries = new Map<string, Entry>();
  /** Due entries waiting for a slot, oldest due first. */
  readonly due: Entry[] = [];
  running = 0;
  processor?: Processor;
}

/** `databaseUrl`: the database this process alone schedules for (jobs/in-process/claim.ts). */
export function inProcessScheduler({ log, databaseUrl }: { log: Logger; databaseUrl?: string }): Scheduler {
  return new InProcessScheduler(log, databaseUrl);
}

class InProcessScheduler implements Scheduler {
  readonly ready = true;
  readonly pacing = memoryPacing();
  private readonly lanes = Object.fromEntries(QUEUE_NAMES.map((n) => [n, new Lane()])) as Record<QueueName, Lane>;
  private completed: (queue: QueueName, data: JobData) => void = () => {};
  private closed = false;
  private readonly idle: (() => void)[] = [];

  private release: () => Promise<void> = async () => {};

  constructor(
    private readonly log: Logger,
    private readonly databaseUrl?: string,
  ) {}

  async arm(queue: QueueName, jobs: Job[]): Promise<void> {
    const lane = this.lanes[queue];
    for (const job of jobs) {
      // As with BullMQ's job ids: work already armed (waiting or running) is not armed again.
      if (this.closed || lane.entries.has(job.id)) continue;
      const entry: Entry = { job, failures: 0, running: false };
      lane.entries.set(job.id, entry);
      this.schedule(queue, entry);
    }
  }

  async hurry(queue: QueueName, id: string): Promise<void> {
    const entry = this.lanes[queue].entries.get(id);
    if (entry?.timer) this.wake(queue, entry);
  }

  async start(processors: Processors, hooks: { completed(queue: QueueName, data: JobData): void }): Promise<void> {
    if (this.databaseUrl) this.release = await claimScheduling(this.databaseUrl);
    this.completed = hooks.completed;
    for (const name of QUEUE_NAMES) {
      this.lanes[name].processor = processors[name];
      this.drive(name);
    }
  }

  async armedAll(): Promise<void> {}

  /** Nothing can be lost behind the process's back: its jobs live and die with it. */
  async check(): Promise<void> {}

  async depths() {
    const depth = (lane: Lane) => ({
      waiting: lane.due.length,
      delayed: Math.max(0, lane.entries.size - lane.due.length - lane.running),
      active: lane.running,
    });
    return Object.fromEntries(QUEUE_NAMES.map((n) => [n, depth(this.lanes[n])])) as Record<
      QueueName,
      ReturnType<typeof depth>
    >;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const lane of Object.values(this.lanes)) {
      for (const entry of lane.entries.values()) clearTimeout(entry.timer);
      lane.due.length = 0;
    }
    // Running jobs finish (a drain stops after its current message), as BullMQ's close waits.
    const busy = () => Object.values(this.lanes).some((l) => l.running > 0);
    while (busy()) await new Promise<void>((resolve) => this.idle.push(resolve));
    await this.release();
  }

  private wake(name: QueueName, entry: Entry) {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    this.lanes[name].due.push(entry);
    this.drive(name);
  }

  private schedule(name: QueueName, entry: Entry) {
    const wait = entry.job.at - Date.now();
    if (wait <= 0) return this.wake(name, entry);
    entry.timer = setTimeout(
      () => (entry.job.at <= Date.now() ? this.wake(name, entry) : this.schedule(name, entry)),
      Math.min(wait, MAX_DELAY_MS),
    );
  }

  /** Starts due jobs while the queue has slots. */
  private drive(name: QueueName) {
    const lane = this.lanes[name];
    const p = lane.processor;
    while (p && !this.closed && lane.running < p.concurrency && lane.due.length) {
      const entry = lane.due.shift()!;
      if (lane.entries.get(entry.job.id) !== entry) continue;
      lane.running++;
      entry.running = true;
      void this.run(name, p, entry);
    }
  }

  private async run(name: QueueName, p: Processor, entry: Entry) {
    const lane = this.lanes[name];
    try {
      await p.run({ name: entry.job.name, data: entry.job.data }, { stillOwner: async () => !this.closed });
      lane.entries.delete(entry.job.id);
      this.completed(name, entry.job.data);
    } catch (err) {
      this.retry(name, entry, err);
    } finally {
      entry.running = false;
      lane.running--;
      if (lane.running === 0) this.idle.splice(0).forEach((f) => f());
      this.drive(name);
    }
  }

  /** RunAgain: the same job at its time. A failure: again with backoff, until its attempts run out. */
  private retry(name: QueueName, entry: Entry, err: unknown) {
    const lane = this.lanes[name];
    if (err instanceof RunAgain) {
      entry.job = { ...entry.job, at: err.at };
      if (this.closed) lane.entries.delete(entry.job.id);
      else this.schedule(name, entry);
      return;
    }
    entry.failures++;
    const { attempts, backoffMs } = JOB_RETRIES[name];
    const { id } = entry.job;
    this.log.warn({ queue: name, job: id, attempt: entry.failures, err: (err as Error).message }, 'job failed');
    if (entry.failures >= attempts || this.closed) {
      lane.entries.delete(id);
      return;
    }
    entry.job = { ...entry.job, at: Date.now() + backoffMs * 2 ** (entry.failures - 1) };
    this.schedule(name, entry);
  }
}
