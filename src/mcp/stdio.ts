// `leash mcp`: the MCP server on stdio for a Leash reached over its API (contract §8). Configured
// from the environment, because that is how MCP clients (.mcp.json) pass settings to a server;
// stdout carries only the protocol, everything else goes to stderr.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { Leash, LeashError } from '../../sdk/src/index.js';
import { VERSION } from '../version.js';
import { overApiPort } from './over-api.js';
import { createMcpServer, type McpSettings } from './tools.js';

const env = z.object({
  LEASH_URL: z.url().default('http://localhost:3000'),
  LEASH_API_KEY: z.string().min(1, 'is required: the agent key (lsh_a_…) that asks').optional(),
  // Checked by Leash when a question is asked: this side does not know which channels it has.
  LEASH_MCP_CHANNEL: z
    .string()
    .regex(/^[a-z]+$/, 'must be a channel name, like slack')
    .default('web'),
  LEASH_MCP_RECIPIENT: z.string().min(1).optional(),
  LEASH_MCP_TIMEOUT_SECONDS: z.coerce.number().int().min(1).optional(),
  LEASH_MCP_PROGRESS_SECONDS: z.coerce.number().min(0.1).max(15).default(10),
});

/** Thrown for a setting that cannot work; the CLI prints it and exits 2. */
export class McpSetupError extends Error {}

export function stdioSettings(vars: NodeJS.ProcessEnv): {
  url: string;
  key: string | undefined;
  settings: McpSettings;
} {
  const present = Object.fromEntries(Object.entries(vars).filter(([k, v]) => k.startsWith('LEASH_') && v !== ''));
  const parsed = env.safeParse(present);
  if (!parsed.success) {
    throw new McpSetupError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const e = parsed.data;
  return {
    url: e.LEASH_URL,
    key: e.LEASH_API_KEY,
    settings: {
      channel: e.LEASH_MCP_CHANNEL,
      recipient: e.LEASH_MCP_RECIPIENT,
      recipientHint: 'set LEASH_MCP_RECIPIENT in the MCP server’s environment',
      timeoutSeconds: e.LEASH_MCP_TIMEOUT_SECONDS,
      progressMs: Math.round(e.LEASH_MCP_PROGRESS_SECONDS * 1000),
      version: VERSION,
    },
  };
}

/** Says on stderr, once, whether Leash takes the key: the MCP client shows a server's stderr. */
async function checkKey(leash: Leash, url: string): Promise<void> {
  try {
    const me = await leash.me();
    process.stderr.write(`leash mcp: asking for ${me.name} at ${url}\n`);
  } catch (err) {
    const why = err instanceof LeashError ? `${err.message} (${err.code})` : String(err);
    process.stderr.write(`leash mcp: ${url} did not accept LEASH_API_KEY: ${why}\n`);
  }
}

export async function runStdio(vars: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { url, key, settings } = stdioSettings(vars);
  const leash = new Leash({ baseUrl: url, ...(key ? { apiKey: key } : {}) });
  const gone = new AbortController();
  const { server, idle } = createMcpServer(overApiPort(leash), settings, gone.signal);
  // The client closing our stdin (or signalling us) is its going away: waiting tools withdraw their questions
  // (the abort), then the process ends.
  const ended = new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await server.connect(new StdioServerTransport());
  void checkKey(leash, url);
  await ended;
  gone.abort(new Error('the MCP client closed the connection'));
  await idle();
  await server.close();
}
