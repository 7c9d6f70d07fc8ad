import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One per served pacman database: the ordered member manifest that makes updates a splice.
  await knex.schema.createTable('pacman_dbs', (t) => {
    t.bigIncrements('id');
    t.bigInteger('repository_id').notNullable();
    t.string('arch', 64).notNullable().collate('utf8mb4_bin');
    t.text('manifest', 'mediumtext').notNullable();
    t.bigInteger('last_modified_ms').notNullable();
    t.unique(['repository_id', 'arch']);
  });

  // Vieter arch-repo membership: one file per name; an `any` file may be in several.
  await knex.schema.createTable('pacman_vieter_entries', (t) => {
    t.bigIncrements('id');
    t.bigInteger('db_id').notNullable();
    t.string('name', 255).notNullable().collate('utf8mb4_bin');
    t.bigInteger('file_id').notNullable().index();
    t.unique(['db_id', 'name']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('pacman_vieter_entries');
  await knex.schema.dropTable('pacman_dbs');
}
