import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPacmanSandbox, type PacmanSandbox } from '../../helpers/pacman-client.js';
import { buildPacmanPackage, type PacmanFixture } from '../../helpers/pacman-fixtures.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { makeTempDir, requireTool, run } from '../../helpers/tools.js';
import { ENGINES } from '../../setup.js';

/** The request log lines of one path (method, status, ...). */
function requestsTo(s: TestStowage, pathEnd: string): { method: string; status: number; path: string }[] {
  return s.logs
    .map((l) => JSON.parse(l) as { msg?: string; method: string; status: number; path: string })
    .filter((l) => l.msg === 'request' && decodeURIComponent(l.path).endsWith(pathEnd));
}

async function upload(s: TestStowage, path: string, pkg: PacmanFixture, method = 'PUT'): Promise<Response> {
  return s.fetch(path, { method, body: await readFile(pkg.path), headers: ADMIN });
}

for (const engine of ENGINES) {
  describe(`pacman client against Forgejo's Arch API (${engine})`, function () {
    this.timeout(180_000);
    let s: TestStowage;
    let work: string;
    let hello: PacmanFixture;
    let tool: PacmanFixture;
    let data: PacmanFixture;
    let sandbox: PacmanSandbox;
    const base = '/api/packages/alice/arch/core';

    before(async () => {
      requireTool('pacman', 'pacman-package-manager');
      s = await startStowage({ engine });
      work = await makeTempDir('pacman-e2e');
      hello = await buildPacmanPackage({
        outDir: work,
        name: 'hello',
        version: '1:2.1.0-3',
        description: 'A  friendly   greeter',
        depends: ['greet-data'],
        files: { 'usr/': '', 'usr/bin/': '', 'usr/bin/hello': '#!/bin/sh\necho hello\n' },
      });
      tool = await buildPacmanPackage({
        outDir: work,
        name: 'tool',
        version: '0.3-1',
        compression: 'gz',
        files: { 'usr/': '', 'usr/share/': '', 'usr/share/tool/': '', 'usr/share/tool/.hidden': 'x\n' },
      });
      data = await buildPacmanPackage({
        outDir: work,
        name: 'greet-data',
        version: '1.0-1',
        arch: 'any',
        compression: 'xz',
        files: { 'usr/': '', 'usr/share/': '', 'usr/share/greet/': '', 'usr/share/greet/words': 'hello\n' },
      });
      for (const pkg of [hello, tool, data]) assert.equal((await upload(s, base, pkg)).status, 201);

      sandbox = await createPacmanSandbox(
        [{ name: 'stowage', server: `${s.url}${base}/$arch` }],
        'Required DatabaseRequired',
      );
      const key = await (await s.fetch('/api/packages/alice/arch/repository.key')).text();
      await sandbox.trust(key, 'alice@noreply.localhost');
    });

    after(async () => {
      await sandbox?.remove();
      await s?.stop();
    });

    it('syncs a signed database with SigLevel = Required', async () => {
      await sandbox.pacman(['-Sy']);
      assert.deepEqual(
        requestsTo(s, '/x86_64/stowage.db.sig').map((r) => r.status),
        [200],
      );
      const list = (await sandbox.pacman(['-Sl', 'stowage'])).stdout.toString();
      assert.match(list, /^stowage hello 1:2\.1\.0-3$/m);
      assert.match(list, /^stowage tool 0\.3-1$/m);
      assert.match(list, /^stowage greet-data 1\.0-1$/m); // `any` is in every arch's db
    });

    it('shows the metadata, collapsed description and validation methods', async () => {
      const info = (await sandbox.pacman(['-Si', 'stowage/hello'])).stdout.toString();
      assert.match(info, /^Description\s+: A friendly greeter$/m);
      assert.match(info, /^Validated By\s+: MD5 Sum {2}SHA-256 Sum {2}Signature$/m);
      assert.match((await sandbox.pacman(['-Ss', 'greeter'])).stdout.toString(), /stowage\/hello 1:2\.1\.0-3/);
    });

    it('installs packages with their dependencies, checking every signature', async () => {
      await sandbox.pacman(['-S', 'hello', 'tool']);
      assert.equal(await readFile(join(sandbox.dir, 'root/usr/bin/hello'), 'utf8'), '#!/bin/sh\necho hello\n');
      assert.equal(await readFile(join(sandbox.dir, 'root/usr/share/greet/words'), 'utf8'), 'hello\n');
      assert.ok((await stat(join(sandbox.dir, 'root/usr/share/tool/.hidden'))).isFile());
      const q = (await sandbox.pacman(['-Q'])).stdout.toString();
      assert.equal(q, 'greet-data 1.0-1\nhello 1:2.1.0-3\ntool 0.3-1\n');
      // The epoch's colon travels unencoded, and the package signatures were fetched.
      assert.deepEqual(requestsTo(s, `/x86_64/${hello.fileName}`).map((r) => r.status), [200]);
      assert.deepEqual(requestsTo(s, `/x86_64/${hello.fileName}.sig`).map((r) => r.status), [200]);
      const cached = await readFile(join(sandbox.dir, 'cache', hello.fileName));
      assert.deepEqual(cached, await readFile(hello.path));
    });

    it('serves the files database for pacman -F, nested dotfiles included', async () => {
      await sandbox.pacman(['-Fy']);
      const files = (await sandbox.pacman(['-Fl', 'stowage/tool'])).stdout.toString();
      assert.match(files, /^tool usr\/share\/tool\/\.hidden$/m);
      const owner = (await sandbox.pacman(['-F', 'usr/bin/hello'])).stdout.toString();
      assert.match(owner, /stowage\/hello 1:2\.1\.0-3/);
    });

    it('answers an unchanged database with 304, and a change in the same second with 200', async () => {
      await sandbox.pacman(['-Sy']);
      const syncs = requestsTo(s, '/x86_64/stowage.db').map((r) => r.status);
      assert.equal(syncs.at(-1), 304);
      const local = await stat(join(sandbox.dir, 'db/sync/stowage.db'));
      const served = await s.fetch(`${base}/x86_64/stowage.db`, { method: 'HEAD' });
      assert.equal(local.mtime.toUTCString(), served.headers.get('last-modified'));

      const extra = await buildPacmanPackage({ outDir: work, name: 'extra', version: '1-1' });
      assert.equal((await upload(s, base, extra)).status, 201);
      await sandbox.pacman(['-Sy']);
      assert.equal(requestsTo(s, '/x86_64/stowage.db').map((r) => r.status).at(-1), 200);
      assert.match((await sandbox.pacman(['-Sl', 'stowage'])).stdout.toString(), /^stowage extra 1-1$/m);
    });

    it('resumes a partial download with a 206', async () => {
      const partial = join(sandbox.dir, 'cache', `${tool.fileName}.part`);
      const full = await readFile(tool.path);
      await rm(join(sandbox.dir, 'cache', tool.fileName), { force: true });
      await writeFile(partial, full.subarray(0, 100));
      await sandbox.pacman(['-Swdd', 'stowage/tool']);
      assert.deepEqual(await readFile(join(sandbox.dir, 'cache', tool.fileName)), full);
      assert.equal(requestsTo(s, `/x86_64/${tool.fileName}`).at(-1)?.status, 206);
    });

    it('stops listing a package deleted through the API', async () => {
      const del = await s.fetch(`${base}/tool/0.3-1/x86_64`, { method: 'DELETE', headers: ADMIN });
      assert.equal(del.status, 204);
      await sandbox.pacman(['-Sy']);
      const list = (await sandbox.pacman(['-Sl', 'stowage'])).stdout.toString();
      assert.doesNotMatch(list, /^stowage tool /m);
      assert.match(list, /^stowage hello /m);
    });

    it('keeps a valid empty database after the last delete', async () => {
      for (const [name, version, arch] of [
        ['hello', '1:2.1.0-3', 'x86_64'],
        ['greet-data', '1.0-1', 'any'],
        ['extra', '1-1', 'x86_64'],
      ] as const) {
        const res = await s.fetch(`${base}/${name}/${version}/${arch}`, { method: 'DELETE', headers: ADMIN });
        assert.equal(res.status, 204, `${name}`);
      }
      await sandbox.pacman(['-Sy']);
      assert.equal((await sandbox.pacman(['-Sl', 'stowage'])).stdout.toString(), '');
    });

    it('falls back to the any database for an arch without its own', async () => {
      const anyOnly = await buildPacmanPackage({ outDir: work, name: 'noarch-only', version: '2-1', arch: 'any' });
      assert.equal((await upload(s, '/api/packages/alice/arch/noarch', anyOnly)).status, 201);
      const other = await createPacmanSandbox(
        [{ name: 'noarch', server: `${s.url}/api/packages/alice/arch/noarch/$arch` }],
        'Required',
      );
      try {
        await other.trust(await (await s.fetch('/api/packages/alice/arch/repository.key')).text(), 'alice@noreply.localhost');
        await other.pacman(['-Sy']);
        assert.equal((await other.pacman(['-Sl', 'noarch'])).stdout.toString(), 'noarch noarch-only 2-1\n');
      } finally {
        await other.remove();
      }
    });
  });

  describe(`pacman client against the Vieter API (${engine})`, function () {
    this.timeout(180_000);
    let s: TestStowage;
    let work: string;
    let sandbox: PacmanSandbox;
    const base = '/api/packages/alice/vieter';

    before(async () => {
      requireTool('pacman', 'pacman-package-manager');
      s = await startStowage({ engine });
      work = await makeTempDir('vieter-e2e');
      sandbox = await createPacmanSandbox([{ name: 'myrepo', server: `${s.url}${base}/$repo/$arch` }]);
    });

    after(async () => {
      await sandbox?.remove();
      await s?.stop();
    });

    it('fails to sync an arch-repo that was never created', async () => {
      const res = await sandbox.pacman(['-Sy'], true);
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /failed to synchronize all databases/);
    });

    it('installs published packages, `any` ones included, without signatures', async () => {
      const hello = await buildPacmanPackage({ outDir: work, name: 'hello', version: '1:2.1.0-3' });
      const words = await buildPacmanPackage({
        outDir: work,
        name: 'words',
        version: '1-1',
        arch: 'any',
        mtree: false,
        files: { 'usr/': '', 'usr/share/': '', 'usr/share/words': 'a\n' },
      });
      for (const pkg of [hello, words]) assert.equal((await upload(s, `${base}/myrepo/publish`, pkg, 'POST')).status, 200);
      await sandbox.pacman(['-Sy']);
      assert.deepEqual(
        requestsTo(s, '/x86_64/myrepo.db.sig').map((r) => r.status),
        [404],
      );
      await sandbox.pacman(['-S', 'hello', 'words']);
      assert.ok((await stat(join(sandbox.dir, 'root/usr/bin/hello'))).isFile());
      assert.equal((await sandbox.pacman(['-Q'])).stdout.toString(), 'hello 1:2.1.0-3\nwords 1-1\n');
    });

    it('replaces a package on republish, even with a lower version', async () => {
      const older = await buildPacmanPackage({ outDir: work, name: 'hello', version: '1:2.0.0-1' });
      const res = await upload(s, `${base}/myrepo/publish`, older, 'POST');
      assert.deepEqual(await res.json(), {
        message: '',
        data: { name: 'hello', version: '1:2.0.0-1', archs: ['x86_64'] },
      });
      await sandbox.pacman(['-Sy']);
      assert.equal(
        (await sandbox.pacman(['-Sl', 'myrepo'])).stdout.toString(),
        'myrepo hello 1:2.0.0-1 [installed: 1:2.1.0-3]\nmyrepo words 1-1 [installed]\n',
      );
    });

    it('is refused by pacman with SigLevel = Required, since Vieter repos are unsigned', async () => {
      const strict = await createPacmanSandbox([{ name: 'myrepo', server: `${s.url}${base}/$repo/$arch` }], 'Required');
      try {
        const res = await strict.pacman(['-Sy'], true);
        assert.notEqual(res.code, 0);
        assert.match(res.stderr, /failed to synchronize all databases/);
      } finally {
        await strict.remove();
      }
    });

    it('stops listing a package deleted through the API and keeps the empty database', async () => {
      for (const name of ['hello', 'words']) {
        const res = await s.fetch(`${base}/myrepo/x86_64/${name}`, { method: 'DELETE', headers: ADMIN });
        assert.equal(res.status, 200);
      }
      await sandbox.pacman(['-Sy']);
      assert.equal((await sandbox.pacman(['-Sl', 'myrepo'])).stdout.toString(), '');
    });
  });
}

