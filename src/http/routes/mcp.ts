// Streamable HTTP at /mcp (contract §8): stateless, so any web process answers any request. Each
// POST gets its own MCP server and transport over the authenticated agent; a tool call's wait and
// its progress stream on the POST's response, and the question is withdrawn if the client goes away
// or cancels the call (its cancel may reach another process: it is relayed through NOTIFY).
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ctxFor } from '../../auth/principal.js';
import type { Deps } from '../../deps.js';
import { inProcessPort } from '../../mcp/in-process.js';
import { createMcpServer } from '../../mcp/tools.js';
import { VERSION } from '../../version.js';
import { agentOf, principalOf } from '../auth.js';
import { errors } from '../schemas.js';
import { invalid } from '../../errors.js';
import { notify, withDetail } from '../../db/notifier.js';
import { mcpCancelKey } from '../../wakeups.js';

const HINT = 'add ?recipient=… to the /mcp URL, or send an X-Leash-Recipient header';

type Message = { method?: unknown; id?: unknown; params?: { requestId?: unknown } } | null;
const messagesOf = (body: unknown): Message[] => (Array.isArray(body) ? body : [body]) as Message[];

/** The JSON-RPC ids of the tool calls in a POST, as the cancel's detail names them. A tool call may
 *  wait for a human: it holds a connection like a long-poll, and counts as one. */
const toolCalls = (body: unknown) =>
  new Set(messagesOf(body).flatMap((m) => (m?.method === 'tools/call' ? [JSON.stringify(m.id)] : [])));

/** The requests a POST cancels (`notifications/cancelled`), told to every process: the call may be
 *  waiting on another one. */
async function relayCancels(deps: Deps, agentId: string, body: unknown): Promise<void> {
  for (const m of messagesOf(body)) {
    if (m?.method === 'notifications/cancelled' && m.params?.requestId !== undefined)
      await notify(deps.db, withDetail(mcpCancelKey(agentId), JSON.stringify(m.params.requestId)));
  }
}

const HEADERS = {
  channel: 'x-leash-channel',
  recipient: 'x-leash-recipient',
  timeout_seconds: 'x-leash-timeout-seconds',
} as const;

type Where = { channel?: string; recipient?: string; timeout_seconds?: number };

/** The settings sent as headers (what .mcp.json can add), checked as the query's are. */
function fromHeaders(req: FastifyRequest, where: z.ZodObject<z.ZodRawShape>): Where {
  const raw = Object.fromEntries(
    Object.entries(HEADERS).flatMap(([k, h]) => {
      const v = req.headers[h];
      return typeof v === 'string' && v !== '' ? [[k, v]] : [];
    }),
  );
  const parsed = where.safeParse(raw);
  if (!parsed.success) {
    const name = (i: z.core.$ZodIssue) => HEADERS[String(i.path[0]) as keyof typeof HEADERS];
    invalid(parsed.error.issues.map((i) => ({ field: `header.${name(i)}`, message: i.message })));
  }
  return parsed.data as Where;
}

export function registerMcpRoute(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const channels = deps.approvals.channels.known.map((c) => c.name) as [string, ...string[]];
  const where = z.object({
    channel: z.enum(channels).optional().describe('where questions go (default web); or X-Leash-Channel'),
    recipient: z.string().min(1).max(320).optional().describe('who is asked there; or X-Leash-Recipient'),
    timeout_seconds: z.coerce
      .number()
      .int()
      .min(1)
      .optional()
      .describe('request_permission’s timeout; or X-Leash-Timeout-Seconds'),
  });

  app.post('/mcp', {
    config: { access: 'agent' },
    schema: {
      tags: ['mcp'],
      summary: 'The MCP server (Streamable HTTP, stateless): request_permission, ask_human, agent_status',
      querystring: where,
      body: z.unknown().describe('one JSON-RPC message or a batch (the MCP Streamable HTTP transport)'),
      response: {
        200: z
          .unknown()
          .describe('the JSON-RPC answer: a text/event-stream of messages (progress, then the result), or JSON'),
        ...errors(400, 401, 403, 429),
      },
    },
    handler: async (req, reply) => {
      const settings = { ...fromHeaders(req, where), ...req.query };
      await relayCancels(deps, agentOf(req).id, req.body);
      const calls = toolCalls(req.body);
      const end = calls.size ? root.waits.admit(req, reply) : () => {};
      await serve(deps, req, reply, settings, { calls, end });
    },
  });

  // Stateless: no stream outside a request and no session to end.
  for (const method of ['GET', 'DELETE'] as const) {
    app.route({
      method,
      url: '/mcp',
      config: { access: 'agent' },
      schema: { hide: true },
      handler: async (_req, reply) =>
        reply
          .code(405)
          .header('allow', 'POST')
          .send({
            jsonrpc: '2.0',
            error: { code: -32000, message: 'Method not allowed: this server is stateless' },
            id: null,
          }),
    });
  }
}

async function serve(
  deps: Deps,
  req: FastifyRequest,
  reply: FastifyReply,
  where: Where,
  { calls, end }: { calls: Set<string>; end: () => void },
) {
  const gone = new AbortController();
  const agent = agentOf(req);
  const port = inProcessPort(deps, ctxFor(principalOf(req), 'mcp'), agent);
  let unsubscribe = () => {};
  try {
    if (calls.size)
      unsubscribe = await deps.notifier.subscribe(mcpCancelKey(agent.id), (id) => {
        if (id !== undefined && calls.has(id)) gone.abort(new Error('the MCP client cancelled the call'));
      });
  } catch (err) {
    end();
    throw err;
  }
  const { server } = createMcpServer(
    port,
    {
      channel: where.channel ?? 'web',
      recipient: where.recipient,
      recipientHint: HINT,
      timeoutSeconds: where.timeout_seconds,
      progressMs: deps.config.mcpProgressMs,
      version: VERSION,
    },
    gone.signal,
  );
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  reply.hijack();
  reply.raw.setHeader('x-request-id', req.id);
  reply.raw.on('close', () => {
    // Closed before the answer was written: the client went away mid-wait.
    if (!reply.raw.writableFinished) gone.abort(new Error('the MCP client disconnected'));
    unsubscribe();
    end();
    void server.close();
  });
  try {
    await server.connect(transport);
    await transport.handleRequest(req.raw, reply.raw, req.body);
  } catch (err) {
    req.log.error({ err }, 'mcp request failed');
    if (!reply.raw.headersSent) reply.raw.writeHead(500).end();
  }
}
