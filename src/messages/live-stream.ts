// One agent's live stream (GET /v1/stream), whatever carries it: messages pushed in seq order with
// a window of unacknowledged ones, acks from the client, and the agent's own events as control
// frames. Wake-ups come through Postgres NOTIFY, so a message sent through any web process reaches
// a stream held by any other; every wake-up re-reads Postgres, so a missed one costs latency only.
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { agentView } from '../agents/view.js';
import { streamClosed, streamOpened } from '../agents/presence.js';
import { coalesced } from '../coalesced.js';
import { inTransaction, newId, type Db } from '../db/index.js';
import type { Notifier } from '../db/notifier.js';
import { AGENT_EVENTS } from '../webhooks/events.js';
import { agentKey, inboxKey } from '../wakeups.js';
import { ackInbox, deliverableMessages } from './messages.js';

/** The transport: a WebSocket in production, anything with these three in a test or a bench. */
export interface StreamSink {
  send(frame: string): void;
  /** Bytes queued and not yet on the network: pushing pauses while this is high. */
  readonly buffered: number;
  close(code: number, reason: string): void;
}

/** Messages pushed and not yet acknowledged, at most: the client's acks open the window. */
export const STREAM_WINDOW = 1_000;
const BATCH = 250;
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** Close code when the agent is stopped (4000–4999 are the application's). */
export const CLOSE_STOPPED = 4000;

/** An agent event's name in a control frame: agent.stop_requested → stop_requested, session.paused → session_paused. */
export function controlEventName(type: string): string {
  return type.replace(/^agent\./, '').replace('.', '_');
}

/** How long a failed push or event read waits before trying again (a quiet inbox has no next wake-up). */
const RETRY_MS = 1_000;
/** How far back (by id time) a full read of the agent's events looks: commits land out of id
 *  order. A full read runs when the stream opens and after the notifier reconnects (a wake-up
 *  without an event id); every other wake-up names its event, and reads that one row, so a busy
 *  agent (100 decisions a second) costs one row per event. */
const EVENT_LOOKBACK_MS = 10_000;
const FULL_READ_LIMIT = 500;

/** The smallest UUIDv7 of a millisecond: ids compare by time first. */
function idFloor(ms: number): string {
  const h = Math.max(0, ms).toString(16).padStart(12, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-0000-0000-000000000000`;
}

type ClientFrame = { type: 'ack'; seq: number } | { type: 'ping' };

export class LiveStream {
  readonly id = newId();
  private sent = 0;
  private acked = 0;
  private flushedAck = 0;
  private closed = false;
  /** Wake-ups are ignored until `ready` is out: the cursor is not known before. */
  private opened = false;
  private opening: Promise<void> | undefined;
  private readonly openedAt = Date.now();
  /** Event ids already sent, with when they were sent (a full read re-reads them). */
  private readonly sentEvents = new Map<string, number>();
  /** Events named by wake-ups and not yet read; a full read is due at first and after a reconnect. */
  private readonly wokenEvents = new Set<string>();
  private fullReadDue = true;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly deps: { db: Db; notifier: Notifier; log: Logger },
    readonly agentId: string,
    private readonly sink: StreamSink,
  ) {}

  /** Registers the stream, says hello (the agent as it is now, pause included), then drains
   *  from the last acknowledged seq. */
  open(): Promise<void> {
    this.opening ??= this.doOpen();
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const { db, notifier } = this.deps;
    // Subscribed before the first read, so nothing that commits in between is missed; the
    // wake-ups wait for `opened`, and the pump below catches up with them.
    const subscriptions = [
      notifier.subscribe(inboxKey(this.agentId), () => void this.pump()),
      notifier.subscribe(agentKey(this.agentId), (eventId) => {
        if (eventId) this.wokenEvents.add(eventId);
        else this.fullReadDue = true;
        void this.events();
      }),
    ];
    for (const s of subscriptions) this.unsubscribe.push(await s);
    if (this.closed) return;
    await streamOpened(db, this.id, this.agentId);
    const row = await db.selectFrom('agents').selectAll().where('id', '=', this.agentId).executeTakeFirstOrThrow();
    if (this.closed) return;
    this.sent = this.acked = this.flushedAck = Number(row.acked_seq);
    this.send({ type: 'ready', agent: agentView(row), acked_seq: this.flushedAck, window: STREAM_WINDOW });
    // A stop that committed while this opened: say so and close.
    if (row.run_state === 'stopped') return this.sink.close(CLOSE_STOPPED, 'agent stopped');
    this.opened = true;
    // Events that committed while this opened were heard but not read: the first, full, read has them.
    void this.events();
    await this.pump();
  }

  /** A frame from the client. Anything malformed is answered with an error frame and changes nothing. */
  receive(text: string): void {
    let frame: ClientFrame;
    try {
      frame = parseFrame(text);
    } catch (err) {
      this.send({ type: 'error', error: { code: 'invalid_request', message: (err as Error).message } });
      return;
    }
    if (frame.type === 'ping') return this.send({ type: 'pong' });
    if (frame.seq > this.sent) {
      this.send({
        type: 'error',
        error: {
          code: 'invalid_request',
          message: `ack seq ${frame.seq} is past the last message sent on this stream (${this.sent})`,
        },
      });
      return;
    }
    if (frame.seq <= this.acked) return;
    this.acked = frame.seq;
    void this.flushAck();
    void this.pump();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let an open in progress finish first: its row must not be written after ours is removed.
    await this.opening?.catch(() => {});
    for (const u of this.unsubscribe) u();
    await this.flushAck();
    await streamClosed(this.deps.db, this.id).catch((err) =>
      this.deps.log.warn({ err: err.message }, 'could not remove a closed stream'),
    );
  }

  private send(frame: unknown): void {
    this.sink.send(JSON.stringify(frame));
  }

  /** Pushes what may be delivered, batch by batch, while the window and the socket have room. */
  private readonly pump = coalesced(async () => {
    if (!this.opened) return;
    try {
      while (!this.closed) {
        const room = Math.min(STREAM_WINDOW - (this.sent - this.acked), BATCH);
        if (room <= 0) return;
        if (this.sink.buffered > HIGH_WATER_BYTES) {
          setTimeout(() => void this.pump(), 20).unref();
          return;
        }
        // The frames are written before the transaction ends: see deliverableMessages.
        const n = await inTransaction(this.deps.db, async (tx) => {
          const messages = await deliverableMessages(tx, this.agentId, this.sent, room, { lock: true });
          for (const message of messages) this.send({ type: 'message', message });
          if (messages.length) this.sent = messages[messages.length - 1]!.seq;
          return messages.length;
        });
        if (n < room) return;
      }
    } catch (err) {
      if (this.closed) return;
      this.deps.log.warn({ err: (err as Error).message, agent: this.agentId }, 'stream push failed; retrying');
      setTimeout(() => void this.pump(), RETRY_MS).unref();
    }
  });

  /** Acks coalesce: while one is written, later ones wait and the newest goes next. */
  private readonly flushAck = coalesced(async () => {
    const target = this.acked;
    if (target <= this.flushedAck) return;
    try {
      await ackInbox(this.deps.db, this.agentId, target);
      this.flushedAck = target;
    } catch (err) {
      this.deps.log.warn(
        { err: (err as Error).message, agent: this.agentId },
        'stream ack not recorded; the messages will be delivered again',
      );
    }
  });

  /** The agent's new events as control frames; a stop closes the stream after telling it. One
   *  query reads the events and the agent's run state. */
  private readonly events = coalesced(async () => {
    if (!this.opened || this.closed) return;
    const full = this.fullReadDue;
    const ids = [...this.wokenEvents];
    if (!full && ids.length === 0) return;
    this.fullReadDue = false;
    this.wokenEvents.clear();
    try {
      const now = Date.now();
      // A full read keeps the named ones too: an event's id may be older than the lookback.
      // One id (the usual wake-up) as `= $1`: Postgres keeps a generic plan for it, not for an array.
      const named = ids.length === 1 ? sql`o.id = ${ids[0]}::uuid` : sql`o.id = any(${ids}::uuid[])`;
      const which = full
        ? sql`(o.id >= ${idFloor(Math.max(this.openedAt, now - EVENT_LOOKBACK_MS))}::uuid or ${named})`
        : named;
      // Named events are found by primary key. As an index condition, the agent would let a plan
      // cached while the outbox was small (statements are prepared: src/db/prepared.ts) read every
      // event of the agent to find one; `is true` keeps it a filter.
      const ofAgent = full ? sql`o.agent_id = a.id` : sql`(o.agent_id = a.id) is true`;
      const { rows } = await sql<{
        run_state: string;
        id: string | null;
        type: string | null;
        payload: { timestamp: string; data: unknown } | null;
      }>`
        select a.run_state, o.id, o.type, o.payload
        from agents a
        left join lateral (
          select o.id, o.type, o.payload from outbox o
          where ${ofAgent} and ${which} and o.type ~ ${AGENT_EVENTS}
          order by o.id limit ${FULL_READ_LIMIT}
        ) o on true
        where a.id = ${this.agentId}
        order by o.id`.execute(this.deps.db);
      // Oldest first (insertion order), so pruning stops at the first one still kept.
      for (const [id, at] of this.sentEvents) {
        if (at >= now - 3 * EVENT_LOOKBACK_MS) break;
        this.sentEvents.delete(id);
      }
      for (const row of rows) {
        if (!row.id || this.sentEvents.has(row.id)) continue;
        this.sentEvents.set(row.id, now);
        this.send({
          type: 'control',
          event: controlEventName(row.type!),
          id: row.id,
          timestamp: row.payload!.timestamp,
          data: row.payload!.data,
        });
      }
      // The run state decides, not the event list: a stop is never missed.
      if (rows.length === 0 || rows[0]!.run_state === 'stopped') this.sink.close(CLOSE_STOPPED, 'agent stopped');
    } catch (err) {
      if (this.closed) return;
      // Read again, in full, and the named ones with it.
      this.fullReadDue = true;
      for (const id of ids) this.wokenEvents.add(id);
      this.deps.log.warn({ err: (err as Error).message, agent: this.agentId }, 'stream events read failed; retrying');
      setTimeout(() => void this.events(), RETRY_MS).unref();
    }
  });
}

function parseFrame(text: string): ClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('frames are JSON, e.g. {"type": "ack", "seq": 12}');
  }
  const frame = value as { type?: unknown; seq?: unknown } | null;
  if (frame?.type === 'ping') return { type: 'ping' };
  if (frame?.type !== 'ack') throw new Error('type must be "ack" or "ping"');
  if (typeof frame.seq !== 'number' || !Number.isSafeInteger(frame.seq) || frame.seq < 0)
    throw new Error('seq must be a non-negative integer');
  return { type: 'ack', seq: frame.seq };
}
