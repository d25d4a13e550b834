// An HTTP proxy on loopback in front of a Leash: it can lose an answer on its way back (the server
// did the work, the client saw the connection drop), and it does not do WebSockets (an upgrade is
// answered 501), like some corporate proxies.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  status: number;
}

export interface Proxy {
  url: string;
  seen: Seen[];
  /** Return true to drop this answer (the client's connection is destroyed instead). */
  drop: (req: Seen, n: number) => boolean;
  upgrades: number;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<Proxy> {
  const to = new URL(target);
  const proxy = { seen: [] as Seen[], drop: () => false, upgrades: 0 } as unknown as Proxy;
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const seen = { method: req.method!, url: req.url!, headers: req.headers, status: answer.statusCode! };
        proxy.seen.push(seen);
        if (proxy.drop(seen, proxy.seen.length)) {
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    // A client that gave up (an aborted long-poll) takes its upstream request with it, or the
    // server would hold it open until its wait ends.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.on('upgrade', (_req, socket) => {
    proxy.upgrades++;
    socket.end(
      'HTTP/1.1 501 Not Implemented\r\ncontent-type: text/plain\r\ncontent-length: 3\r\nconnection: close\r\n\r\nno\n',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
