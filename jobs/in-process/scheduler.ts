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

export function inProcessScheduler({ log }: { log: Logger }): Scheduler {
  const lanes = Object.fromEntries(QUEUE_NAMES.map((n) => [n, new Lane()])) as Record<QueueName, Lane>;
  let completed: (queue: QueueName, data: JobData) => void = () => {};
  let closed = false;
  const idle: (() => void)[] = [];

  const wake = (name: QueueName, entry: Entry) => {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    lanes[name].due.push(entry);
    drive(name);
  };
  const schedule = (name: QueueName, entry: Entry) => {
    const wait = entry.job.at - Date.now();
    if (wait <= 0) return wake(name, entry);
    entry.timer = setTimeout(
      () => (entry.job.at <= Date.now() ? wake(name, entry) : schedule(name, entry)),
      Math.min(wait, MAX_DELAY_MS),
    );
  };
  /** Starts due jobs while the queue has slots. */
  const drive = (name: QueueName) => {
    const lane = lanes[name];
    const p = lane.processor;
    while (p && !closed && lane.running < p.concurrency && lane.due.length) {
      const entry = lane.due.shift()!;
      if (lane.entries.get(entry.job.id) !== entry) continue;
      lane.running++;
      entry.running = true;
      void run(name, lane, p, entry);
    }
  };
  const run = async (name: QueueName, lane: Lane, p: Processor, entry: Entry) => {
    try {
      await p.run({ name: entry.job.name, data: entry.job.data }, { stillOwner: async () => !closed });
      lane.entries.delete(entry.job.id);
      completed(name, entry.job.data);
    } catch (err) {
      retry(name, entry, err);
    } finally {
      entry.running = false;
      lane.running--;
      if (lane.running === 0) idle.splice(0).forEach((f) => f());
      drive(name);
    }
  };
  const retry = (name: QueueName, entry: Entry, err: unknown) => {
    const lane = lanes[name];
    if (err instanceof RunAgain) {
      entry.job = { ...entry.job, at: err.at };
      return closed ? lane.entries.delete(entry.job.id) : schedule(name, entry);
    }
    entry.failures++;
    const { attempts, backoffMs } = JOB_RETRIES[name];
    log.warn({ queue: name, job: entry.job.id, attempt: entry.failures, err: (err as Error).message }, 'job failed');
    if (entry.failures >= attempts || closed) return lane.entries.delete(entry.job.id);
    entry.job = { ...entry.job, at: Date.now() + backoffMs * 2 ** (entry.failures - 1) };
    schedule(name, entry);
  };

  return {
    ready: true,
    async arm(queue, jobs) {
      const lane = lanes[queue];
      for (const job of jobs) {
        // As with BullMQ's job ids: work already armed (waiting or running) is not armed again.
        if (closed || lane.entries.has(job.id)) continue;
        const entry: Entry = { job, failures: 0, running: false };
        lane.entries.set(job.id, entry);
        schedule(queue, entry);
      }
    },
    async hurry(queue, id) {
      const entry = lanes[queue].entries.get(id);
      if (entry?.timer) wake(queue, entry);
    },
    pacing: memoryPacing(),
    async start(processors: Processors, hooks) {
      completed = hooks.completed;
      for (const name of QUEUE_NAMES) {
        lanes[name].processor = processors[name];
        drive(name);
      }
    },
    async armedAll() {},
    // Nothing can be lost behind the process's back: its jobs live and die with it.
    async check() {},
    async close() {
      closed = true;
      for (const lane of Object.values(lanes)) {
        for (const entry of lane.entries.values()) clearTimeout(entry.timer);
        lane.due.length = 0;
      }
      // Running jobs finish (a drain stops after its current message), as BullMQ's close waits.
      const busy = () => Object.values(lanes).some((l) => l.running > 0);
      while (busy()) await new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
