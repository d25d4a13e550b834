// The tools' LeashPort inside a web process (Streamable HTTP at /mcp): the core's own actions for
// the authenticated agent, and a wait that wakes on the approval's and the agent's NOTIFY keys, so a
// decision or a pause made on any process ends it at once.
import { approvalKey, approvalView, createApproval } from '../approvals/approvals.js';
import { cancelApproval, isNotPending, readApproval } from '../approvals/decide.js';
import { pauseRequestSchema } from '../approvals/request.js';
import { findAgent } from '../agents/registry.js';
import { agentView } from '../agents/view.js';
import type { Ctx } from '../context.js';
import { scopeOf } from '../context.js';
import type { Deps } from '../deps.js';
import type { AgentRow } from '../db/schema.js';
import { invalid } from '../errors.js';
import { agentKey } from '../wakeups.js';
import type { AgentSeen, ApprovalSeen, AskBody, LeashPort } from './port.js';

type Core = Pick<Deps, 'db' | 'notifier' | 'approvals' | 'config'>;

export function inProcessPort(deps: Core, ctx: Ctx, agent: AgentRow): LeashPort {
  const { db, notifier, approvals: settings } = deps;
  const schema = pauseRequestSchema(deps.config.maxTimeoutHours, settings.channels.known, {
    allowHttp: deps.config.allowPrivateUrls,
  });
  const scope = scopeOf(ctx);
  const view = (row: Awaited<ReturnType<typeof readApproval>>) => approvalView(row, settings, 'agent') as ApprovalSeen;
  const readAgent = async () => agentView(await findAgent(db, ctx.workspaceId, agent.id)) as AgentSeen;
  return {
    agent: readAgent,
    async ask(body: AskBody) {
      const parsed = schema.safeParse(body);
      if (!parsed.success) {
        invalid(parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
      }
      return (await createApproval(db, ctx, agent, parsed.data, settings)) as ApprovalSeen;
    },
    async wait(id, ms, signal) {
      const settledOrHeld = async () => {
        const row = await readApproval(db, scope, id, settings);
        if (row.status !== 'pending' || (await readAgent()).status !== 'active') return row;
        return undefined;
      };
      const row = await notifier.waitFor([approvalKey(id), agentKey(agent.id)], ms, settledOrHeld, signal);
      return view(row ?? (await readApproval(db, scope, id, settings)));
    },
    async cancel(id) {
      try {
        await cancelApproval(db, ctx, id, settings);
      } catch (err) {
        if (!isNotPending(err)) throw err;
      }
    },
  };
}
