// The NOTIFY keys that wake waiters across processes (src/db/notifier.ts), in one place: what
// notifies a key and who listens to it should be easy to find.

/** An agent's own events (every event with an agent notifies it, see recordChange): a graceful
 *  stop waits on it, and the agent's open streams turn the events into control frames. */
export const agentKey = (agentId: string) => `agent:${agentId}`;

/** An agent's inbox: a new message, or an unpause, a start or a new delivery_url that lets held
 *  ones go. Streams and long-polls wait on it; the worker hears every inbox by the prefix. */
export const INBOX_PREFIX = 'inbox:';
export const inboxKey = (agentId: string) => `${INBOX_PREFIX}${agentId}`;

/** A new delivery_url: the drain waiting out the old URL's backoff goes now. */
export const DRAIN_RESET_PREFIX = 'drain-reset:';
export const drainResetKey = (agentId: string) => `${DRAIN_RESET_PREFIX}${agentId}`;

/** An MCP client gave up on one of its tool calls (notifications/cancelled, detail: the JSON-RPC id):
 *  the stateless /mcp sends it on whichever process got the cancel, and the process holding the
 *  call ends it. */
export const mcpCancelKey = (agentId: string) => `mcp-cancel:${agentId}`;
