// The MCP server (contract §8) through the MCP SDK's own client, over both transports: stdio (a
// spawned `leash mcp` talking to this Leash over HTTP) and Streamable HTTP at /mcp. The owner
// answers through the API, as a human would through any channel.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allApprovals, listen, onePending, pending, respond } from '../sdk/test/support/leash.js';
import { buildDeps, buildWeb } from '../src/app.js';
import { closeDeps } from '../src/deps.js';
import { useTestApp, type Workspace } from './support/app.js';
import { dashboardBrowser } from './support/dashboard-browser.js';
import { httpClient, resultOf, stdioClient, type McpTestClient } from './support/mcp-clients.js';

const PROGRESS_SECONDS = '0.3';
const t = useTestApp({ MCP_PROGRESS_SECONDS: PROGRESS_SECONDS });
let base: string;
let ws: Workspace;

beforeAll(async () => {
  base = await listen(t);
  ws = await t.workspace();
});

type Open = (key: string, opts?: { timeoutSeconds?: number }) => Promise<McpTestClient>;

const transports: [string, Open][] = [
  [
    'stdio',
    (key, opts = {}) =>
      stdioClient({
        LEASH_URL: base,
        LEASH_API_KEY: key,
        LEASH_MCP_RECIPIENT: ws.ownerId,
        LEASH_MCP_PROGRESS_SECONDS: PROGRESS_SECONDS,
        ...(opts.timeoutSeconds ? { LEASH_MCP_TIMEOUT_SECONDS: String(opts.timeoutSeconds) } : {}),
      }),
  ],
  [
    'http',
    (key, opts = {}) =>
      httpClient(
        `${base}/mcp?recipient=${ws.ownerId}${opts.timeoutSeconds ? `&timeout_seconds=${opts.timeoutSeconds}` : ''}`,
        key,
      ),
  ],
];

const BASH = { command: 'git push --force origin main', description: 'Push to the remote' };

