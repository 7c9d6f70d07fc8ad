import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPacmanPackage } from './helpers/pacman-fixtures.js';
import { ADMIN, TEST_API_KEY, startStowage, type TestStowage } from './helpers/stowage.js';
import { ENGINES } from './setup.js';

const parse = (lines: readonly string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

for (const engine of ENGINES) {
  describe(`service endpoints and cross-cutting behaviour (${engine})`, function () {
    this.timeout(120_000);
    let s: TestStowage;
    before(async () => {
      s = await startStowage({ engine });
    });
    after(() => s?.stop());

    it('GET /healthz answers while the process runs', async () => {
      const res = await s.fetch('/healthz');
      assert.deepEqual([res.status, await res.json()], [200, { status: 'ok' }]);
    });

    it('GET /readyz reports database, schema, storage and forge', async () => {
      const res = await s.fetch('/readyz');
      assert.deepEqual([res.status, await res.json()], [
        200,
        { status: 'ok', checks: { db: 'ok', schema: 'ok', storage: 'ok', forge: 'standalone' } },
      ]);
    });

    it('logs one JSON line per request with owner, type, status, duration and request id', async () => {
      const res = await s.fetch('/api/packages/alice/vieter/health', { headers: { 'X-Request-Id': 'req-123' } });
      assert.equal(res.headers.get('x-request-id'), 'req-123');
      const line = parse(s.logs).find((l) => l.requestId === 'req-123');
      assert.ok(line);
      assert.equal(line.msg, 'request');
      assert.deepEqual([line.owner, line.type, line.status, line.method], ['alice', 'vieter', 200, 'GET']);
      assert.equal(typeof line.ms, 'number');
    });

    it('counts requests, upload bytes and index updates in /metrics', async () => {
      const pkg = await buildPacmanPackage({ name: 'metered', version: '1-1' });
      const bytes = await readFile(pkg.path);
      assert.equal((await s.fetch('/api/packages/alice/arch/m', { method: 'PUT', body: bytes, headers: ADMIN })).status, 201);
      const text = await (await s.fetch('/metrics')).text();
      assert.match(text, /stowage_http_requests_total\{method="PUT",route="\/api\/packages\/:owner\/arch\{\/\*tail\}",status="201"\} 1/);
      assert.match(text, new RegExp(`stowage_upload_bytes_total\\{type="arch"\\} ${bytes.length}`));
      assert.match(text, /stowage_index_updates_total\{type="pacman"\} 1/);
      assert.match(text, /stowage_http_request_duration_seconds_bucket/);
    });

    it('answers an unexpected failure with 500 and the request id, logging the stack once', async () => {
      const pkg = await buildPacmanPackage({ name: 'broken', version: '1-1' });
      assert.equal(
        (await s.fetch('/api/packages/alice/arch/b', { method: 'PUT', body: await readFile(pkg.path), headers: ADMIN })).status,
        201,
      );
      // A real failure underneath: the table the lookup needs is gone.
      await s.db.schema.renameTable('package_files', 'package_files_away');
      try {
        const res = await s.fetch(`/api/packages/alice/arch/b/x86_64/${pkg.fileName}`, { headers: { 'X-Request-Id': 'req-500' } });
        const body = await res.text();
        assert.equal(res.status, 500);
        assert.equal(body, 'internal server error (request req-500)');
        assert.doesNotMatch(body, /package_files|at |sql/i);
        const errors = parse(s.logs).filter((l) => l.level === 'error' && l.requestId === 'req-500');
        assert.equal(errors.length, 1);
        assert.match(String((errors[0]!.err as { stack?: string }).stack), /package_files/);
      } finally {
        await s.db.schema.renameTable('package_files_away', 'package_files');
      }
    });

    it('sweeps unreferenced blobs only after the grace period, and keeps referenced ones', async () => {
      const V = '/api/packages/alice/vieter/sweep';
      const first = await buildPacmanPackage({ name: 'swept', version: '1-1' });
      const second = await buildPacmanPackage({ name: 'swept', version: '2-1' });
      for (const f of [first, second]) {
        assert.equal((await s.fetch(`${V}/publish`, { method: 'POST', body: await readFile(f.path), headers: ADMIN })).status, 200);
      }
      const oldSha = (await import('node:crypto')).createHash('sha256').update(await readFile(first.path)).digest('hex');
      assert.ok((await s.instance.blobs.listBlobs()).includes(oldSha));
      assert.equal((await s.instance.sweeper.sweep(Date.now())).blobs, 0, 'nothing is old enough yet');
      const result = await s.instance.sweeper.sweep(Date.now() + 3600_000);
      assert.ok(result.blobs >= 1);
      const left = await s.instance.blobs.listBlobs();
      assert.equal(left.includes(oldSha), false);
      // Whatever is still served is still there.
      const served = await s.fetch(`${V}/x86_64/${second.fileName}`);
      assert.deepEqual(Buffer.from(await served.arrayBuffer()), await readFile(second.path));
      assert.equal((await s.fetch(`${V}/x86_64/sweep.db`)).status, 200);
      const rows = (await s.db('blobs').select('sha256')).map((r: { sha256: string }) => r.sha256).sort();
      assert.deepEqual(rows, left);
    });
  });
}

describe('standalone mode', function () {
  this.timeout(60_000);

  it('generates the admin key at first start, prints it once, and keeps it across restarts', async () => {
    const first = await startStowage({ engine: 'sqlite', env: { STOWAGE_API_KEY: '' } });
    const printed = parse(first.logs).filter((l) => typeof l.apiKey === 'string');
    assert.equal(printed.length, 1);
    const key = String(printed[0]!.apiKey);
    assert.match(key, /^[0-9a-f]{40}$/);
    await first.instance.shutdown();

    const second = await startStowage({ engine: 'sqlite', shareWith: first, env: { STOWAGE_API_KEY: '' } });
    try {
      assert.equal(parse(second.logs).filter((l) => typeof l.apiKey === 'string').length, 0);
      const rows = await second.db('settings').select('value');
      assert.equal(JSON.stringify(rows).includes(key), false, 'only the hash is stored');
      const res = await second.fetch('/api/packages/alice/vieter/r', { method: 'DELETE', headers: { Authorization: `token ${key}` } });
      assert.equal(res.status, 404); // allowed: nothing there
    } finally {
      await second.stop();
    }
  });

  it('takes the key as Basic password, token, Bearer and (Vieter only) X-Api-Key; reads are anonymous', async () => {
    const s = await startStowage({ engine: 'sqlite' });
    try {
      const pkg = await buildPacmanPackage({ name: 'keyed', version: '1-1' });
      const body = await readFile(pkg.path);
      const forms: Record<string, string>[] = [
        { Authorization: `Basic ${Buffer.from(`anyone:${TEST_API_KEY}`).toString('base64')}` },
        { Authorization: `token ${TEST_API_KEY}` },
        { Authorization: `Bearer ${TEST_API_KEY}` },
      ];
      for (const [i, headers] of forms.entries()) {
        const res = await s.fetch(`/api/packages/alice/arch/g${i}`, { method: 'PUT', body, headers });
        assert.equal(res.status, 201, JSON.stringify(Object.keys(headers)));
      }
      const viaHeader = await s.fetch('/api/packages/alice/vieter/r/publish', { method: 'POST', body, headers: { 'X-Api-Key': TEST_API_KEY } });
      assert.equal(viaHeader.status, 200);
      const notOnArch = await s.fetch('/api/packages/alice/arch/g9', { method: 'PUT', body, headers: { 'X-Api-Key': TEST_API_KEY } });
      assert.equal(notOnArch.status, 401);
      assert.equal((await s.fetch(`/api/packages/alice/arch/g0/x86_64/${pkg.fileName}`)).status, 200);
      assert.equal(JSON.stringify(s.logs).includes(TEST_API_KEY), false, 'the key never reaches the log');
    } finally {
      await s.stop();
    }
  });

  it('removes staging files left by a crash at the next start', async () => {
    const first = await startStowage({ engine: 'sqlite' });
    await first.instance.shutdown();
    await writeFile(join(first.dataDir, 'tmp', 'left-by-a-crash'), 'half an upload');
    const second = await startStowage({ engine: 'sqlite', shareWith: first });
    try {
      assert.deepEqual(await second.instance.blobs.listStaging(), []);
    } finally {
      await second.stop();
    }
  });
});
