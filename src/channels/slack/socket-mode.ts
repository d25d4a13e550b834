// Socket Mode, for development without a public URL: with SLACK_APP_TOKEN set, the web process
// opens Slack's WebSocket (apps.connections.open under SLACK_API_URL) and the same Bolt app
// handles what arrives. The socket is authenticated by the app token, so there is no request
// signature; envelopes already handled (a redelivery) are acknowledged and ignored. A failure before
// the ack that may pass (the database away) leaves the envelope unacknowledged and forgotten, so
// Slack's redelivery is handled; a bad envelope is acknowledged (handleOnce, src/chat/dedupe.ts).
import type { App, Receiver } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import { handleOnce } from '../../chat/dedupe.js';
import type { Deps } from '../../deps.js';
import { boltLogger, createSlackApp } from './app.js';
import { slackKey, slackUnavailable } from './inbound.js';

interface Envelope {
  ack: (response?: Record<string, unknown>) => Promise<void>;
  envelope_id: string;
  body: Record<string, unknown>;
  retry_num?: number;
}

/** Connects and serves until the returned function is called. */
export async function startSocketMode(deps: Deps): Promise<() => Promise<void>> {
  const { config } = deps;
  let app: App | undefined;
  const receiver: Receiver = {
    init: (a) => void (app = a),
    start: async () => {},
    stop: async () => {},
  };
  createSlackApp(deps, receiver);
  const client = new SocketModeClient({
    appToken: config.slack.appToken!,
    clientOptions: { slackApiUrl: config.slack.apiUrl },
    logger: boltLogger(deps.log.child({ component: 'slack-socket' })),
  });
  client.on('slack_event', async (e: Envelope) => {
    let acked = false;
    const ack = async (response?: Record<string, unknown>) => {
      acked = true;
      await e.ack(response);
    };
    const what = `slack envelope ${String(e.body.type ?? e.body.command ?? 'request')}`;
    const outcome = await handleOnce(
      deps,
      {
        source: 'slack',
        key: slackKey(e.body, `envelope:${e.envelope_id}`),
        what,
        vendorUnavailable: slackUnavailable,
      },
      () =>
        app!.processEvent({
          body: e.body,
          ack: async (response) => ack(typeof response === 'string' ? { text: response } : response),
          ...(e.retry_num ? { retryNum: e.retry_num } : {}),
        }),
    );
    // Unacknowledged, Slack sends the envelope again: wanted only when handling may now succeed.
    if (outcome !== 'retry' && !acked)
      await ack().catch((err) => deps.log.warn({ err: err.message }, 'slack socket ack failed'));
  });
  await client.start();
  return async () => {
    await client.disconnect();
  };
}
