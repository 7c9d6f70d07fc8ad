import type { Knex } from 'knex';

// Debian repositories (debian.md §2): one package store per owner, two doors onto it
// (Forgejo's registry and aptly's API), and the published trees built from it.
const bin = 'utf8mb4_bin';

export async function up(knex: Knex): Promise<void> {
  // Lock rows: `{owner}/aptly` and `{owner}/tree/{hash}`, taken FOR UPDATE in key order.
  await knex.schema.createTable('deb_locks', (t) => {
    t.string('lock_key', 190).notNullable().collate(bin).primary();
    t.bigInteger('created_at_ms').notNullable();
  });

  // One uploaded file, parsed once; everything an index needs is stored here (§3.5).
  await knex.schema.createTable('deb_packages', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable();
    t.string('package_key', 700).notNullable().collate(bin);
    t.string('name', 200).notNullable().collate(bin);
    t.string('version', 200).notNullable().collate(bin);
    t.string('architecture', 64).notNullable().collate(bin);
    t.string('package_type', 8).notNullable(); // deb | udeb
    t.string('file_name', 255).notNullable().collate(bin); // the upload basename
    t.bigInteger('size').notNullable();
    t.string('md5', 32).notNullable();
    t.string('sha1', 40).notNullable();
    t.string('blob_sha256', 64).notNullable().index();
    t.string('sha512', 128).notNullable();
    t.string('source_name', 200).notNullable().collate(bin);
    t.string('section', 255).notNullable().collate(bin);
    t.text('control', 'mediumtext').notNullable(); // JSON [[field, value], …]
    t.text('stanza_head', 'mediumtext').notNullable();
    t.text('stanza_tail', 'mediumtext').notNullable();
    t.specificType('contents', 'mediumblob').notNullable(); // gzip of the sorted path list
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['owner_id', 'package_key'], { indexName: 'd_packages_owner__packag_uq' }); // 8 + 700 × 4 bytes
    t.index(['owner_id', 'name'], 'd_packages_owner__name_ix');
  });

  // Forgejo's registry: (D, C, name, version, A) → package.
  await knex.schema.createTable('deb_registry_entries', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable();
    t.string('distribution', 100).notNullable().collate(bin);
    t.string('component', 100).notNullable().collate(bin);
    t.string('name', 200).notNullable().collate(bin);
    t.string('version', 200).notNullable().collate(bin);
    t.string('architecture', 64).notNullable().collate(bin);
    t.bigInteger('package_id').notNullable().index();
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['owner_id', 'distribution', 'component', 'name', 'version', 'architecture'], { indexName: 'd_registry_entries_uq' });
  });

  // aptly's upload directories (§7.3).
  await knex.schema.createTable('deb_uploads', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable();
    t.string('dir', 255).notNullable().collate(bin);
    t.string('file_name', 255).notNullable().collate(bin);
    t.string('blob_sha256', 64).notNullable().index();
    t.bigInteger('size').notNullable();
    t.bigInteger('package_id').nullable().index();
    t.string('error', 1000).nullable();
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['owner_id', 'dir', 'file_name'], { indexName: 'd_uploads_owner__dir_file_n_uq' });
  });

  await knex.schema.createTable('deb_repos', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable();
    t.string('name', 255).notNullable().collate(bin);
    t.text('comment').notNullable();
    t.string('default_distribution', 255).notNullable().collate(bin);
    t.string('default_component', 255).notNullable().collate(bin);
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['owner_id', 'name'], { indexName: 'd_repos_owner__name_uq' });
  });

  await knex.schema.createTable('deb_snapshots', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable();
    t.string('name', 255).notNullable().collate(bin);
    t.text('description').notNullable();
    t.string('source_kind', 16).notNullable();
    t.text('sources').notNullable(); // JSON [{kind, id}]
    t.string('origin', 255).notNullable();
    t.string('not_automatic', 32).notNullable();
    t.string('but_automatic_upgrades', 32).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['owner_id', 'name'], { indexName: 'd_snapshots_owner__name_uq' });
  });

  // Members of a repo or a snapshot: one package per (name, version, A) in each set.
  for (const [table, set] of [
    ['deb_repo_packages', 'repo_id'],
    ['deb_snapshot_packages', 'snapshot_id'],
  ] as const) {
    await knex.schema.createTable(table, (t) => {
      t.bigIncrements('id');
      t.bigInteger(set).notNullable();
      t.bigInteger('package_id').notNullable().index();
      t.string('name', 200).notNullable().collate(bin);
      t.string('version', 200).notNullable().collate(bin);
      t.string('architecture', 64).notNullable().collate(bin);
      t.unique([set, 'name', 'version', 'architecture'], { indexName: `${table}_name_versio_archit_uq` });
    });
  }

  // A published tree: a registry distribution (prefix `.`) or an aptly publish.
  await knex.schema.createTable('deb_trees', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable();
    t.string('prefix', 255).notNullable().collate(bin);
    t.string('distribution', 255).notNullable().collate(bin);
    t.string('kind', 16).notNullable(); // registry | aptly
    t.bigInteger('built_at_ms').notNullable(); // T of the last build (§5)
    t.boolean('signed').notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['owner_id', 'prefix', 'distribution'], { indexName: 'd_trees_owner__prefix_distri_uq' });
  });

  // §5 dirty counters per index: a write bumps `want`, a build catches `built` up.
  await knex.schema.createTable('deb_index_states', (t) => {
    t.bigIncrements('id');
    t.bigInteger('tree_id').notNullable();
    t.string('component', 255).notNullable().collate(bin);
    t.string('architecture', 64).notNullable().collate(bin);
    t.bigInteger('want').notNullable();
    t.bigInteger('built').notNullable();
    t.unique(['tree_id', 'component', 'architecture'], { indexName: 'd_index_states_tree_i_compon_archit_uq' });
  });

  // Generated files; superseded ones stay an hour for by-hash readers (F6).
  await knex.schema.createTable('deb_tree_files', (t) => {
    t.bigIncrements('id');
    t.bigInteger('tree_id').notNullable();
    t.string('path', 700).notNullable().collate(bin); // relative to dists/D
    t.string('dir', 700).notNullable().collate(bin);
    t.string('blob_sha256', 64).notNullable().index();
    t.bigInteger('size').notNullable();
    t.bigInteger('last_modified_ms').notNullable();
    t.bigInteger('superseded_at_ms').nullable();
    t.index(['tree_id', 'path'], 'd_tree_files_tree_i_path_ix');
    t.index(['tree_id', 'dir'], 'd_tree_files_tree_i_dir_ix');
  });

  await knex.schema.createTable('deb_publishes', (t) => {
    t.bigIncrements('id');
    t.bigInteger('tree_id').notNullable().unique();
    t.bigInteger('owner_id').notNullable().index();
    t.string('source_kind', 16).notNullable();
    t.text('settings', 'mediumtext').notNullable(); // JSON, §7.7.2 fields
    t.text('sources', 'mediumtext').notNullable(); // JSON [{component, id}]
    t.text('staged', 'mediumtext').nullable(); // JSON {component: name}
    t.bigInteger('created_at_ms').notNullable();
  });

  await knex.schema.createTable('deb_publish_members', (t) => {
    t.bigIncrements('id');
    t.bigInteger('publish_id').notNullable();
    t.string('component', 255).notNullable().collate(bin);
    t.bigInteger('package_id').notNullable().index();
    t.string('pool_path', 1024).notNullable().collate(bin);
    t.unique(['publish_id', 'component', 'package_id'], { indexName: 'd_publish_members_publis_compon_packag_uq' });
  });

  // aptly pool files of a prefix; they outlive their publish with SkipCleanup.
  await knex.schema.createTable('deb_pool', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable();
    t.string('path_key', 64).notNullable(); // sha256 of prefix NUL path
    t.string('prefix', 255).notNullable().collate(bin);
    t.string('path', 1024).notNullable().collate(bin);
    t.bigInteger('package_id').notNullable().index();
    t.unique(['owner_id', 'path_key'], { indexName: 'd_pool_owner__path_k_uq' });
    t.index(['owner_id', 'prefix'], 'd_pool_owner__prefix_ix');
  });

  await knex.schema.createTable('deb_tasks', (t) => {
    t.bigIncrements('id');
    t.bigInteger('owner_id').notNullable().index();
    t.string('name', 1000).notNullable();
    t.integer('state').notNullable(); // 0 idle, 1 running, 2 succeeded, 3 failed
    t.integer('code').nullable();
    t.text('value', 'mediumtext').nullable(); // JSON
    t.text('output', 'mediumtext').notNullable();
    t.text('detail', 'mediumtext').notNullable(); // JSON
    t.bigInteger('heartbeat_at_ms').notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('finished_at_ms').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'deb_tasks',
    'deb_pool',
    'deb_publish_members',
    'deb_publishes',
    'deb_tree_files',
    'deb_index_states',
    'deb_trees',
    'deb_snapshot_packages',
    'deb_repo_packages',
    'deb_snapshots',
    'deb_repos',
    'deb_uploads',
    'deb_registry_entries',
    'deb_packages',
    'deb_locks',
  ]) {
    await knex.schema.dropTable(table);
  }
}
