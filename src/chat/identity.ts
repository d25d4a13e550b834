// Who is acting on a chat surface: the member a verified vendor identity is linked to AND
// confirmed for (an owner's claim on an identity never acts, src/members/identities.ts). A person
// confirmed in several workspaces acts in the one the command names (`acme/bob`), else in the
// default they chose. Refusals name only the person's own workspaces, and none is ever caused by
// another workspace: one that claims your identity without your confirmation is not counted.
import type { Ctx } from '../context.js';
import { isUuid, type Db } from '../db/index.js';
import type { Member } from '../db/schema.js';
import { memberCtx } from '../members/acting.js';
import { confirmedHolders, defaultWorkspace, surfaceOf, type Holder, type Identity } from '../members/identities.js';
import { workspaceHandle } from '../workspaces/workspaces.js';
import { spellingFor } from './surfaces.js';

/** A workspace as the person names it: its handle, or its id where the handle is not enough. */
export interface Place {
  id: string;
  label: string;
}

export type Acting = { member: Member; ctx: Ctx; workspace: Place; several: boolean } | { refusal: string };

/** The refusal for an identity with no confirmed member (in `scope`): the same words whether it
 *  is unknown or only claimed, so that it tells nothing about any workspace. Within Telegram's
 *  200 characters for an answer to a button. */
export function notConfirmed(identity: Identity, scope = 'a Leash member'): string {
  const s = spellingFor(identity);
  return `${s.yours} is not linked to ${scope}, or not confirmed yet, so nothing was changed. To link or confirm it, send ${s.link} CODE ${s.here}, with a code from POST /v1/members/me/link-codes.`;
}

function acting(holder: Holder, identity: Identity, workspace: Place, several: boolean): Acting {
  return { member: holder, ctx: memberCtx(holder, surfaceOf(identity)), workspace, several };
}

/** The workspaces a person is confirmed in, oldest first, as they name them. */
export interface Places {
  holders: Holder[];
  /** A workspace's label: its handle, unless two of theirs share it (or it has none), then its id. */
  label(workspaceId: string): string;
  /** Every label, for a refusal or an answer to list: "acme, beta". */
  list: string;
}

function placesFrom(holders: Holder[]): Places {
  const handles = new Map(holders.map((h) => [h.workspace_id, workspaceHandle(h.workspace_name)]));
  const shared = (handle: string) => [...handles.values()].filter((x) => x === handle).length > 1;
  const label = (id: string) => {
    const handle = handles.get(id) ?? '';
    return handle && !shared(handle) ? handle : id;
  };
  return { holders, label, list: holders.map((h) => label(h.workspace_id)).join(', ') };
}

export async function placesOf(db: Db, identity: Identity): Promise<Places> {
  return placesFrom(await confirmedHolders(db, identity));
}

/** The one of the person's workspaces that `word` names, by handle or id. */
export function named(places: Places, word: string): { holder: Holder } | { refusal: string } {
  const { holders } = places;
  const handle = workspaceHandle(word);
  const found = isUuid(word)
    ? holders.filter((h) => h.workspace_id === word.toLowerCase())
    : holders.filter((h) => handle !== '' && workspaceHandle(h.workspace_name) === handle);
  if (found.length === 1) return { holder: found[0]! };
  if (found.length > 1)
    return {
      refusal: `“${word}” names ${found.length} of your workspaces, so nothing was changed: name one by its id (${found.map((h) => h.workspace_id).join(', ')}).`,
    };
  return {
    refusal: `None of your Leash workspaces is called “${word}” (yours: ${places.list}), so nothing was changed.`,
  };
}

/** Who acts on something of `workspaceId`, such as an approval: the identity's confirmed member
 *  there, whatever other workspaces it is confirmed in. */
export async function actingIn(db: Db, identity: Identity, workspaceId: string): Promise<Acting> {
  const [holder] = await confirmedHolders(db, identity, workspaceId);
  if (!holder) return { refusal: notConfirmed(identity, 'this workspace') };
  return acting(
    holder,
    identity,
    { id: holder.workspace_id, label: placesFrom([holder]).label(holder.workspace_id) },
    false,
  );
}

/**
 * Who runs a command: the identity's confirmed member in the workspace the command names
 * (`word`), or, naming none, in its only workspace or the default its holder chose. With several
 * and no choice the refusal lists the person's own workspaces and both ways out; `example` spells
 * the command with a workspace put in.
 */
export async function actingFor(
  db: Db,
  identity: Identity,
  word: string | undefined,
  example: (label: string) => string,
): Promise<Acting> {
  const places = await placesOf(db, identity);
  const { holders } = places;
  if (holders.length === 0) return { refusal: notConfirmed(identity) };
  const several = holders.length > 1;
  const act = (h: Holder) => acting(h, identity, { id: h.workspace_id, label: places.label(h.workspace_id) }, several);
  if (word) {
    const choice = named(places, word);
    return 'refusal' in choice ? choice : act(choice.holder);
  }
  if (!several) return act(holders[0]!);
  const chosen = await defaultWorkspace(db, identity);
  const holder = holders.find((h) => h.workspace_id === chosen);
  if (holder) return act(holder);
  const first = places.label(holders[0]!.workspace_id);
  return {
    refusal: `You are a confirmed member of ${holders.length} Leash workspaces (${places.list}), so nothing was changed: name one in the command (${example(first)}) or choose a default (${spellingFor(identity).use} ${first}).`,
  };
}
