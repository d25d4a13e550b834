// LEASH_DATA_DIR in embedded mode: the Postgres cluster (pg/), what a client needs to reach it
// (server.json: port and password, written once the server is up), and the lock that keeps a
// second Leash off the same directory (leash.pid). A lock whose process is gone (a kill -9) is
// taken over; Postgres's own postmaster.pid guards the cluster itself the same way.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export class DataDirError extends Error {}

export interface ServerState {
  port: number;
  password: string;
  /** The Leash process that started the server. */
  pid: number;
}

export const clusterDir = (dataDir: string) => join(dataDir, 'pg');
const stateFile = (dataDir: string) => join(dataDir, 'server.json');
const lockFile = (dataDir: string) => join(dataDir, 'leash.pid');

/** Whether a process with this pid is alive (signal 0 checks without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Makes the directory if need be, and says clearly when it cannot be written. */
export async function ensureWritable(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true });
    await access(dataDir, constants.W_OK);
  } catch (err) {
    throw new DataDirError(
      `LEASH_DATA_DIR ${dataDir} is not writable (${(err as NodeJS.ErrnoException).code}): choose another directory or fix its permissions`,
    );
  }
}

/** The pid holding the directory, if that process is still alive. */
export async function holder(dataDir: string): Promise<number | undefined> {
  const text = await readFile(lockFile(dataDir), 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  return pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined;
}

/** Takes the directory for this process, or refuses if a live Leash has it. Returns the release.
 *  The pid is written to a file of its own first and linked into place, so the lock never exists
 *  without its pid (a reader could take an empty one for stale). */
export async function lock(dataDir: string): Promise<() => Promise<void>> {
  const mine = join(dataDir, `leash.pid.${process.pid}`);
  await writeFile(mine, String(process.pid));
  try {
    for (let tries = 0; tries < 3; tries++) {
      try {
        await link(mine, lockFile(dataDir));
        return () => rm(lockFile(dataDir), { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = await holder(dataDir);
        if (pid) {
          throw new DataDirError(
            `Another Leash (pid ${pid}) is running on ${dataDir}: stop it first, or set LEASH_DATA_DIR to another directory`,
          );
        }
        // Its process is gone: the lock is stale.
        await rm(lockFile(dataDir), { force: true });
      }
    }
    throw new DataDirError(`Could not take the lock on ${dataDir}: another Leash is starting there`);
  } finally {
    await rm(mine, { force: true });
  }
}

export async function readState(dataDir: string): Promise<ServerState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(dataDir), 'utf8')) as ServerState;
  } catch {
    return undefined;
  }
}

/** Written whole or not at all (a crash mid-write must not lose the cluster's password), and
 *  readable by this user only. */
export async function writeState(dataDir: string, state: ServerState): Promise<void> {
  const tmp = `${stateFile(dataDir)}.${process.pid}`;
  await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, stateFile(dataDir));
}

/** The cluster's password: made with the cluster, kept in the state file. A cluster whose
 *  password is lost cannot be reached; say so rather than try a new one. */
export async function clusterPassword(dataDir: string, fresh: boolean): Promise<string> {
  const known = (await readState(dataDir))?.password;
  if (known) return known;
  if (fresh) return randomBytes(18).toString('base64url');
  throw new DataDirError(
    `${stateFile(dataDir)} is missing or unreadable, and it holds the embedded cluster's password: restore it, or move ${dataDir} away to start afresh`,
  );
}
