// The HTTP server: JSON in and out, one error shape, key auth per route, OpenAPI at /docs. The
// surfaces above it (the channels' vendor routes, the dashboard) are handed in by the composition
// root (src/app.ts), so nothing here imports them.
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { Deps } from '../deps.js';
import { inRequest } from '../log-context.js';
import { requestLogger } from './request-log.js';
import { registerAuth } from './auth.js';
import { clientErrorHandler, errorHandler, newRequestId, sendError } from './errors.js';
import { registerFormBody } from './form-body.js';
import { polishDocument } from './openapi-polish.js';
import { registerJsonBody } from './json-body.js';
import { messagePage, sendPage } from './pages/layout.js';
import { registerAgentRoutes } from './routes/agents.js';
import { registerApprovalRoutes } from './routes/approvals.js';
import { registerOperations } from './operations.js';
import { registerMcpRoute } from './routes/mcp.js';
import { registerMeRoutes } from './routes/me.js';
import { registerMemberRoutes } from './routes/members.js';
import { registerMessageRoutes } from './routes/messages.js';
import { registerSessionRoutes } from './routes/sessions.js';
import { MAX_FRAME_BYTES, registerStreamRoute } from './routes/stream.js';
import { registerResponsePage } from './routes/response-page.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { limiterStore, registerRateLimits } from './rate-limits.js';
import { serverTimeouts } from './timeouts.js';
import { registerWaits } from './waits.js';
import { registerWebhookBodyBounds } from './webhook-bodies.js';

/** A surface's routes, registered on the server with the process's deps. */
export type Routes = (app: FastifyInstance, deps: Deps) => Promise<void> | void;

export interface Surfaces {
  /** Vendor webhooks and other routes that take JSON or their own bodies. */
  routes: readonly Routes[];
  /** HTML pages, which also take urlencoded forms. */
  pages: readonly Routes[];
}

export async function buildServer(deps: Deps, surfaces: Surfaces): Promise<FastifyInstance> {
  const { config } = deps;
  const app = createServer(deps);
  registerResponseHeaders(app, config.publicUrl);
  registerJsonBody(app);
  await registerDocs(app, config.publicUrl);
  await registerPageSecurity(app, deps);
  // Before the auth hook: the plugin's own onRequest hook must see a refused upgrade, so that the
  // socket is closed after the 401/403 is written.
  await registerWebsocket(app);
  const limits = await registerRateLimits(
    app,
    config.limits,
    limiterStore(config.redisUrl, config.queuePrefix, deps.log),
  );
  registerAuth(app, deps.db, limits);
  registerWaits(app, config.limits);
  registerWebhookBodyBounds(app, config.limits);
  registerOperations(app, deps);
  await registerRoutes(app, deps, surfaces);
  return app;
}

/** A worker's own listener (METRICS_PORT): the operator's routes and nothing else. */
export async function buildOperationsServer(deps: Deps): Promise<FastifyInstance> {
  const app = createServer(deps);
  registerResponseHeaders(app, deps.config.publicUrl);
  registerOperations(app, deps);
  return app;
}

function createServer(deps: Deps): FastifyInstance {
  const { config } = deps;
  const log = deps.log.child({ component: 'http' }) as FastifyBaseLogger;
  const app = Fastify({
    loggerInstance: log,
    genReqId: newRequestId,
    childLoggerFactory: requestLogger,
    bodyLimit: 1024 * 1024,
    ...serverTimeouts(config.limits),
    clientErrorHandler: clientErrorHandler(config.limits, log),
    trustProxy: config.trustProxy,
    // Router-level failures (an over-long path parameter, a malformed URL) get our shapes too.
    frameworkErrors: (_err, req, reply) => {
      if (req.url.startsWith('/r/'))
        return sendPage(
          reply,
          404,
          messagePage('Link not valid', 'This link is not valid. Ask for a new one, or answer from another channel.'),
        );
      return sendError(reply, 'not_found', `No route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`);
    },
  });
  // First of all hooks: everything after it, and all it starts, logs as part of this request.
  app.addHook('onRequest', (req, _reply, done) => inRequest(req.id, done));
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 'not_found', `No route ${req.method} ${req.url.split('?')[0]}`),
  );
  return app;
}

// Every answer names its request, errors or not: the id to quote when something looks wrong.
// Served over https, browsers are told to keep to it (no includeSubDomains: the operator's
// other hosts are not ours to bind).
function registerResponseHeaders(app: FastifyInstance, publicUrl: string) {
  const hsts = publicUrl.startsWith('https:');
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (hsts) reply.header('strict-transport-security', 'max-age=31536000');
  });
}

async function registerDocs(app: FastifyInstance, publicUrl: string) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Leash API',
        version: '1',
        description:
          'The owner’s control hub for AI agents. Errors are `{"error": {"code", "message", "request_id"}}`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A member or agent API key' } },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (input) => polishDocument(jsonSchemaTransformObject(input), publicUrl),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

// Cookies and CSRF tokens for the HTML pages (response page now, dashboard later).
async function registerPageSecurity(app: FastifyInstance, deps: Deps) {
  await app.register(cookie, { secret: deps.config.secret });
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    // Lax, not strict: a page opened from an email or chat link must keep working in other tabs;
    // the token in the form is what stops a cross-site post.
    cookieOpts: {
      path: '/',
      sameSite: 'lax',
      httpOnly: true,
      signed: true,
      secure: deps.config.publicUrl.startsWith('https:'),
    },
  });
}

async function registerWebsocket(app: FastifyInstance) {
  await app.register(websocket, {
    options: { maxPayload: MAX_FRAME_BYTES },
    // On shutdown streams are told to come back (1001 going away) rather than closed without a reason.
    preClose(done) {
      for (const client of this.websocketServer.clients) client.close(1001, 'Leash is restarting; reconnect');
      this.websocketServer.close();
      done();
    },
  });
}

async function registerRoutes(app: FastifyInstance, deps: Deps, surfaces: Surfaces) {
  registerAgentRoutes(app, deps);
  registerApprovalRoutes(app, deps);
  registerMeRoutes(app, deps);
  registerMemberRoutes(app, deps);
  registerMessageRoutes(app, deps);
  registerSessionRoutes(app, deps);
  registerStreamRoute(app, deps);
  registerWebhookRoutes(app, deps);
  registerMcpRoute(app, deps);
  for (const routes of surfaces.routes) await routes(app, deps);
  // HTML forms post urlencoded bodies; only the pages accept them (the API stays JSON-only).
  await app.register(async (pages) => {
    registerFormBody(pages);
    refuseJsonPosts(pages);
    registerResponsePage(pages, deps);
    for (const routes of surfaces.pages) await routes(pages, deps);
  });
}

/** A JSON POST to a page's form route is an API client at the wrong address (the stop API's
 *  `POST /agents/{id}/stop` without its /compat base, say): a JSON answer that says where to go,
 *  never the HTML "form expired" page. */
function refuseJsonPosts(pages: FastifyInstance) {
  pages.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST' || !/^application\/(.+\+)?json/i.test(req.headers['content-type'] ?? '')) return;
    return sendError(
      reply,
      'unsupported_media_type',
      `${req.url.split('?')[0]} is a dashboard form and takes form posts; the JSON API is under /v1, and the seed APIs' drop-in routes under /compat`,
    );
  });
}