describe.each(transports)('MCP over %s', (name, open) => {
  let agent: { id: string; key: string };
  let mcp: McpTestClient;
  const call = (
    tool: string,
    args: Record<string, unknown>,
    opts: Parameters<McpTestClient['client']['callTool']>[2] = {},
  ) => mcp.client.callTool({ name: tool, arguments: args }, undefined, opts).then(resultOf);

  beforeAll(async () => {
    agent = await ws.agent(`mcp-${name}`);
    mcp = await open(agent.key);
  });
  afterAll(async () => mcp?.close());

  it('lists its three tools with their input schemas', async () => {
    const { tools } = await mcp.client.listTools();
    expect(tools.map((x) => x.name).sort()).toEqual(['agent_status', 'ask_human', 'request_permission']);
    const permission = tools.find((x) => x.name === 'request_permission')!;
    expect(permission.inputSchema.required).toEqual(['tool_name', 'input']);
    expect(Object.keys(permission.inputSchema.properties!)).toEqual(['tool_name', 'input', 'tool_use_id']);
    const ask = tools.find((x) => x.name === 'ask_human')!;
    expect(ask.inputSchema.required).toEqual(['message', 'options']);
    expect(Object.keys(ask.inputSchema.properties!).sort()).toEqual(
      [
        'allow_text_response',
        'channel',
        'message',
        'metadata',
        'options',
        'recipient',
        'timeout_default',
        'timeout_seconds',
      ].sort(),
    );
  });

  it('request_permission: the owner allows, and the tool gets its input back unchanged', async () => {
    const input = { ...BASH, nested: { list: [1, 'two', null], empty: {} } };
    const asking = call('request_permission', { tool_name: 'Bash', input, tool_use_id: 'toolu_01' });
    const a = await onePending(t, ws, agent.id);
    // It reads as a question about the call, not as JSON; the whole call is in the metadata.
    expect(a.message).toBe('Allow Bash?\n$ git push --force origin main\n(Push to the remote)');
    expect(a.options).toEqual(['Allow', 'Deny']);
    expect(a.allow_text_response).toBe(true);
    expect(a.metadata).toEqual({ tool_name: 'Bash', input, tool_use_id: 'toolu_01' });
    await respond(t, ws, a.pause_id, 'Allow');
    const r = await asking;
    expect(r.isError).toBe(false);
    expect(r.json).toEqual({ behavior: 'allow', updatedInput: input });
  });

  it('request_permission: a denial with a note says who, how and why', async () => {
    const asking = call('request_permission', {
      tool_name: 'Write',
      input: { file_path: '/etc/hosts', content: 'x\ny\n' },
    });
    const a = await onePending(t, ws, agent.id);
    expect(a.message).toBe('Allow Write?\n/etc/hosts (3 lines, 4 bytes)');
    const decided = await respond(t, ws, a.pause_id, 'Deny', 'not the system files');
    const r = await asking;
    expect(r.json).toEqual({
      behavior: 'deny',
      message: `Denied by ${decided.responder.display} via the API: not the system files`,
    });
  });

  it('request_permission: pausing the agent while the tool waits denies it, saying paused, and withdraws the question', async () => {
    const asking = call('request_permission', { tool_name: 'Bash', input: BASH });
    const a = await onePending(t, ws, agent.id);
    const paused = await t.call('POST', `/v1/agents/${agent.id}/pause`, {
      key: ws.ownerKey,
      body: { mode: 'send', reason: 'quarterly audit' },
    });
    expect(paused.status).toBe(200);
    try {
      const r = await asking;
      expect(r.json.behavior).toBe('deny');
      expect(r.json.message).toMatch(/^Denied: mcp-\w+ is paused by .+ \(soft pause\): quarterly audit$/);
      expect((await t.call('GET', `/v1/pause/${a.pause_id}`, { key: ws.ownerKey })).body.status).toBe('cancelled');
      // Asked while paused: denied at once, nothing created.
      const before = (await allApprovals(t, ws, agent.id)).length;
      const again = await call('request_permission', { tool_name: 'Bash', input: BASH });
      expect(again.json).toEqual({
        behavior: 'deny',
        message: expect.stringMatching(/^Denied: .* is paused by its owner \(send\)$/),
      });
      expect((await allApprovals(t, ws, agent.id)).length).toBe(before);
    } finally {
      await t.call('POST', `/v1/agents/${agent.id}/unpause`, { key: ws.ownerKey, body: {} });
    }
  });

  it('ask_human: three options, the answer with its note and who gave it', async () => {
    const asking = call('ask_human', {
      message: 'Which region?',
      options: ['eu-west', 'us-east', 'ap-south'],
      allow_text_response: true,
      metadata: { ticket: 'OPS-1' },
    });
    const a = await onePending(t, ws, agent.id);
    expect(a).toMatchObject({
      message: 'Which region?',
      options: ['eu-west', 'us-east', 'ap-south'],
      metadata: { ticket: 'OPS-1' },
    });
    const decided = await respond(t, ws, a.pause_id, 'us-east', 'closest to the customer');
    expect((await asking).json).toEqual({
      status: 'responded',
      choice: 'us-east',
      text: 'closest to the customer',
      responder: decided.responder,
    });
  });

  it('sends progress notifications while the human has not answered', async () => {
    const seen: { progress: number; message?: string }[] = [];
    const asking = call(
      'ask_human',
      { message: 'Ship it?', options: ['Yes', 'No'] },
      { onprogress: (p) => void seen.push(p) },
    );
    const a = await onePending(t, ws, agent.id);
    await expect.poll(() => seen.length).toBeGreaterThanOrEqual(2);
    expect(seen[1]!.progress).toBeGreaterThan(seen[0]!.progress);
    expect(seen[0]!.message).toMatch(/^Waiting for an answer on the web page \(\d+ s\)$/);
    await respond(t, ws, a.pause_id, 'Yes');
    expect((await asking).json.choice).toBe('Yes');
  });

  it('agent_status answers the agent as /v1/agents/me shows it', async () => {
    const r = await call('agent_status', {});
    const me = await t.call('GET', '/v1/agents/me', { key: agent.key });
    expect(r.json).toMatchObject({ id: agent.id, name: me.body.name, status: 'active', pause: null });
  });

  it('bad tool arguments are a tool error naming the field, and nothing is created', async () => {
    const before = (await allApprovals(t, ws, agent.id)).length;
    const noInput = await call('request_permission', { tool_name: 'Bash', input: 'rm -rf /' });
    expect(noInput.isError).toBe(true);
    expect(noInput.text).toMatch(/Invalid arguments for tool request_permission/);
    expect(noInput.text).toMatch(/must be an object at input$/);
    const oneOption = await call('ask_human', { message: 'Ok?', options: ['Yes'] });
    expect(oneOption.isError).toBe(true);
    expect(oneOption.text).toMatch(/at options$/);
    const badChannel = await call('ask_human', { message: 'Ok?', options: ['Yes', 'No'], channel: 'pigeon' });
    expect(badChannel.isError).toBe(true);
    expect(badChannel.text).toMatch(/^Leash refused \(invalid_request\): channel: /);
    const badRecipient = await call('ask_human', {
      message: 'Ok?',
      options: ['Yes', 'No'],
      channel: 'sms',
      recipient: 'nope',
    });
    expect(badRecipient.isError).toBe(true);
    expect(badRecipient.text).toMatch(/recipient/);
    expect((await allApprovals(t, ws, agent.id)).length).toBe(before);
  });

  it('a timeout without a default denies, saying nobody answered', async () => {
    const short = await open(agent.key, { timeoutSeconds: 1 });
    try {
      const r = resultOf(
        await short.client.callTool({ name: 'request_permission', arguments: { tool_name: 'Bash', input: BASH } }),
      );
      expect(r.json).toEqual({
        behavior: 'deny',
        message: 'Denied: nobody answered within 1 s (no default for a timeout)',
      });
      const [last] = await allApprovals(t, ws, agent.id);
      expect(last!.status).toBe('timed_out');
    } finally {
      await short.close();
    }
  });

  it('a client that goes away mid-wait withdraws its question', async () => {
    const leaving = await open(agent.key);
    const asking = leaving.client
      .callTool({ name: 'request_permission', arguments: { tool_name: 'Bash', input: BASH } })
      .catch((err: unknown) => err);
    const a = await onePending(t, ws, agent.id);
    await leaving.close();
    await asking;
    await expect
      .poll(async () => (await t.call('GET', `/v1/pause/${a.pause_id}`, { key: ws.ownerKey })).body.status)
      .toBe('cancelled');
    expect(await pending(t, ws, agent.id)).toEqual([]);
  });

  it('a tool call the client gives up on (its request timeout) withdraws its question', async () => {
    const asking = mcp.client
      .callTool({ name: 'request_permission', arguments: { tool_name: 'Bash', input: BASH } }, undefined, {
        timeout: 1500,
      })
      .catch((err: unknown) => err);
    const a = await onePending(t, ws, agent.id);
    expect(await asking).toMatchObject({ code: -32001 });
    await expect
      .poll(async () => (await t.call('GET', `/v1/pause/${a.pause_id}`, { key: ws.ownerKey })).body.status)
      .toBe('cancelled');
  });

  it('a stopped agent is denied, saying stopped', async () => {
    const stopping = await ws.agent(`mcp-${name}-stop`);
    const client = await open(stopping.key);
    try {
      const stopped = await t.call('POST', `/v1/agents/${stopping.id}/stop`, {
        key: ws.ownerKey,
        body: { graceful: false },
      });
      expect(stopped.status).toBe(200);
      const r = resultOf(
        await client.client.callTool({ name: 'request_permission', arguments: { tool_name: 'Bash', input: BASH } }),
      );
      expect(r.json).toEqual({ behavior: 'deny', message: expect.stringMatching(/^Denied: .*stopped/) });
    } finally {
      await client.close();
    }
  });
});

