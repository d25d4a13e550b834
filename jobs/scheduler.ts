// The seam between the worker and what runs its jobs at their time. The worker arms work, runs it
// through processors and re-arms it from Postgres when the scheduler may have lost it; it never
// names the implementation. BullMQ on Redis (jobs/bullmq/) is one; anything armed may vanish, so
// every job id derives from the row it serves and arming the same work twice is a no-op.

/** The kinds of work: signed POSTs of events, approval timeouts, channel sends and outcome
 *  updates, and agents' inbox drains (one per agent). */
export const QUEUE_NAMES = ['deliveries', 'timers', 'channels', 'drains'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** What a job carries: the ids its processor reads (JSON, written by jobs/arm.ts). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each processor reads its own fields
export type JobData = Record<string, any>;

export interface Job {
  name: string;
  /** Derived from the row, so arming twice is one job. */
  id: string;
  data: JobData;
  /** When to run it (epoch ms); now or earlier runs at once. */
  at: number;
}

/** What a running job may ask of the scheduler. */
export interface JobControl {
  /** Whether this run still holds its job (false once another run may have taken it over). */
  stillOwner(): Promise<boolean>;
}

/** Thrown by a processor: run this same job again at `at` (its id kept, no attempt spent). */
export class RunAgain extends Error {
  constructor(
    readonly at: number,
    reason = 'run again later',
  ) {
    super(reason);
  }
}

/** Tries of a job that throws (other than RunAgain), exponential from backoffMs. They cover a
 *  failure to record a try (Postgres away); the rows' own schedules and the sweep cover the rest. */
export const JOB_RETRIES: Record<QueueName, { attempts: number; backoffMs: number }> = {
  deliveries: { attempts: 5, backoffMs: 1_000 },
  timers: { attempts: 5, backoffMs: 200 },
  channels: { attempts: 3, backoffMs: 1_000 },
  // A drain that throws comes back by RunAgain (the same id keeps a second drain out).
  drains: { attempts: 1, backoffMs: 0 },
};

export interface Processor {
  concurrency: number;
  /** How long a run holds its job without renewing; a crashed run's job is taken over after it. */
  lockMs?: number;
  run(job: { name: string; data: JobData }, control: JobControl): Promise<unknown>;
}

export type Processors = Record<QueueName, Processor>;

/** Calls sharing a key at most once per everyMs, and per-minute budgets, across processes; both
 *  throw RunAgain for when the call may go. */
export interface Pacing {
  pace(key: string, everyMs: number): Promise<void>;
  budget(key: string, perMinute: number): Promise<void>;
}

export interface Scheduler {
  /** Whether arming can work now; while not, arming throws SchedulerAway at once. */
  readonly ready: boolean;
  arm(queue: QueueName, jobs: Job[]): Promise<void>;
  /** A job waiting for its time runs now (nothing if there is none). */
  hurry(queue: QueueName, id: string): Promise<void>;
  pacing: Pacing;
  /** Starts running jobs. `lost` is called whenever armed work may have been lost (the store came
   *  back empty or reconnected), `completed` after each job that finished. */
  start(
    processors: Processors,
    hooks: { lost(): Promise<void>; completed(queue: QueueName, data: JobData): void },
  ): Promise<void>;
  /** Everything is armed now (after a re-arm from Postgres): remember it, to notice a loss. */
  armedAll(): Promise<void>;
  /** Checks now whether armed work was lost, and calls `lost` if so. */
  check(): Promise<void>;
  /** Jobs per queue: waiting (due), delayed (armed for later), active (running), for /metrics. */
  depths(): Promise<Record<QueueName, { waiting: number; delayed: number; active: number }>>;
  close(): Promise<void>;
}

/** The scheduler cannot take work now (its store is away): said once per outage, not per call. */
export class SchedulerAway extends Error {
  constructor() {
    super('the scheduler is not connected');
  }
}
