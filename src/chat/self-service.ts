// What a person does about their own identity from a chat surface, worded alike on every one:
// confirm it for their member with a link code (`link CODE`), and, confirmed in several
// workspaces, choose where commands that name none go (`use acme`, `use`, `use none`).
import type { Db } from '../db/index.js';
import { memberName } from '../members/acting.js';
import { chooseDefault, defaultWorkspace, type Identity } from '../members/identities.js';
import { redeemLinkCode } from '../members/link-codes.js';
import { answerOf } from './commands.js';
import { named, notConfirmed, placesOf, type Places } from './identity.js';
import { spellingFor } from './surfaces.js';

/** `link CODE`, sent from the identity itself: sets it on the code's member and confirms it. */
export async function linkCommand(db: Db, identity: Identity, args: string[]): Promise<string> {
  if (args.length !== 1)
    return `Usage: ${spellingFor(identity).link} <code> (get a code with POST /v1/members/me/link-codes)`;
  return answerOf(link(db, identity, args[0]!));
}

async function link(db: Db, identity: Identity, code: string): Promise<string> {
  const { member, workspace } = await redeemLinkCode(db, code, identity);
  const linked = `Linked and confirmed: ${spellingFor(identity).self} now acts as ${memberName(member)} (${member.role}) in ${workspace.name}.`;
  const places = await placesOf(db, identity);
  return places.holders.length > 1 ? `${linked} ${await whereBareCommandsGo(db, identity, places)}` : linked;
}

/** Said after a link that makes several workspaces. */
async function whereBareCommandsGo(db: Db, identity: Identity, places: Places): Promise<string> {
  const chosen = await defaultWorkspace(db, identity);
  const use = spellingFor(identity).use;
  return chosen && places.holders.some((h) => h.workspace_id === chosen)
    ? `Commands that name no workspace still go to ${places.label(chosen)}, your default (yours: ${places.list}; change it with ${use} <workspace>).`
    : `You are in ${places.holders.length} workspaces (${places.list}): name one in a command, or choose a default with ${use} <workspace>.`;
}

/** The word that forgets the default (a workspace whose handle is "none" is then named by its id). */
const FORGET = 'none';

/** `use [workspace|none]`: shows, chooses or forgets the workspace that commands naming none go to. */
export async function useCommand(db: Db, identity: Identity, args: string[]): Promise<string> {
  const use = spellingFor(identity).use;
  if (args.length > 1) return `Usage: ${use} [<workspace>|${FORGET}]`;
  const places = await placesOf(db, identity);
  if (places.holders.length === 0) return notConfirmed(identity);
  const [word] = args;
  if (!word) return showDefault(db, identity, places);
  if (word.toLowerCase() === FORGET) return forgetDefault(db, identity, places);
  const choice = named(places, word);
  if ('refusal' in choice) return choice.refusal;
  await chooseDefault(db, identity, choice.holder.workspace_id);
  return `Commands that name no workspace now go to ${places.label(choice.holder.workspace_id)}.`;
}

async function showDefault(db: Db, identity: Identity, places: Places): Promise<string> {
  if (places.holders.length === 1) return `Your commands go to ${places.list}, your only workspace.`;
  const use = spellingFor(identity).use;
  const chosen = await defaultWorkspace(db, identity);
  return chosen && places.holders.some((h) => h.workspace_id === chosen)
    ? `Commands that name no workspace go to ${places.label(chosen)}, your default. Yours: ${places.list}. Change it with ${use} <workspace>, or forget it with ${use} ${FORGET}.`
    : `You have no default workspace. Yours: ${places.list}. Choose one with ${use} <workspace>.`;
}

async function forgetDefault(db: Db, identity: Identity, places: Places): Promise<string> {
  await chooseDefault(db, identity, null);
  if (places.holders.length === 1)
    return `No default workspace now. Your commands go to ${places.list}, your only workspace.`;
  const example = spellingFor(identity).command('pause', `${places.label(places.holders[0]!.workspace_id)}/<agent>`);
  return `No default workspace now. Commands must name one of yours (${places.list}), e.g. ${example}.`;
}
