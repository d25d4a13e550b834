// The Slack Web API client as Leash uses it: base URL from SLACK_API_URL (fakes on loopback in
// tests), no retry loop inside the SDK (a 429 becomes RetryLater and the job waits out
// Retry-After), and a 10 s timeout.
import { ErrorCode, WebClient, type WebAPICallError } from '@slack/web-api';
import type { Config } from '../../config.js';
import { RetryLater } from '../adapter.js';

const clients = new Map<string, WebClient>();

export function slackClient(config: Config): WebClient {
  const key = `${config.slack.apiUrl} ${config.slack.botToken}`;
  let c = clients.get(key);
  if (!c) {
    c = new WebClient(config.slack.botToken, {
      slackApiUrl: config.slack.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 10_000,
    });
    clients.set(key, c);
  }
  return c;
}

/** The Slack error code of a failed call (`channel_not_found`, …), if Slack answered one. */
export function slackError(err: unknown): string | undefined {
  const e = err as WebAPICallError;
  return e?.code === ErrorCode.PlatformError ? String(e.data?.error ?? 'unknown') : undefined;
}

/** Runs a Web API call; a 429 becomes RetryLater at Slack's Retry-After. */
export async function callSlack<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as WebAPICallError;
    if (e?.code === ErrorCode.RateLimitedError)
      throw new RetryLater(
        Date.now() + Math.max(1, e.retryAfter) * 1000,
        `Slack rate-limited ${what}; retrying after ${e.retryAfter} s`,
      );
    throw err;
  }
}
