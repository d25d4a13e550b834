// Control events (paused, unpaused, stop_requested, stopped, session_*, pause_request_*) come in on
// every open stream of the agent; handlers hear each one once, by its event id.
import type { Agent, ControlEvent, ControlEventName } from './types.js';

export type ControlHandler = (event: ControlEvent) => void | Promise<void>;

/** Event ids remembered to drop the copy a second stream (or a reconnect) brings. */
const REMEMBERED = 1_000;

export class ControlEvents {
  private readonly handlers = new Map<string, Set<ControlHandler>>();
  private readonly seen = new Set<string>();
  /** Whether the agent was paused, as last heard (undefined before the first stream). */
  private paused: boolean | undefined;
  /** Errors thrown by handlers go here (default: an unhandled rejection would kill the process). */
  onHandlerError: (err: unknown, event: ControlEvent) => void = (err) => queueMicrotask(() => void console.error(err));

  /** Adds a handler for one event name, or '*' for all; returns the function that removes it. */
  on(event: ControlEventName | '*', handler: ControlHandler): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => this.off(event, handler);
  }

  off(event: ControlEventName | '*', handler: ControlHandler): void {
    this.handlers.get(event)?.delete(handler);
    if (this.handlers.get(event)?.size === 0) this.handlers.delete(event);
  }

  get size(): number {
    let n = 0;
    for (const set of this.handlers.values()) n += set.size;
    return n;
  }

  /** A stream's `ready` frame: the agent as it is now. The server sends events only while a stream is
   *  open, so a pause or unpause that happened while none was is told here, from the state itself. */
  observe(agent: Agent): void {
    const paused = agent.pause !== null;
    const before = this.paused;
    this.paused = paused;
    if (before === undefined || before === paused) return;
    const event = paused ? 'paused' : 'unpaused';
    this.dispatch({
      type: 'control',
      event,
      id: `ready:${event}:${agent.updated_at}`,
      timestamp: agent.updated_at,
      data: agent,
    });
  }

  dispatch(frame: ControlEvent): void {
    if (frame.event === 'paused' || frame.event === 'unpaused') this.paused = frame.event === 'paused';
    if (this.seen.has(frame.id)) return;
    this.seen.add(frame.id);
    // Sets iterate in insertion order: the first one is the oldest.
    if (this.seen.size > REMEMBERED) this.seen.delete(this.seen.values().next().value!);
    for (const name of [frame.event, '*']) {
      for (const handler of this.handlers.get(name) ?? []) this.call(handler, frame);
    }
  }

  private call(handler: ControlHandler, frame: ControlEvent): void {
    try {
      const result = handler(frame);
      if (result && typeof result.then === 'function') result.then(undefined, (err) => this.onHandlerError(err, frame));
    } catch (err) {
      this.onHandlerError(err, frame);
    }
  }
}
