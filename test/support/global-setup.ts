// Once per run: a freshly migrated template database that every test file clones (CREATE DATABASE
// … TEMPLATE is a file copy, far faster than migrating per file).
import { createDb } from '../../src/db/index.js';
import { ensureDatabase, migrateToLatest } from '../../src/db/migrate.js';
import { adminQuery, TEMPLATE_DB, testDatabaseUrl } from './db.js';

export default async function setup() {
  await adminQuery(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await ensureDatabase(testDatabaseUrl(TEMPLATE_DB));
  const db = createDb(testDatabaseUrl(TEMPLATE_DB), { max: 1 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}
