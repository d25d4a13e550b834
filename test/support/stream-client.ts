// A WebSocket client for GET /v1/stream over real loopback sockets: it records every frame, acks
// when asked, and lets a test wait for a condition on what arrived.
import WebSocket from 'ws';

export interface Frame {
  type: string;
  [k: string]: any;
}

export class StreamClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
  }

  /** Opens a stream; resolves once the server said ready (or rejects with the HTTP refusal). */
  static async open(baseUrl: string, key: string | undefined, opts: { autoAck?: boolean } = {}): Promise<StreamClient> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/stream`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    const client = new StreamClient(ws);
    if (opts.autoAck) client.autoAck();
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          // ws leaves a refused upgrade's socket to us: close it, or the server waits on it.
          req.destroy();
          reject(
            Object.assign(new Error(`HTTP ${res.statusCode}`), {
              status: res.statusCode,
              body: JSON.parse(body || 'null'),
            }),
          );
        });
      });
      ws.once('error', reject);
    });
    await client.until((c) => c.frames.some((f) => f.type === 'ready'));
    return client;
  }

  /** Acks every message as it arrives. */
  autoAck(): void {
    this.ws.on('message', (data) => {
      const f = JSON.parse(String(data));
      if (f.type === 'message') this.send({ type: 'ack', seq: f.message.seq });
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  messages(): any[] {
    return this.frames.filter((f) => f.type === 'message').map((f) => f.message);
  }

  seqs(): number[] {
    return this.messages().map((m) => m.seq);
  }

  controls(): string[] {
    return this.frames.filter((f) => f.type === 'control').map((f) => f.event);
  }

  async until(cond: (c: StreamClient) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond(this)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `stream condition not met in ${timeoutMs} ms; frames: ${JSON.stringify(this.frames.slice(-5))}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.add(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }

  private wake(): void {
    const w = [...this.waiters];
    this.waiters.clear();
    for (const f of w) f();
  }
}
