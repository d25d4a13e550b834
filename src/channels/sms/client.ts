// The Twilio REST client as Leash uses it: base URL from TWILIO_API_URL (fakes on loopback in
// tests); a 429 becomes RetryLater.
import twilio from 'twilio';
import type { Config } from '../../config.js';
import { RetryLater } from '../adapter.js';

type Client = ReturnType<typeof twilio>;
const clients = new Map<string, Client>();

export function twilioClient(config: Config): Client {
  const { accountSid, authToken, apiUrl } = config.twilio;
  const key = `${apiUrl} ${accountSid}`;
  let c = clients.get(key);
  if (!c) {
    c = twilio(accountSid, authToken, { autoRetry: false, timeout: 10_000 });
    // Messages live under the api domain; pointing it elsewhere is how tests reach the fake.
    c.api.baseUrl = apiUrl;
    clients.set(key, c);
  }
  return c;
}

export async function sendSms(config: Config, to: string, body: string): Promise<string> {
  try {
    const m = await twilioClient(config).messages.create({ to, from: config.twilio.from!, body });
    return m.sid;
  } catch (err) {
    const e = err as { status?: number };
    if (e.status === 429) throw new RetryLater(Date.now() + 5_000, 'Twilio rate-limited the message; retrying in 5 s');
    throw err;
  }
}
