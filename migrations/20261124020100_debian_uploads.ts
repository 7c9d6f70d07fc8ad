import type { Knex } from 'knex';

// aptly's upload directories hold files, not packages: the parse result waits here until a
// repo adds the file (debian.md §7.3), so `GET /api/packages` lists only added packages.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deb_uploads', (t) => {
    t.text('parsed', 'mediumtext').nullable(); // JSON of the package row, contents base64
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('deb_uploads', (t) => {
    t.dropColumn('parsed');
  });
}
