// Drop-in routes for the three seed APIs (contract §10), under /compat: a client written for one
// of them changes only its base URL to <leash>/compat. Each is a thin adapter: Leash's auth, the
// core's verbs, the timeline's entries (details.via names the route), the seed's shapes.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../deps.js';
import { sendError } from '../http/errors.js';
import { registerAgentRuntimeCompat, runtimeErrors } from './agent-runtime.js';
import { notFound, type Shape } from './errors.js';
import { hiredAgentErrors, registerHiredAgentCompat } from './hired-agents.js';
import { registerSessionCompat, sessionErrors } from './sessions.js';

/** Which seed API a path under /compat belongs to, by its shape of error. */
const API_BY_PATH: [RegExp, Shape][] = [
  [/^\/compat\/v1\/sessions(\/|$)/, sessionErrors],
  [/^\/compat\/api\/v1\/workspaces(\/|$)/, hiredAgentErrors],
  [/^\/compat\/agents(\/|$)/, runtimeErrors],
];

export async function registerCompat(app: FastifyInstance, deps: Deps): Promise<void> {
  await app.register(
    async (compat) => {
      // One encapsulated plugin per API: each renders its own error shape.
      for (const api of [registerSessionCompat, registerHiredAgentCompat, registerAgentRuntimeCompat]) {
        await compat.register((scope) => api(scope, deps));
      }
      // Their clients look up unknown paths too: the API's own 404 shape.
      compat.setNotFoundHandler((req, reply) => {
        const shape = API_BY_PATH.find(([path]) => path.test(req.url))?.[1];
        if (!shape) return sendError(reply, 'not_found', `No route ${req.method} ${req.url.split('?')[0]}`);
        return reply.code(404).send(shape(notFound));
      });
    },
    { prefix: '/compat' },
  );
}
