// MCP clients for the tests, from the MCP SDK itself: over Streamable HTTP to a Leash's /mcp, and
// over stdio to a spawned `leash mcp` (run from source, as the CLI tests run it).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export interface McpTestClient {
  client: Client;
  /** What the server wrote on stderr (stdio only). */
  stderr: () => string;
  close(): Promise<void>;
}

export async function httpClient(
  url: string,
  key: string,
  opts: { fetch?: FetchLike; headers?: Record<string, string> } = {},
): Promise<McpTestClient> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${key}`, ...opts.headers } },
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  const client = new Client({ name: 'leash-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => '', close: () => client.close() };
}

export async function stdioClient(env: Record<string, string>): Promise<McpTestClient> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'src/cli/main.ts', 'mcp'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stderr: 'pipe',
    cwd: process.cwd(),
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'leash-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => err, close: () => client.close() };
}

/** The one text item of a tool result, parsed as JSON when it is JSON. */
export function resultOf(r: unknown): { isError: boolean; text: string; json: any } {
  const res = r as CallToolResult;
  const item = res.content[0];
  const text = item && item.type === 'text' ? item.text : '';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { isError: res.isError === true, text, json };
}
