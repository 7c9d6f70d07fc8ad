import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import { FileBlobStore } from '../../src/blobs/file-store.js';
import { createSweeper } from '../../src/indexes/sweep.js';
import { createLogger } from '../../src/log.js';
import { buildPacmanPackage, type PacmanFixture } from '../helpers/pacman-fixtures.js';
import { spawnStowage, type StowageProcess } from '../helpers/processes.js';
import { rawRequest, startProxy, type RunningProxy } from '../helpers/proxies.js';
import { ADMIN, TEST_API_KEY, freshMysqlDatabase } from '../helpers/stowage.js';
import { makeTempDir, requireTool, run } from '../helpers/tools.js';
import { TEST_ROOT } from '../setup.js';

const UPLOADS = 50;
const hostOf = (url: string) => new URL(url).host;

/** PUT request lines in one replica's log. */
const putsIn = (replica: StowageProcess) =>
  replica.output.filter((line) => /"msg":"request"/.test(line) && /"method":"PUT"/.test(line)).length;

describe('two replicas on one MariaDB and one data dir, behind proxy/nginx.conf (deploy.md §7)', function () {
  this.timeout(240_000);
  let database: { url: string; drop(): Promise<void> };
  let dataDir: string;
  let replicas: StowageProcess[] = [];
  let proxy: RunningProxy;
  let fixtures: PacmanFixture[];
  let db: Knex;

  before(async () => {
    requireTool('nginx', 'nginx');
    requireTool('bsdtar', 'libarchive-tools');
    database = await freshMysqlDatabase();
    dataDir = join(TEST_ROOT, `replicas-${Date.now()}`);
    const env = {
      DATABASE_URL: database.url,
      STOWAGE_DATA_DIR: dataDir,
      STOWAGE_API_KEY: TEST_API_KEY,
      STOWAGE_KEY_SECRET: 'stowage-test-key-secret-0123456789',
      TRUST_PROXY: 'true',
      SHUTDOWN_DELAY_S: '0',
    };
    // Started together: they take turns on the migration lock.
    replicas = await Promise.all([spawnStowage(env), spawnStowage(env)]);
    proxy = await startProxy('nginx', { stowage: replicas.map((r) => hostOf(r.url)), forge: '127.0.0.1:9' });
    const work = await makeTempDir('replicas');
    fixtures = [];
    for (let i = 0; i < UPLOADS; i++) {
      fixtures.push(await buildPacmanPackage({ outDir: work, name: `rep${i}`, version: '1-1', arch: i % 5 === 0 ? 'any' : 'x86_64' }));
    }
    db = knex({ client: 'mysql2', connection: database.url, pool: { min: 0, max: 2 } });
  });

  after(async () => {
    await proxy?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await db?.destroy();
    await database?.drop();
  });

  it('takes 50 concurrent uploads split across both, with no failed request', async () => {
    const bodies = await Promise.all(fixtures.map((f) => readFile(f.path)));
    const answers = await Promise.all(
      bodies.map((body) =>
        rawRequest(proxy.url, { method: 'PUT', path: '/api/packages/alice/arch/shared', headers: ADMIN, body }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      fixtures.map(() => 201),
      answers.map((a) => a.body.toString()).join('|'),
    );
    // Log lines arrive through pipes after the responses: wait until both replicas wrote theirs.
    const deadline = Date.now() + 10_000;
    while (replicas.map(putsIn).reduce((a, b) => a + b, 0) < UPLOADS && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const split = replicas.map(putsIn);
    assert.equal(split[0]! + split[1]!, UPLOADS);
    assert.ok(split.every((n) => n > 0), `uploads per replica: ${split.join(', ')}`);
  });

  it('lists every package in the index, whichever replica answers', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await rawRequest(proxy.url, { path: '/api/packages/alice/arch/shared/x86_64/shared.db' });
      assert.equal(res.status, 200);
      const list = (await run('bsdtar', ['-tf', '-'], { input: res.body })).stdout.toString();
      for (const f of fixtures) assert.ok(list.includes(`${f.dir}/desc`), f.dir);
    }
    const rows = (await db('package_files').count({ n: '*' }).first()) as { n: number | string };
    assert.equal(Number(rows.n), UPLOADS);
  });

  it('leaves no staging file and no orphan blob', async () => {
    const blobs = new FileBlobStore(dataDir);
    assert.deepEqual(await blobs.listStaging(), []);
    // Superseded index generations wait out their grace period; past it, what remains on disk
    // is exactly what the database references.
    const sweeper = createSweeper({ db, blobs, graceS: 600, log: createLogger('silent') });
    await sweeper.sweep(Date.now() + 3600_000);
    const referenced = new Set<string>();
    for (const table of ['package_files', 'index_files']) {
      for (const row of (await db(table).select('blob_sha256')) as { blob_sha256: string }[]) referenced.add(row.blob_sha256);
    }
    const rows = ((await db('blobs').select('sha256')) as { sha256: string }[]).map((r) => r.sha256).sort();
    assert.deepEqual((await blobs.listBlobs()).sort(), rows);
    assert.deepEqual(rows, [...referenced].sort());
    assert.deepEqual(await blobs.listStaging(), []);
  });
});
