// The PausePoint-compatible request (contract §3.1), validated field by field with zod so every
// refusal names its field. MAX_TIMEOUT_HOURS and the channels come from the process, so the schema is
// built per process.
import { z } from 'zod';
import type { ChannelRules } from './channels.js';

export const METADATA_LIMIT = 16 * 1024;

export function pauseRequestSchema(
  maxTimeoutHours: number,
  channels: readonly ChannelRules[],
  opts: { allowHttp?: boolean } = {},
) {
  const byName = new Map(channels.map((c) => [c.name, c]));
  return z
    .object({
      recipient: z.string().min(1).max(320),
      channel: z.enum(channels.map((c) => c.name) as [string, ...string[]]),
      message: z.string().min(1).max(2000),
      options: z
        .array(z.string().trim().min(1).max(200))
        .min(2)
        .max(5)
        .refine((o) => new Set(o).size === o.length, 'must be distinct'),
      allow_text_response: z.boolean().default(false),
      timeout_hours: z.number().int().min(1).max(maxTimeoutHours).optional(),
      timeout_seconds: z
        .number()
        .int()
        .min(1)
        .max(maxTimeoutHours * 3600)
        .optional()
        .describe('Leash extension: the timeout in seconds, instead of timeout_hours'),
      timeout_default: z.string().nullable().default(null),
      approvers: z
        .array(z.string().trim().min(1).max(320))
        .min(1)
        .max(50)
        .nullable()
        .default(null)
        .describe('Leash extension: member ids or emails; when set, only they may decide'),
      ...policyFields(channels),
      metadata: z
        .record(z.string(), z.unknown())
        .nullable()
        .default(null)
        .refine(
          (m) => m === null || Buffer.byteLength(JSON.stringify(m)) <= METADATA_LIMIT,
          'must be at most 16 KiB as JSON',
        ),
    })
    .strict()
    .superRefine((r, ctx) => {
      const problem = byName.get(r.channel)?.recipientProblem(r.recipient, opts);
      if (problem) ctx.addIssue({ code: 'custom', path: ['recipient'], message: problem });
      if (r.timeout_default !== null && !r.options.includes(r.timeout_default)) {
        ctx.addIssue({ code: 'custom', path: ['timeout_default'], message: 'must be one of options (or null)' });
      }
      policyProblems(r, byName, opts).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue }));
      if (r.timeout_hours !== undefined && r.timeout_seconds !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['timeout_seconds'],
          message: 'give either timeout_hours or timeout_seconds, not both',
        });
      }
    });
}

/** The Leash extensions of §3.1 that say who decides and who else is asked, and when. */
function policyFields(channels: readonly ChannelRules[]) {
  return {
    approvals_required: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(1)
      .describe('Leash extension: distinct deciders the first option needs; any other option is decided by one'),
    escalation: z
      .array(
        z
          .object({
            after_seconds: z.number().int().min(1),
            channel: z.enum(channels.filter((c) => c.name !== 'web').map((c) => c.name) as [string, ...string[]]),
            recipient: z.string().min(1).max(320),
          })
          .strict(),
      )
      .min(1)
      .max(3)
      .nullable()
      .default(null)
      .describe('Leash extension: still pending after_seconds after creation, the question is also sent there'),
    remind_after_seconds: z
      .number()
      .int()
      .min(1)
      .nullable()
      .default(null)
      .describe('Leash extension: still pending this long after creation, one reminder to the same recipient'),
  };
}

export type PauseRequest = z.output<ReturnType<typeof pauseRequestSchema>>;

type Issue = { path: (string | number)[]; message: string };

/** Escalation and the reminder, against the request's timeout and channels: each must come
 *  before the timeout (after it there is nobody left to ask), steps in order, recipients that
 *  their channel takes. */
function policyProblems(
  r: Omit<PauseRequest, 'metadata'>,
  byName: Map<string, ChannelRules>,
  opts: { allowHttp?: boolean },
): Issue[] {
  const timeoutS = timeoutMs(r) / 1000;
  const issues: Issue[] = [];
  (r.escalation ?? []).forEach((step, i) => {
    if (step.after_seconds >= timeoutS)
      issues.push({ path: ['escalation', i, 'after_seconds'], message: `must be before the timeout (${timeoutS} s)` });
    const before = r.escalation![i - 1];
    if (before && step.after_seconds <= before.after_seconds)
      issues.push({ path: ['escalation', i, 'after_seconds'], message: 'must be later than the step before' });
    const problem = byName.get(step.channel)?.recipientProblem(step.recipient, opts);
    if (problem) issues.push({ path: ['escalation', i, 'recipient'], message: problem });
  });
  if (r.remind_after_seconds !== null) {
    if (r.channel === 'web')
      issues.push({
        path: ['remind_after_seconds'],
        message: 'a web question is not sent anywhere, so it cannot be reminded of',
      });
    else if (r.remind_after_seconds >= timeoutS)
      issues.push({ path: ['remind_after_seconds'], message: `must be before the timeout (${timeoutS} s)` });
  }
  return issues;
}

export function timeoutMs(r: Pick<PauseRequest, 'timeout_hours' | 'timeout_seconds'>): number {
  if (r.timeout_seconds !== undefined) return r.timeout_seconds * 1000;
  return (r.timeout_hours ?? 24) * 3_600_000;
}
