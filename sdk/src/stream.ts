// One WebSocket to GET /v1/stream: resolves once Leash said `ready`, then hands out message
// frames one at a time, passes control frames on as they come, and acks only what this socket
// has been sent (the server refuses an ack past that, e.g. right after a reconnect).
import WebSocket from 'ws';
import { abortError, errorFromResponse, LeashError, NetworkError } from './errors.js';
import type { Agent, ControlEvent, Message, ReadyFrame } from './types.js';

export interface StreamHooks {
  onReady: (agent: Agent) => void;
  onControl: (frame: ControlEvent) => void;
}

export type StreamItem = { kind: 'message'; message: Message } | { kind: 'closed'; code: number; reason: string };

/** The agent was stopped: the server closes its streams with this code. */
export const CLOSE_STOPPED = 4000;
/** Leash pings every 15 s; a socket silent for this long is dead (a cut the OS has not noticed). */
const SILENCE_MS = 40_000;

export class StreamConnection {
  private readonly items: StreamItem[] = [];
  private wake: (() => void) | undefined;
  private received = 0;
  private wantAck = 0;
  private sentAck = 0;
  private silence: NodeJS.Timeout | undefined;

  private constructor(
    private readonly ws: WebSocket,
    readonly ready: ReadyFrame,
    private readonly onControl: (frame: ControlEvent) => void,
  ) {
    this.received = this.sentAck = ready.acked_seq;
    ws.on('message', (data) => this.frame(String(data)));
    ws.on('ping', () => this.alive());
    ws.on('close', (code, reason) => {
      clearTimeout(this.silence);
      this.push({ kind: 'closed', code, reason: String(reason) });
    });
    this.alive();
  }

  /** Opens a stream; rejects with the server's refusal (a LeashError) or a NetworkError. */
  static open(url: string, apiKey: string | undefined, hooks: StreamHooks, signal?: AbortSignal) {
    return new Promise<StreamConnection>((resolve, reject) => {
      const ws = new WebSocket(url, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
      const early: string[] = [];
      const fail = (err: Error) => {
        signal?.removeEventListener('abort', onAbort);
        ws.removeAllListeners();
        ws.on('error', () => {});
        ws.terminate();
        reject(err);
      };
      const onAbort = () => fail(abortError(signal));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      ws.on('unexpected-response', (req, res) => refusal(req, res).then(fail, fail));
      ws.on('error', (err) => fail(new NetworkError(`could not open the stream at ${url}: ${err.message}`, err)));
      ws.on('close', (code, reason) =>
        fail(new NetworkError(`the stream closed before ready (${code} ${reason})`, null)),
      );
      ws.on('message', (data) => {
        const text = String(data);
        const frame = JSON.parse(text) as { type: string };
        if (frame.type !== 'ready') return void early.push(text);
        signal?.removeEventListener('abort', onAbort);
        ws.removeAllListeners();
        ws.on('error', () => ws.terminate());
        hooks.onReady((frame as ReadyFrame).agent);
        const conn = new StreamConnection(ws, frame as ReadyFrame, hooks.onControl);
        for (const f of early) conn.frame(f);
        resolve(conn);
      });
    });
  }

  /** The next message, or the close; rejects with an AbortError when the signal aborts. */
  async next(signal?: AbortSignal): Promise<StreamItem> {
    while (this.items.length === 0) {
      if (signal?.aborted) throw abortError(signal);
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    return this.items.shift()!;
  }

  /** Everything up to `seq` is handled; sent once this socket has been sent that far. */
  ack(seq: number): void {
    this.wantAck = Math.max(this.wantAck, seq);
    this.flushAck();
  }

  close(): void {
    clearTimeout(this.silence);
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }

  private frame(text: string): void {
    this.alive();
    let frame: { type?: string; message?: Message };
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === 'message' && frame.message) {
      this.received = Math.max(this.received, frame.message.seq);
      this.push({ kind: 'message', message: frame.message });
      this.flushAck();
    } else if (frame.type === 'control') this.onControl(frame as ControlEvent);
  }

  private flushAck(): void {
    const seq = Math.min(this.wantAck, this.received);
    if (seq <= this.sentAck || this.ws.readyState !== WebSocket.OPEN) return;
    this.sentAck = seq;
    this.ws.send(JSON.stringify({ type: 'ack', seq }));
  }

  private push(item: StreamItem): void {
    this.items.push(item);
    this.wake?.();
  }

  private alive(): void {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => this.ws.terminate(), SILENCE_MS);
    this.silence.unref();
  }
}

/** A refused upgrade is plain HTTP: read its error body like any other answer. */
function refusal(req: import('node:http').ClientRequest, res: import('node:http').IncomingMessage) {
  return new Promise<LeashError>((resolve) => {
    let body = '';
    res.on('data', (c: Buffer) => (body += c));
    res.on('error', () => resolve(new NetworkError('the stream refusal was cut off', null)));
    res.on('end', () => {
      // ws leaves a refused upgrade's socket to its caller: close it, or the server waits on it.
      req.destroy();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(body);
      } catch {
        /* not Leash answering (a proxy): the status says enough */
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
      resolve(errorFromResponse(res.statusCode ?? 0, headers, parsed));
    });
  });
}