describe('a bad key', () => {
  it('over HTTP: connecting fails with HTTP 401 and the reason', async () => {
    const refused = await httpClient(`${base}/mcp`, 'lsh_a_notakey').catch((err: unknown) => err);
    expect(refused).toMatchObject({
      code: 401,
      message: expect.stringMatching(
        /"code":"unauthorized","message":"That API key is not valid \(unknown or revoked\)"/,
      ),
    });
  });

  it('over stdio: the tools answer with the refusal, and stderr says so at start', async () => {
    const c = await stdioClient({ LEASH_URL: base, LEASH_API_KEY: 'lsh_a_notakey', LEASH_MCP_RECIPIENT: ws.ownerId });
    try {
      const r = resultOf(await c.client.callTool({ name: 'agent_status', arguments: {} }));
      expect(r.isError).toBe(true);
      expect(r.text).toBe('Leash refused (unauthorized): That API key is not valid (unknown or revoked)');
      await expect.poll(() => c.stderr()).toMatch(/did not accept LEASH_API_KEY: That API key is not valid/);
    } finally {
      await c.close();
    }
  });

  it('over stdio: a setting that cannot work stops the server with a message naming it', async () => {
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'mcp'],
        { env: { PATH: process.env.PATH ?? '', LEASH_URL: base, LEASH_MCP_TIMEOUT_SECONDS: 'soon' } },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^leash mcp: LEASH_MCP_TIMEOUT_SECONDS: /);
  });
});

