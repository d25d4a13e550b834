// The import structure, checked as text: no circle, no import that runs back up a layer, and the
// channels named in one list (docs/architecture.md, "Layout" and "Adding a channel").
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHANNELS } from '../src/channels/list.js';

const ROOT = resolve(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const FILES = [...sourceFiles('src'), ...sourceFiles('jobs')];

/** The project files a file imports (static imports and re-exports, types included). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/gms)].map((m) => m[1]!);
  return specs.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)).replace(/\.js$/, '.ts'));
}

const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));

/** Every cycle's files, by a depth-first search that reports a back edge's loop. */
function circles(): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    path.push(f);
    for (const to of GRAPH.get(f) ?? []) {
      if (state.get(to) === 'open') found.push(path.slice(path.indexOf(to)));
      else if (!state.has(to) && GRAPH.has(to)) visit(to);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const f of FILES) if (!state.has(f)) visit(f);
  return found;
}

/** Imports from files under `from` into files under any of `into` (besides the allowed ones). */
function importsInto(from: string, into: string[], allowed: string[] = []): string[] {
  return [...GRAPH].flatMap(([f, deps]) =>
    f.startsWith(from)
      ? deps.filter((d) => into.some((i) => d.startsWith(i)) && !allowed.includes(d)).map((d) => `${f} -> ${d}`)
      : [],
  );
}

describe('import structure', () => {
  it('has no import circle (types included)', () => {
    expect(circles()).toEqual([]);
  });

  it('only the entry points import the composition root', () => {
    const importers = [...GRAPH].filter(([, deps]) => deps.includes('src/app.ts')).map(([f]) => f);
    expect(importers.sort()).toEqual(['src/main.ts', 'src/openapi-dump.ts']);
  });

  it('the HTTP layer imports no surface above it, and the worker no surface at all', () => {
    const surfaces = ['src/channels/', 'src/chat/', 'src/dashboard/', 'src/cli/', 'jobs/'];
    expect(importsInto('src/http/', surfaces)).toEqual([]);
    // The worker knows adapters only by the interface; the root hands it the configured ones.
    expect(
      importsInto('jobs/', ['src/channels/', 'src/chat/', 'src/dashboard/', 'src/http/'], ['src/channels/adapter.ts']),
    ).toEqual([]);
    expect(importsInto('src/channels/', ['jobs/', 'src/dashboard/', 'src/cli/'])).toEqual([]);
  });
});

describe('the channel list', () => {
  const names = CHANNELS.map((c) => c.name);
  const quoted = new RegExp(`['"\`](${names.join('|')})['"\`]`, 'g');

  it('is the only place that lists the channels', () => {
    const lists = FILES.filter((f) => f !== 'src/channels/list.ts').flatMap((f) =>
      readFileSync(join(ROOT, f), 'utf8')
        .split('\n')
        .map((line, i) => ({ at: `${f}:${i + 1}`, named: new Set([...line.matchAll(quoted)].map((m) => m[1])) }))
        .filter((l) => l.named.size >= 3)
        .map((l) => l.at),
    );
    expect(lists).toEqual([]);
  });

  it('names each channel once, after its folder', () => {
    expect(new Set(names).size).toBe(names.length);
    const folders = readdirSync(join(ROOT, 'src/channels'), { withFileTypes: true }).filter((e) => e.isDirectory());
    expect(folders.map((e) => e.name).sort()).toEqual([...names].sort());
  });
});
