// Frozen: never edit a migration that has shipped; add a new one.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The secret this installation signs links and cookies with when LEASH_SECRET is not set: made
  // once, at random, by the first process to need it, and shared by every process of the
  // installation (they all read it from here). One row at most.
  await db.schema
    .createTable('installation')
    .addColumn('id', 'boolean', (c) =>
      c
        .primaryKey()
        .defaultTo(true)
        .check(sql`id`),
    )
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('created_at', sql`timestamptz(3)`, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('installation').ifExists().execute();
}
