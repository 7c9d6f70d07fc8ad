import type { Knex } from 'knex';

// Shared by every format. Names, versions and paths are binary-collated: MySQL ignores case
// by default, and lookups that should ignore case use the lower_* columns instead.
const bin = 'utf8mb4_bin';

export async function up(knex: Knex): Promise<void> {
  // Standalone mode only: owners are local names; in forge mode owner ids are the forge's.
  await knex.schema.createTable('local_owners', (t) => {
    t.bigIncrements('id');
    t.string('lower_name', 255).notNullable().collate(bin).unique();
    t.bigInteger('created_at_ms').notNullable();
  });

  await knex.schema.createTable('settings', (t) => {
    t.string('name', 100).notNullable().collate(bin).primary();
    t.text('value', 'mediumtext').notNullable();
  });

  // One row per repository of any type; its row is the write lock (SELECT ... FOR UPDATE).
  await knex.schema.createTable('repositories', (t) => {
    t.bigIncrements('id');
    t.string('type', 16).notNullable().collate(bin);
    t.bigInteger('owner_id').notNullable();
    t.string('name', 255).notNullable().collate(bin);
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['type', 'owner_id', 'name']);
  });

  await knex.schema.createTable('blobs', (t) => {
    t.string('sha256', 64).notNullable().primary();
    t.bigInteger('size').notNullable();
    t.string('md5', 32).notNullable();
    t.string('sha1', 40).notNullable();
    t.string('sha512', 128).notNullable();
    t.string('blake2b', 128).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    // Touched whenever a row starts referencing it; the sweeper waits a grace period after it.
    t.bigInteger('last_used_at_ms').notNullable().index();
  });

  // Versions shared by the files of one name (Forgejo's package_version); per owner and type.
  await knex.schema.createTable('package_versions', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable();
    t.string('type', 16).notNullable().collate(bin);
    t.string('lower_name', 255).notNullable().collate(bin);
    t.string('lower_version', 255).notNullable().collate(bin);
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['owner_id', 'type', 'lower_name', 'lower_version']);
  });

  await knex.schema.createTable('package_files', (t) => {
    t.bigIncrements('id');
    t.bigInteger('repository_id').notNullable();
    t.bigInteger('version_id').nullable().index();
    t.string('name', 255).notNullable().collate(bin);
    t.string('lower_name', 255).notNullable().collate(bin);
    t.string('version', 255).notNullable().collate(bin);
    t.string('architecture', 64).notNullable().collate(bin);
    t.string('file_name', 600).notNullable().collate(bin);
    t.string('lower_file_name', 600).notNullable().collate(bin);
    t.string('blob_sha256', 64).notNullable().index();
    t.bigInteger('size').notNullable();
    t.specificType('signature', 'mediumblob').nullable();
    // Everything parsed at upload (JSON), so no index build ever re-reads a package.
    t.text('metadata', 'mediumtext').notNullable();
    // The package's ready-made parts of its indexes: text (pacman desc, Debian stanza...),
    // a member of the main index archive, and of the extended one (pacman .files).
    t.text('index_text', 'mediumtext').notNullable();
    t.specificType('index_member', 'mediumblob').nullable();
    t.specificType('index_member_full', 'mediumblob').nullable();
    t.bigInteger('uploader_id').nullable();
    t.string('uploader_login', 255).nullable();
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['repository_id', 'lower_file_name']);
    t.index(['repository_id', 'lower_name']);
  });

  // Generated index files, path → blob; a new generation is one pointer update per path.
  await knex.schema.createTable('index_files', (t) => {
    t.bigIncrements('id');
    t.bigInteger('repository_id').notNullable();
    t.string('path', 512).notNullable().collate(bin);
    t.string('blob_sha256', 64).notNullable().index();
    t.bigInteger('size').notNullable();
    t.bigInteger('last_modified_ms').notNullable();
    t.unique(['repository_id', 'path']);
  });

  await knex.schema.createTable('signing_keys', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable();
    t.string('kind', 16).notNullable().collate(bin);
    t.text('private_key', 'mediumtext').notNullable(); // encrypted at rest
    t.text('public_key', 'mediumtext').notNullable();
    t.string('fingerprint', 128).notNullable();
    t.string('user_id', 512).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['owner_id', 'kind']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'signing_keys',
    'index_files',
    'package_files',
    'package_versions',
    'blobs',
    'repositories',
    'settings',
    'local_owners',
  ]) {
    await knex.schema.dropTable(table);
  }
}