describe('pacman archives read by gpg and bsdtar', function () {
  this.timeout(120_000);
  let s: TestStowage;
  before(async () => {
    s = await startStowage({ engine: 'sqlite' });
  });
  after(() => s?.stop());

  it('verifies database signatures with gpg, and rejects a flipped byte', async () => {
    requireTool('gpg', 'gnupg');
    requireTool('bsdtar', 'libarchive-tools');
    const work = await makeTempDir('gpg');
    const pkg = await buildPacmanPackage({ outDir: work, name: 'signed', version: '1-1' });
    assert.equal((await upload(s, '/api/packages/alice/arch/x86_64', pkg)).status, 201);
    const base = '/api/packages/alice/arch/x86_64/x86_64';
    const files = {
      key: '/api/packages/alice/arch/repository.key',
      db: `${base}/r.db`,
      sig: `${base}/r.db.sig`,
      pkgSig: `${base}/${pkg.fileName}.sig`,
    };
    for (const [name, path] of Object.entries(files)) {
      await writeFile(join(work, name), Buffer.from(await (await s.fetch(path)).arrayBuffer()));
    }
    const home = join(work, 'gnupg');
    await run('mkdir', ['-m', '700', home]);
    await run('gpg', ['--homedir', home, '--batch', '--import', join(work, 'key')]);
    await run('gpg', ['--homedir', home, '--batch', '--verify', join(work, 'sig'), join(work, 'db')]);
    await run('gpg', ['--homedir', home, '--batch', '--verify', join(work, 'pkgSig'), pkg.path]);
    const flipped = await readFile(join(work, 'db'));
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1);
    await writeFile(join(work, 'db-flipped'), flipped);
    const bad = await run('gpg', ['--homedir', home, '--batch', '--verify', join(work, 'sig'), join(work, 'db-flipped')], {
      allowFail: true,
    });
    assert.notEqual(bad.code, 0);
    assert.match((await run('bsdtar', ['-tvf', join(work, 'db')])).stdout.toString(), /signed-1-1\/desc/);
    await run('gzip', ['-t', join(work, 'db')]);
    await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { allowFail: true });
  });
});
