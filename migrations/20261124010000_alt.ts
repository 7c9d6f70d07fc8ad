import type { Knex } from 'knex';

const REBUILD_INDEX = 'package_files_repository_architecture_id';

export async function up(knex: Knex): Promise<void> {
  // One per Alt index (group, arch): its publish time T, kept when the index empties so that
  // T stays strictly increasing (alt.md §8.2, §8.3). The files themselves are index_files rows.
  await knex.schema.createTable('alt_indexes', (t) => {
    t.bigIncrements('id');
    t.bigInteger('repository_id').notNullable();
    t.string('arch', 64).notNullable().collate('utf8mb4_bin');
    t.bigInteger('last_modified_ms').notNullable();
    t.unique(['repository_id', 'arch']);
  });
  // A rebuild reads one arch's entries of one repository in upload order (alt.md §4).
  await knex.schema.alterTable('package_files', (t) => {
    t.index(['repository_id', 'architecture', 'id'], REBUILD_INDEX);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('package_files', (t) => {
    t.dropIndex(['repository_id', 'architecture', 'id'], REBUILD_INDEX);
  });
  await knex.schema.dropTable('alt_indexes');
}
