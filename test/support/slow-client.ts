// A raw TCP client that sends a request slowly, for what inject() cannot show: what the server does
// to the socket. It writes `head` at once, then `drip` one byte every `everyMs`, until the server
// closes the connection or `giveUpMs` passes.
import { connect } from 'node:net';

export interface SlowResult {
  /** Everything the server wrote. */
  reply: string;
  /** When the server closed the connection, in ms after it opened; undefined if it never did. */
  closedAfterMs: number | undefined;
  /** Bytes of `drip` written before the end. */
  dripped: number;
}

export function slowRequest(
  port: number,
  opts: { head?: string; drip?: string; everyMs?: number; giveUpMs: number; localAddress?: string },
): Promise<SlowResult> {
  const { head = '', drip = '', everyMs = 100, giveUpMs } = opts;
  return new Promise((resolve, reject) => {
    const socket = connect({
      port,
      host: '127.0.0.1',
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    let reply = '';
    let dripped = 0;
    let opened = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedAfterMs: number | undefined) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ reply, closedAfterMs, dripped });
    };
    const giveUp = setTimeout(() => finish(undefined), giveUpMs);
    socket.on('connect', () => {
      opened = Date.now();
      if (head) socket.write(head);
      timer = setInterval(() => {
        if (dripped < drip.length && socket.writable) socket.write(drip[dripped++]!);
      }, everyMs);
    });
    socket.on('data', (d) => (reply += String(d)));
    // A reset after the server's answer still counts as the server closing.
    socket.on('error', (err: NodeJS.ErrnoException) => (opened ? undefined : reject(err)));
    socket.on('close', () => finish(opened ? Date.now() - opened : undefined));
  });
}

/** The status and JSON body of a raw HTTP reply. */
export function parseReply(reply: string): { status: number; headers: string; body: any } {
  const [headers = '', body = ''] = reply.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = body;
  }
  return { status, headers, body: json };
}
