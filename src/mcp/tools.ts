// The MCP server Leash offers (contract §8): request_permission (Claude Code's
// --permission-prompt-tool), ask_human and agent_status, over a LeashPort. One server per
// connection (stdio) or per request (stateless Streamable HTTP); the tools keep no state of their own.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { refusalOf, type AgentSeen, type ApprovalSeen, type AskBody, type LeashPort } from './port.js';
import { permissionMessage, permissionMetadata } from './summary.js';
import { deniedBecause, heldReason, waitingFor, type PermissionResult } from './wording.js';

export const MCP_SERVER_NAME = 'leash';

export interface McpSettings {
  /** Where questions go when a tool call does not say. */
  channel: string;
  recipient: string | undefined;
  /** How to set the recipient on this transport, for the error when there is none. */
  recipientHint: string;
  /** request_permission's timeout; undefined: Leash's default. */
  timeoutSeconds: number | undefined;
  /** How often a waiting tool reports progress (and, over the API, looks at the agent again). */
  progressMs: number;
  version: string;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const text = (value: unknown, isError = false): CallToolResult => ({
  content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value) }],
  ...(isError ? { isError: true } : {}),
});

/** A refusal from Leash as a tool error: its code and its message, which names the field. */
function toolError(err: unknown): CallToolResult {
  const r = refusalOf(err);
  if (!r) throw err;
  return text(`Leash refused (${r.code}): ${r.message}`, true);
}

type Outcome = { settled: ApprovalSeen; agent: AgentSeen } | { held: AgentSeen };

/**
 * Waits for the approval to settle while the agent stays active, reporting progress every
 * `progressMs` when the client sent a progress token. A pause or stop ends the wait and withdraws
 * the question; so does the client going away (the signal), after which nobody would act on it.
 */
async function outcome(
  port: LeashPort,
  first: ApprovalSeen,
  s: McpSettings,
  extra: Extra,
  signal: AbortSignal,
): Promise<Outcome> {
  const started = Date.now();
  const token = extra._meta?.progressToken;
  let a = first;
  try {
    for (let tick = 0; ; tick++) {
      const agent = await port.agent(signal);
      if (a.status !== 'pending') return { settled: a, agent };
      if (agent.status !== 'active') {
        // The deny stands whether or not the withdrawal goes through (a stop cancels it anyway).
        await port.cancel(a.pause_id).catch(() => {});
        return { held: agent };
      }
      if (token !== undefined && tick > 0) {
        const params = {
          progressToken: token,
          progress: Date.now() - started,
          message: waitingFor(a, Date.now() - started),
        };
        await extra.sendNotification({ method: 'notifications/progress', params });
      }
      a = await port.wait(a.pause_id, s.progressMs, signal);
    }
  } catch (err) {
    if (signal.aborted) await port.cancel(a.pause_id).catch(() => {});
    throw err;
  }
}

async function requestPermission(
  port: LeashPort,
  s: McpSettings,
  args: { tool_name: string; input: Record<string, unknown>; tool_use_id?: string | undefined },
  extra: Extra,
  signal: AbortSignal,
): Promise<CallToolResult> {
  if (!s.recipient) return text(`No one to ask: ${s.recipientHint}`, true);
  const body: AskBody = {
    message: permissionMessage(args.tool_name, args.input),
    options: ['Allow', 'Deny'],
    channel: s.channel,
    recipient: s.recipient,
    allow_text_response: true,
    metadata: permissionMetadata(args.tool_name, args.input, args.tool_use_id),
    ...(s.timeoutSeconds ? { timeout_seconds: s.timeoutSeconds } : {}),
  };
  const askedAt = Date.now();
  let created: ApprovalSeen;
  try {
    created = await port.ask(body, signal);
  } catch (err) {
    const r = refusalOf(err);
    if (r?.code === 'AGENT_PAUSED_BY_OWNER' || r?.code === 'AGENT_INACTIVE')
      return text({ behavior: 'deny', message: `Denied: ${r.message}` } satisfies PermissionResult);
    return toolError(err);
  }
  const o = await outcome(port, created, s, extra, signal);
  let result: PermissionResult;
  if ('held' in o) result = { behavior: 'deny', message: `Denied: ${heldReason(o.held)}` };
  else if (o.settled.response_choice === 'Allow' && o.agent.status === 'active')
    // The input exactly as given: an empty or rebuilt updatedInput would replace the tool's arguments.
    result = { behavior: 'allow', updatedInput: args.input };
  else if (o.settled.response_choice === 'Allow')
    result = { behavior: 'deny', message: `Denied: ${heldReason(o.agent)}` };
  else result = { behavior: 'deny', message: deniedBecause(o.settled, askedAt, o.agent) };
  return text(result);
}

