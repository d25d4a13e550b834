// Socket Mode, for development without a public URL: with SLACK_APP_TOKEN set, the web process
// opens Slack's WebSocket (apps.connections.open under SLACK_API_URL) and the same Bolt app
// handles what arrives. The socket is authenticated by the app token, so there is no request
// signature; envelopes already handled (a redelivery) are acknowledged and ignored.
import type { App, Receiver } from '@slack/bolt';
import { SocketModeClient } from '@slack/socket-mode';
import { firstTime } from '../../chat/dedupe.js';
import type { Deps } from '../../deps.js';
import { boltLogger, createSlackApp } from './app.js';

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
    try {
      const key = typeof e.body.event_id === 'string' ? e.body.event_id : `envelope:${e.envelope_id}`;
      if (!(await firstTime(deps.db, 'slack', key))) return void (await e.ack());
      await app!.processEvent({ body: e.body, ack: async (response) => e.ack(typeof response === 'string' ? { text: response } : response), ...(e.retry_num ? { retryNum: e.retry_num } : {}) });
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'slack socket event failed');
    }
  });
  await client.start();
  return async () => {
    await client.disconnect();
  };
}
