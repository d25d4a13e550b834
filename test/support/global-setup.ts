// Once per run: a freshly migrated template database that every test file clones (CREATE DATABASE
// … TEMPLATE is a file copy, far faster than migrating per file). Each run gets its own template,
// so two runs on one machine (CI and a developer, say) never disturb each other.
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { createDb } from '../../src/db/index.js';
import { ensureDatabase, migrateToLatest } from '../../src/db/migrate.js';
import { adminQuery, testDatabaseUrl } from './db.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}

export default async function setup(project: TestProject) {
  const name = `leash_tpl_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(testDatabaseUrl(name));
  const db = createDb(testDatabaseUrl(name), { max: 1 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  project.provide('templateDb', name);
  return async () => {
    await adminQuery(`drop database if exists ${name} with (force)`);
  };
}