describe('behind two web processes (queue mode)', () => {
  it('two clients at once, one per process and one spread over both, each decided through the other process', async () => {
    expect(t.config.mode).toBe('queue');
    const otherDeps = buildDeps(t.config);
    const other = await buildWeb(otherDeps);
    const otherBase = await other.listen({ host: '127.0.0.1', port: 0 });
    const clients: McpTestClient[] = [];
    try {
      const [a, b, c] = await Promise.all(['mcp-on-a', 'mcp-on-b', 'mcp-on-both'].map((n) => ws.agent(n)));
      const query = `/mcp?recipient=${ws.ownerId}`;
      // A load balancer that sends each request to the next process.
      let turn = 0;
      const roundRobin = (url: string | URL, init?: RequestInit) =>
        fetch(String(url).replace(base, turn++ % 2 ? otherBase : base), init);
      clients.push(
        await httpClient(base + query, a!.key),
        await httpClient(otherBase + query, b!.key),
        await httpClient(base + query, c!.key, { fetch: roundRobin }),
      );
      const inputs = [{ command: 'ls a' }, { command: 'ls b' }, { command: 'ls both' }];
      const asking = clients.map((m, i) =>
        m.client
          .callTool({ name: 'request_permission', arguments: { tool_name: 'Bash', input: inputs[i] } })
          .then(resultOf),
      );
      const [qa, qb, qc] = await Promise.all([a, b, c].map((x) => onePending(t, ws, x!.id)));
      // A's question answered on B, B's and the spread one's on A.
      const onOther = await other.inject({
        method: 'POST',
        url: `/v1/pause/${qa!.pause_id}/respond`,
        headers: { authorization: `Bearer ${ws.ownerKey}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ choice: 'Allow' }),
      });
      expect(onOther.statusCode).toBe(200);
      await respond(t, ws, qb!.pause_id, 'Allow');
      await respond(t, ws, qc!.pause_id, 'Deny', 'not now');
      const results = await Promise.all(asking);
      expect(results.map((r) => r.json)).toEqual([
        { behavior: 'allow', updatedInput: inputs[0] },
        { behavior: 'allow', updatedInput: inputs[1] },
        { behavior: 'deny', message: expect.stringMatching(/^Denied by .+ via the API: not now$/) },
      ]);
      expect(turn).toBeGreaterThanOrEqual(3);

      // The spread client gives up on a call: its cancel reaches the other process than the call's.
      const from = turn;
      const givingUp = clients[2]!.client
        .callTool({ name: 'request_permission', arguments: { tool_name: 'Bash', input: inputs[2] } }, undefined, {
          timeout: 1500,
        })
        .catch((err: unknown) => err);
      const q = await onePending(t, ws, c!.id);
      expect(await givingUp).toMatchObject({ code: -32001 });
      expect(turn - from).toBe(2); // the call on one process, the cancel on the other
      await expect
        .poll(async () => (await t.call('GET', `/v1/pause/${q.pause_id}`, { key: ws.ownerKey })).body.status)
        .toBe('cancelled');
    } finally {
      await Promise.all(clients.map((m) => m.close()));
      await other.close();
      await closeDeps(otherDeps);
    }
  });
});

describe('what the human sees', () => {
  it('the response page and the dashboard show the whole tool input beside the question', async () => {
    const agent = await ws.agent('mcp-shown');
    const mcp = await httpClient(`${base}/mcp?recipient=${ws.ownerId}`, agent.key);
    try {
      const input = { command: 'terraform apply -auto-approve', description: 'Apply <prod> plan' };
      const asking = mcp.client.callTool({ name: 'request_permission', arguments: { tool_name: 'Bash', input } });
      const a = await onePending(t, ws, agent.id);
      const indented =
        '{\n  &quot;command&quot;: &quot;terraform apply -auto-approve&quot;,\n  &quot;description&quot;: &quot;Apply &lt;prod&gt; plan&quot;\n}';
      const page = await t.call('GET', new URL(a.url!).pathname);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<dt>tool_name</dt><dd>Bash</dd>');
      expect(page.body).toContain(`<dt>input</dt><dd><pre class="meta">${indented}</pre></dd>`);
      const dashboard = await dashboardBrowser(t).signedIn(ws.ownerKey);
      const approvals = await dashboard.get('/approvals');
      expect(approvals.html).toContain(`<pre class="meta">${indented}</pre>`);
      await respond(t, ws, a.pause_id, 'Deny');
      await asking;
    } finally {
      await mcp.close();
    }
  });
});

describe('the /mcp endpoint', () => {
  const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
  const accept = { accept: 'application/json, text/event-stream' };

  it('refuses an unknown channel in the query or a header, naming it', async () => {
    const agent = await ws.agent('mcp-where');
    const byQuery = await t.call('POST', '/mcp?channel=pigeon', { key: agent.key, body: list, headers: accept });
    expect(byQuery.status).toBe(400);
    expect(byQuery.body.error.fields[0].field).toBe('query.channel');
    const byHeader = await t.call('POST', '/mcp', {
      key: agent.key,
      body: list,
      headers: { ...accept, 'x-leash-channel': 'pigeon' },
    });
    expect(byHeader.status).toBe(400);
    expect(byHeader.body.error).toMatchObject({
      code: 'invalid_request',
      fields: [{ field: 'header.x-leash-channel' }],
    });
  });

  it('takes only agent keys, and answers GET and DELETE with 405 (stateless)', async () => {
    const member = await t.call('POST', '/mcp', { key: ws.ownerKey, body: list, headers: accept });
    expect(member.status).toBe(403);
    expect(member.body.error.message).toBe('This route takes an agent key');
    const agent = await ws.agent('mcp-methods');
    for (const method of ['GET', 'DELETE']) {
      const res = await t.call(method, '/mcp', { key: agent.key, headers: accept });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
    }
  });
});
