// Leash processes started from source as the Procfile starts them (`web`, `worker`, `all`), for
// tests across real processes: each is ready once its readiness URL answers 200.
import { spawn, type ChildProcess } from 'node:child_process';

export interface LeashProcess {
  child: ChildProcess;
  /** What it wrote on stderr so far. */
  err(): string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
}

const exited = (child: ChildProcess, signal: NodeJS.Signals) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });

export async function startLeash(
  role: 'web' | 'worker' | 'all',
  env: Record<string, string>,
  ready: string,
): Promise<LeashProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const p: LeashProcess = {
    child,
    err: () => err,
    kill: () => exited(child, 'SIGKILL'),
    stop: () => exited(child, 'SIGTERM'),
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${role} exited: ${err}`);
    if ((await fetch(ready).catch(() => undefined))?.status === 200) return p;
    if (Date.now() > deadline) {
      await p.kill();
      throw new Error(`${role} did not become ready: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
