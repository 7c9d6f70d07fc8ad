import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import knex, { type Knex } from 'knex';
import { spawnStowage } from '../helpers/processes.js';
import { freshMysqlDatabase } from '../helpers/stowage.js';
import { run, type RunResult } from '../helpers/tools.js';
import { TEST_ROOT } from '../setup.js';

const MIGRATIONS = readdirSync(resolve('migrations')).filter((f) => /^\d{14}_[a-z0-9_]+\.ts$/.test(f)).sort();

/** `stowage migrate ...` as a Kubernetes Job runs it: its own process, env only. */
function migrate(databaseUrl: string, ...args: string[]): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', resolve('src/main.ts'), 'migrate', ...args], {
    env: { DATABASE_URL: databaseUrl, STOWAGE_DATA_DIR: TEST_ROOT, LOG_LEVEL: 'info' },
    allowFail: true,
  });
}

const messages = (r: RunResult) =>
  r.stdout
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('{')) // knex itself prints a plain hint on a stuck lock row
    .map((l) => (JSON.parse(l) as { msg: string }).msg);

async function batches(db: Knex): Promise<{ name: string; batch: number }[]> {
  return (await db('knex_migrations').select('name', 'batch').orderBy('name')) as { name: string; batch: number }[];
}

describe('stowage migrate (deploy.md §6.4, MariaDB)', function () {
  this.timeout(120_000);
  let fresh: { url: string; drop(): Promise<void> };
  let db: Knex;

  beforeEach(async () => {
    fresh = await freshMysqlDatabase();
    db = knex({ client: 'mysql2', connection: fresh.url, pool: { min: 0, max: 2 } });
  });
  afterEach(async () => {
    await db?.destroy();
    await fresh?.drop();
  });

  it('runs every migration once when three Jobs start together, and all exit 0', async () => {
    const results = await Promise.all([migrate(fresh.url), migrate(fresh.url), migrate(fresh.url)]);
    assert.deepEqual(
      results.map((r) => r.code),
      [0, 0, 0],
      results.map((r) => r.stderr + r.stdout.toString()).join('\n'),
    );
    for (const r of results) assert.deepEqual(messages(r), ['migrations are up to date']);
    // One batch: a single migrator did the work, the others found nothing left.
    assert.deepEqual(await batches(db), MIGRATIONS.map((name) => ({ name, batch: 1 })));
  });

  it('migrates once when two replicas start together with MIGRATE_ON_START', async () => {
    const env = {
      DATABASE_URL: fresh.url,
      STOWAGE_DATA_DIR: `${TEST_ROOT}/replicas-${Date.now()}`,
      STOWAGE_API_KEY: 'stowage-test-admin-key-0123456789',
      STOWAGE_KEY_SECRET: 'stowage-test-key-secret-0123456789',
      SHUTDOWN_DELAY_S: '0',
    };
    const replicas = await Promise.all([spawnStowage(env), spawnStowage(env)]);
    try {
      for (const r of replicas) assert.equal((await fetch(`${r.url}/readyz`)).status, 200);
      assert.deepEqual(await batches(db), MIGRATIONS.map((name) => ({ name, batch: 1 })));
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
  });

  it('exits 2 when the named lock stays taken, for migrate and --unlock alike', async () => {
    const holder = knex({ client: 'mysql2', connection: fresh.url, pool: { min: 1, max: 1 } });
    try {
      await holder.raw("select get_lock('stowage:migrate', 0)");
      const [plain, unlock] = await Promise.all([
        migrate(fresh.url, '--lock-timeout', '1'),
        migrate(fresh.url, '--unlock', '--lock-timeout', '1'),
      ]);
      assert.equal(plain.code, 2, plain.stdout.toString());
      assert.equal(unlock.code, 2, unlock.stdout.toString());
      assert.deepEqual(messages(plain), ['timed out waiting for the migration lock']);
      assert.equal(await db.schema.hasTable('knex_migrations'), false);
    } finally {
      await holder.destroy(); // the lock belongs to the connection: gone with it
    }
    assert.equal((await migrate(fresh.url, '--lock-timeout', '5')).code, 0);
  });

  it('--unlock clears the row a crashed migrator left, and then migrate works again', async () => {
    assert.equal((await migrate(fresh.url)).code, 0);
    await db('knex_migrations_lock').update({ is_locked: 1 });
    const stuck = await migrate(fresh.url);
    assert.equal(stuck.code, 1);
    assert.deepEqual(messages(stuck), ['migration failed']);

    const unlocked = await migrate(fresh.url, '--unlock');
    assert.equal(unlocked.code, 0);
    assert.deepEqual(messages(unlocked), ['cleared a stale migration lock']);
    assert.deepEqual(await db('knex_migrations_lock').select('is_locked'), [{ is_locked: 0 }]);
    assert.deepEqual(messages(await migrate(fresh.url, '--unlock')), ['the migration lock was free']);
    assert.equal((await migrate(fresh.url)).code, 0);
  });

  it('refuses unknown arguments with exit 1', async () => {
    const res = await migrate(fresh.url, '--force');
    assert.equal(res.code, 1);
    assert.match(res.stderr, /usage: stowage migrate/);
  });
});
