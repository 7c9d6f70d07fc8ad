import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isSchemaCurrent, migrateToLatest, openDatabase, rollbackAll } from '../src/db/connect.js';
import { freshMysqlDatabase } from './helpers/stowage.js';
import { ENGINES, TEST_ROOT } from './setup.js';
import { loadConfig } from '../src/config.js';

for (const engine of ENGINES) {
  describe(`migrations (${engine})`, function () {
    it('go latest → rollback → latest, and several replicas can migrate at once', async () => {
      const fresh = engine === 'mysql' ? await freshMysqlDatabase() : undefined;
      const url = fresh?.url ?? `sqlite:${join(TEST_ROOT, `migrations-${Date.now()}.sqlite`)}`;
      const config = loadConfig({ DATABASE_URL: url, STOWAGE_DATA_DIR: TEST_ROOT }).database;
      const dbs = engine === 'mysql' ? [openDatabase(config), openDatabase(config), openDatabase(config)] : [openDatabase(config)];
      try {
        const first = dbs[0]!;
        assert.equal(await isSchemaCurrent(first).catch(() => false), false);
        await Promise.all(dbs.map((db) => migrateToLatest(db)));
        assert.equal(await isSchemaCurrent(first), true);
        assert.ok(await first.schema.hasTable('package_files'));
        await rollbackAll(first);
        assert.equal(await first.schema.hasTable('package_files'), false);
        assert.equal(await first.schema.hasTable('repositories'), false);
        await migrateToLatest(first);
        assert.equal(await isSchemaCurrent(first), true);
      } finally {
        for (const db of dbs) await db.destroy();
        await fresh?.drop();
      }
    });
  });
}
