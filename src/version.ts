// Leash's version, from its package.json: found by walking up from this file, which sits at a
// different depth when run from source (tests) and when built (dist/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function find(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    const file = join(d, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'leash' && pkg.version) return pkg.version;
    }
    if (dirname(d) === d) return '0.0.0';
  }
}

export const VERSION = find(import.meta.dirname);
