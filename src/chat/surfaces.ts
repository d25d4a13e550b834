// How each chat surface spells what Leash tells people: who is speaking, a command, and the
// commands that link an identity and choose a default workspace. The wording is shared
// (./identity.ts, ./self-service.ts); only the spelling differs (`/pause` in Slack and Telegram,
// `PAUSE` by SMS).
import { surfaceOf, type Identity } from '../members/identities.js';

export type Surface = ReturnType<typeof surfaceOf>;

export interface Spelling {
  /** The identity, addressed: "Your Slack account". */
  yours: string;
  /** The identity, in a confirmation: "this Slack account". */
  self: string;
  /** A command as typed there: "/pause acme/bob", "PAUSE acme/bob". */
  command(name: string, rest?: string): string;
  link: string;
  use: string;
  /** Where to send a command from: "here", "by SMS from this phone". */
  here: string;
}

const slash = (name: string, rest?: string) => `/${name}${rest ? ` ${rest}` : ''}`;
/** SMS spells a stop HALT: STOP is the carriers' opt-out word. */
const SMS_WORD: Record<string, string> = { stop: 'HALT' };

const SPELLING: Record<Surface, Spelling> = {
  slack: {
    yours: 'Your Slack account',
    self: 'this Slack account',
    command: slash,
    link: '/leash link',
    use: '/leash use',
    here: 'here',
  },
  telegram: {
    yours: 'Your Telegram account',
    self: 'this Telegram account',
    command: slash,
    link: '/link',
    use: '/use',
    here: 'here',
  },
  sms: {
    yours: 'This phone number',
    self: 'this phone number',
    command: (name, rest) => `${SMS_WORD[name] ?? name.toUpperCase()}${rest ? ` ${rest}` : ''}`,
    link: 'LINK',
    use: 'USE',
    here: 'by SMS from this phone',
  },
};

export const spellingOn = (surface: Surface): Spelling => SPELLING[surface];
export const spellingFor = (identity: Identity): Spelling => spellingOn(surfaceOf(identity));
