// What both Slack receivers (the request URL and Socket Mode) need to take a request once:
// its dedupe key, and which failures of Slack's own mean "try again later".

/** Events API copies share their event_id (Slack's retries); anything else is keyed by what
 *  identifies this one delivery (the request's signature, the envelope's id). */
export function slackKey(body: Record<string, unknown>, delivery: string): string {
  return typeof body.event_id === 'string' ? body.event_id : delivery;
}

/** The Web API unreachable (request error), rate-limited, or answering 5xx; a response_url that
 *  answers 5xx. A platform error (`ok: false`, such as `channel_not_found`) is for good. */
export function slackUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  switch (e?.code) {
    case 'slack_webapi_request_error':
    case 'slack_webapi_rate_limited_error':
      return true;
    case 'slack_webapi_http_error':
    case 'slack_bolt_respond_error':
      return typeof e.statusCode === 'number' && e.statusCode >= 500;
    default:
      return false;
  }
}
