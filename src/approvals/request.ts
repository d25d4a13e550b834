// The PausePoint-compatible request (contract §3.1), validated field by field with zod so every
// refusal names its field. MAX_TIMEOUT_HOURS comes from config, so the schema is built per process.
import { z } from 'zod';

export const CHANNELS = ['sms', 'email', 'slack', 'telegram', 'web'] as const;
export const METADATA_LIMIT = 16 * 1024;

const E164 = /^\+[1-9]\d{6,14}$/;
const EMAIL = z.email();
const UUID = z.uuid();

/** Why `recipient` cannot be an address on `channel`, or undefined if it can. */
export function recipientProblem(
  channel: (typeof CHANNELS)[number],
  recipient: string,
  opts: { allowHttp?: boolean } = {},
): string | undefined {
  switch (channel) {
    case 'sms':
      return E164.test(recipient) ? undefined : 'must be an E.164 phone number such as +15551234567 for channel sms';
    case 'email':
      return EMAIL.safeParse(recipient).success ? undefined : 'must be an email address for channel email';
    case 'slack':
      // Plain http only where private targets are allowed too (development, tests).
      return /^[CDGUW][A-Z0-9]{2,}$/.test(recipient) ||
        (opts.allowHttp ? /^https?:\/\/\S+$/ : /^https:\/\/\S+$/).test(recipient)
        ? undefined
        : 'must be a Slack channel or user ID (C…, U…) or an incoming-webhook URL for channel slack';
    case 'telegram':
      return /^-?\d{1,20}$/.test(recipient) || /^@[A-Za-z0-9_]{5,32}$/.test(recipient)
        ? undefined
        : 'must be a Telegram chat ID for channel telegram';
    case 'web':
      return EMAIL.safeParse(recipient).success || UUID.safeParse(recipient).success
        ? undefined
        : 'must be an email address or a member id for channel web';
  }
}

export function pauseRequestSchema(maxTimeoutHours: number, opts: { allowHttp?: boolean } = {}) {
  return z
    .object({
      recipient: z.string().min(1).max(320),
      channel: z.enum(CHANNELS),
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
      const problem = recipientProblem(r.channel, r.recipient, opts);
      if (problem) ctx.addIssue({ code: 'custom', path: ['recipient'], message: problem });
      if (r.timeout_default !== null && !r.options.includes(r.timeout_default)) {
        ctx.addIssue({ code: 'custom', path: ['timeout_default'], message: 'must be one of options (or null)' });
      }
      if (r.timeout_hours !== undefined && r.timeout_seconds !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['timeout_seconds'],
          message: 'give either timeout_hours or timeout_seconds, not both',
        });
      }
    });
}

export type PauseRequest = z.output<ReturnType<typeof pauseRequestSchema>>;

export function timeoutMs(r: Pick<PauseRequest, 'timeout_hours' | 'timeout_seconds'>): number {
  if (r.timeout_seconds !== undefined) return r.timeout_seconds * 1000;
  return (r.timeout_hours ?? 24) * 3_600_000;
}