const askShape = {
  message: z.string().describe('the question, as the human will read it'),
  options: z.array(z.string()).min(2).max(5).describe('2–5 distinct answers, e.g. ["Approve", "Reject"]'),
  timeout_seconds: z.number().int().positive().optional().describe('how long to wait (default: Leash’s, 24 h)'),
  timeout_default: z.string().optional().describe('the option taken when nobody answers in time'),
  allow_text_response: z.boolean().optional().describe('let the human add a note'),
  channel: z.string().optional().describe('slack, telegram, sms, email or web (default: this server’s)'),
  recipient: z.string().optional().describe('who is asked on that channel (default: this server’s)'),
  metadata: z.record(z.string(), z.unknown()).optional().describe('shown beside the question'),
};

async function askHuman(
  port: LeashPort,
  s: McpSettings,
  args: z.infer<z.ZodObject<typeof askShape>>,
  extra: Extra,
  signal: AbortSignal,
): Promise<CallToolResult> {
  const recipient = args.recipient ?? s.recipient;
  if (!recipient) return text(`No one to ask: give "recipient", or ${s.recipientHint}`, true);
  const { timeout_default, ...rest } = args;
  const body: AskBody = {
    ...rest,
    channel: args.channel ?? s.channel,
    recipient,
    ...(timeout_default !== undefined ? { timeout_default } : {}),
  };
  let created: ApprovalSeen;
  try {
    created = await port.ask(body, signal);
  } catch (err) {
    return toolError(err);
  }
  const o = await outcome(port, created, s, extra, signal);
  if ('held' in o) return text(`${heldReason(o.held)}; the question was withdrawn`, true);
  const a = o.settled;
  return text({ status: a.status, choice: a.response_choice, text: a.response_text, responder: a.responder });
}

/** The signal a tool call ends on: the client's cancel, or the transport going away. */
const endOf = (extra: Extra, gone: AbortSignal | undefined) =>
  gone ? AbortSignal.any([extra.signal, gone]) : extra.signal;

/** The server, and a promise for the tool calls running now having ended (a withdrawn question
 *  is withdrawn before the process exits). */
export interface LeashMcp {
  server: McpServer;
  idle(): Promise<void>;
}

export function createMcpServer(port: LeashPort, s: McpSettings, gone?: AbortSignal): LeashMcp {
  const server = new McpServer({ name: MCP_SERVER_NAME, version: s.version });
  const running = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    running.add(p);
    void p.finally(() => running.delete(p)).catch(() => {});
    return p;
  };
  server.registerTool(
    'request_permission',
    {
      description:
        'Ask a human (through Leash: Slack, Telegram, SMS, email or the web) whether a tool call may run. ' +
        'For Claude Code’s --permission-prompt-tool. Answers {"behavior":"allow","updatedInput":…} or {"behavior":"deny","message":…}.',
      inputSchema: {
        tool_name: z.string().min(1).describe('the tool that wants to run'),
        input: z.record(z.string(), z.unknown()).describe('its arguments'),
        tool_use_id: z.string().optional(),
      },
    },
    (args, extra) => track(requestPermission(port, s, args, extra, endOf(extra, gone))),
  );
  server.registerTool(
    'ask_human',
    {
      description:
        'Ask a human a question with 2–5 options and wait for the answer: {status, choice, text, responder}.',
      inputSchema: askShape,
    },
    (args, extra) => track(askHuman(port, s, args, extra, endOf(extra, gone))),
  );
  server.registerTool(
    'agent_status',
    { description: 'This agent as Leash sees it: active, paused (how, by whom, why) or stopped.', inputSchema: {} },
    async (_args, extra) => {
      try {
        return text(await port.agent(extra.signal));
      } catch (err) {
        return toolError(err);
      }
    },
  );
  return { server, idle: async () => void (await Promise.allSettled([...running])) };
}
