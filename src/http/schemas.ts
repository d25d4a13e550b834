// Response shapes, for the OpenAPI document and the response serializer. Request shapes live
// next to the domain rules they come from.
import { z } from 'zod';

export const isoTime = z.string().meta({ description: 'ISO 8601 UTC time', format: 'date-time' });
export const uuid = z.uuid();
/** An agent id or name from a path or query string. Bodies are guarded by the JSON parser; these are
 *  not, and Postgres refuses a string holding NUL (a 400 that could not say which field). */
export const agentRef = z
  .string()
  .min(1)
  .max(64)
  .refine((v) => !v.includes('\u0000'), 'must not contain NUL characters');

export const errorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
      request_id: z
        .string()
        .describe('the id of this request on the server’s log lines (also the x-request-id header)'),
    }),
  })
  .meta({ id: 'Error' });

export const actor = z.object({
  type: z.enum(['member', 'agent', 'operator', 'system', 'link']),
  id: z.string().nullable(),
  display: z.string(),
});

export const agentObject = z
  .object({
    id: uuid,
    name: z.string(),
    display_name: z.string().nullable(),
    status: z.enum(['active', 'paused', 'stopping', 'inactive']),
    pause: z
      .object({
        mode: z.enum(['send', 'full']),
        since: isoTime,
        by: actor.extend({ channel: z.string() }).nullable(),
        reason: z.string().nullable(),
      })
      .nullable(),
    paused_at: isoTime.nullable(),
    stopped_at: isoTime.nullable(),
    stop_deadline: isoTime.nullable(),
    backlog: z.object({ undelivered: z.number().int(), oldest_at: isoTime.nullable() }),
    presence: z.enum(['online', 'offline']),
    delivery_url: z.string().nullable(),
    created_at: isoTime,
    updated_at: isoTime,
  })
  .meta({ id: 'Agent' });

export const memberObject = z
  .object({
    id: uuid,
    email: z.string(),
    role: z.enum(['owner', 'approver', 'viewer']),
    display_name: z.string().nullable(),
    phone: z.string().nullable(),
    phone_confirmed: z.boolean().meta({
      description: 'The phone acts (commands, credited answers) only once its holder confirmed it with LINK CODE',
    }),
    slack: z
      .object({
        team_id: z.string(),
        user_id: z.string(),
        confirmed: z.boolean().meta({ description: 'Acts only once confirmed with /leash link CODE' }),
      })
      .nullable(),
    telegram: z
      .object({
        user_id: z.string(),
        confirmed: z.boolean().meta({ description: 'Acts only once confirmed with /link CODE' }),
      })
      .nullable(),
    created_at: isoTime,
    updated_at: isoTime,
  })
  .meta({ id: 'Member' });

export const sessionObject = z
  .object({
    id: uuid,
    agent_id: uuid,
    task: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    status: z.enum(['running', 'paused', 'cancelled', 'completed']),
    paused_at: isoTime.nullable(),
    finished_at: isoTime.nullable(),
    created_at: isoTime,
    updated_at: isoTime,
  })
  .meta({ id: 'Session' });

export const activityObject = z
  .object({
    id: uuid,
    action: z.string(),
    agent_id: uuid.nullable(),
    session_id: uuid.nullable(),
    actor,
    channel: z.string(),
    details: z.record(z.string(), z.unknown()),
    created_at: isoTime,
  })
  .meta({ id: 'Activity' });

export function page<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

/** The error responses a route can give, for the OpenAPI document. */
export function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, errorBody]));
}

export const approvalObject = z
  .object({
    pause_id: uuid,
    status: z.enum(['pending', 'responded', 'timed_out', 'cancelled']),
    response_choice: z.string().nullable(),
    response_text: z.string().nullable(),
    response_at: isoTime.nullable(),
    expires_at: isoTime,
    metadata: z.record(z.string(), z.unknown()).nullable(),
    channel: z
      .string()
      .describe(
        "the channel the question was asked on: one the request's enum names (or one this build no longer has)",
      ),
    recipient: z.string(),
    message: z.string(),
    options: z.array(z.string()),
    allow_text_response: z.boolean(),
    timeout_default: z.string().nullable(),
    created_at: isoTime,
    agent_id: uuid.nullable(),
    responder: z.object({ channel: z.string(), member_id: z.string().optional(), display: z.string() }).nullable(),
    via_timeout: z.boolean(),
    request_hash: z
      .string()
      .nullable()
      .describe(
        'sha256:<hex> of the RFC 8785 canonical JSON of agent_id, channel, recipient, message, options, metadata, allow_text_response, timeout_default, expires_at (docs/api.md); null for approvals older than it',
      ),
    approvers: z
      .array(z.string())
      .nullable()
      .describe('member ids: when set, only they may decide (403 not_an_approver for others)'),
    approvals_required: z
      .number()
      .int()
      .describe('distinct deciders the first option needs; any other option is decided by one'),
    votes: z
      .array(
        z.object({
          choice: z.string(),
          text: z.string().nullable(),
          channel: z.string(),
          member_id: z.string().optional(),
          display: z.string(),
          at: isoTime,
        }),
      )
      .describe("each decider's vote, oldest first; kept only when approvals_required > 1"),
    escalation: z
      .array(z.object({ after_seconds: z.number().int(), channel: z.string(), recipient: z.string() }))
      .nullable(),
    remind_after_seconds: z.number().int().nullable(),
    url: z
      .string()
      .nullable()
      .describe(
        'the response page (it decides web and email questions; on sms, slack and telegram it only shows the state). Null for viewers, and for agent keys on every channel but web',
      ),
    delivery: z
      .array(
        z.object({
          channel: z.string(),
          recipient: z.string(),
          status: z
            .enum(['queued', 'sent', 'failed', 'skipped'])
            .describe(
              'queued: not sent yet (retried with backoff; error says why the last try failed); failed: refused for good; skipped: settled before it went out',
            ),
          sent_at: isoTime.nullable(),
          error: z.string().nullable(),
        }),
      )
      .describe('the question as sent to each recipient (empty for web: nobody is notified)'),
  })
  .meta({ id: 'Approval' });
