// GET /v1/stream: the WebSocket adapter for LiveStream (src/messages/live-stream.ts). The agent key
// is checked by the usual onRequest hook before the upgrade, so a bad key is a plain HTTP 401.
// This process keeps its open streams fresh (presence, graceful stop) and pings them to find dead peers.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { pruneStaleStreams, STREAM_HEARTBEAT_MS, streamsAlive } from '../../agents/presence.js';
import type { Deps } from '../../deps.js';
import { fail } from '../../errors.js';
import { LiveStream } from '../../messages/live-stream.js';
import { agentOf } from '../auth.js';
import { errors } from '../schemas.js';

/** A client frame is an ack or a ping: small. */
export const MAX_FRAME_BYTES = 16 * 1024;

/** This process's open streams, and the closes still removing their rows. */
interface Streams {
  open: Map<LiveStream, { socket: WebSocket; alive: boolean }>;
  closing: Set<Promise<void>>;
}

export function registerStreamRoute(app: FastifyInstance, deps: Deps) {
  const streams = trackStreams(app, deps);

  app.get(
    '/v1/stream',
    {
      websocket: true,
      config: { access: 'agent' },
      schema: {
        tags: ['messages'],
        summary: 'WebSocket: the inbox pushed live in seq order, acks, and control events (see docs/api.md)',
        response: errors(401, 403, 429, 503),
      },
      // Refusals come before the upgrade, as plain HTTP.
      preHandler: async (req, reply) => {
        const agent = agentOf(req);
        if (agent.run_state === 'stopped')
          fail('AGENT_INACTIVE', `${agent.name} is stopped; start it before opening a stream`);
        // The TCP socket outlives the upgrade: its close ends the wait however the stream ends.
        const end = app.waits.admit(req, reply);
        if (req.raw.socket.destroyed) end();
        else req.raw.socket.once('close', end);
      },
    },
    (socket, req) => serveStream(deps, streams, socket, req),
  );
}

function trackStreams(app: FastifyInstance, deps: Deps): Streams {
  const open: Streams['open'] = new Map();

  // One statement refreshes every stream of this process; a peer that missed a ping is gone.
  const heartbeat = setInterval(() => {
    for (const s of open.values()) {
      if (!s.alive) {
        s.socket.terminate();
        continue;
      }
      s.alive = false;
      s.socket.ping();
    }
    const live = [...open.keys()].map((s) => ({ id: s.id, agentId: s.agentId }));
    streamsAlive(deps.db, live)
      .then(() => pruneStaleStreams(deps.db))
      .catch((err) => deps.log.warn({ err: err.message }, 'stream heartbeat failed'));
  }, STREAM_HEARTBEAT_MS);
  heartbeat.unref();
  // A stream's close removes its row; shutdown does it for every stream (their sockets were told
  // to close by preClose, but may not have finished) before the pool goes.
  const closing = new Set<Promise<void>>();
  app.addHook('onClose', async () => {
    clearInterval(heartbeat);
    await Promise.all([...closing, ...[...open.keys()].map((s) => s.close())]);
  });
  return { open, closing };
}

function serveStream(deps: Deps, { open, closing }: Streams, socket: WebSocket, req: FastifyRequest) {
  const agentId = agentOf(req).id;
  // @fastify/websocket leaves the upgrade's request, headers, ServerResponse, Fastify request and
  // reply and their logger reachable for as long as the stream is open (bench/changes.md, idle
  // connections (3)): its 'error' listener closes over them, and the ServerResponse stays bound to the
  // TCP socket. Nothing is answered on them after the upgrade, so both go; the listener's job
  // (log, then drop the connection) is done here.
  const tcp = req.raw.socket as Socket & { _httpMessage?: ServerResponse | null };
  tcp._httpMessage?.detachSocket(tcp);
  socket.removeAllListeners('error');
  socket.on('error', (err) => {
    deps.log.info({ err: err.message, agent: agentId }, 'stream socket error');
    socket.terminate();
  });
  const stream = new LiveStream(deps, agentId, {
    send: (frame) => socket.send(frame),
    get buffered() {
      return socket.bufferedAmount;
    },
    close: (code, reason) => socket.close(code, reason),
  });
  const state = { socket, alive: true };
  open.set(stream, state);
  // Frames that arrive while the stream opens wait for it (an ack needs to know what was sent).
  let early: string[] | undefined = [];
  socket.on('message', (data, isBinary) => {
    const text = isBinary ? '' : String(data);
    if (early) early.push(text);
    else stream.receive(text);
  });
  socket.on('pong', () => (state.alive = true));
  socket.on('close', () => {
    open.delete(stream);
    const done = stream.close().finally(() => closing.delete(done));
    closing.add(done);
  });
  stream.open().then(
    () => {
      const frames = early ?? [];
      early = undefined;
      for (const f of frames) stream.receive(f);
    },
    (err: Error) => {
      deps.log.warn({ err: err.message, agent: agentId }, 'stream could not open');
      socket.close(1011, 'could not open the stream; reconnect');
    },
  );
}
