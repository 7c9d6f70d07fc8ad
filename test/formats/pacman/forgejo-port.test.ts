import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPacmanPackage } from '../../helpers/pacman-fixtures.js';
import { spawnStowage } from '../../helpers/processes.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { makeTempDir, requireTool, run } from '../../helpers/tools.js';
import { ENGINES } from '../../setup.js';

// The port of Forgejo's tests/integration/api_packages_arch_test.go (pacman.md §10.5): the same
// groups, fixtures (rebuilt with bsdtar) and status codes, with the spec's intended changes:
// deletes name an arch, an emptied database stays (F1), file lists live in .files (F3).

const GROUPS = ['', 'arch', 'arch/os', 'x86_64'];

type Bytes = Buffer<ArrayBuffer>;

interface Fixtures {
  readonly any: Bytes;
  readonly x86_64: Bytes;
  readonly aarch64: Bytes;
  readonly other: Bytes;
}

async function buildFixtures(dir: string): Promise<Fixtures> {
  const base = { name: 'test', version: '1.0.0-1', outDir: dir, description: 'Test Package', url: 'https://example.com/' };
  const [any, x86, arm, other] = await Promise.all([
    buildPacmanPackage({ ...base, arch: 'any' }),
    buildPacmanPackage({ ...base, arch: 'x86_64' }),
    buildPacmanPackage({ ...base, arch: 'aarch64' }),
    buildPacmanPackage({ ...base, name: 'test2', arch: 'x86_64', compression: 'xz' }),
  ]);
  return {
    any: await readFile(any!.path),
    x86_64: await readFile(x86!.path),
    aarch64: await readFile(arm!.path),
    other: await readFile(other!.path),
  };
}

/** desc files of a database, by entry name. */
async function descs(db: Buffer): Promise<Map<string, string>> {
  const names = (await run('bsdtar', ['-tf', '-'], { input: db })).stdout.toString().split('\n').filter((n) => n.endsWith('/desc'));
  const out = new Map<string, string>();
  for (const name of names) out.set(name, (await run('bsdtar', ['-xOf', '-', name], { input: db })).stdout.toString());
  return out;
}

const property = (desc: string, key: string) => new RegExp(`%${key}%\\n([^\\n]*)`).exec(desc)?.[1] ?? '';

async function gpgVerify(work: string, key: string, sig: Buffer, data: Buffer): Promise<void> {
  const home = join(work, `gnupg-${Math.random().toString(16).slice(2)}`);
  await run('mkdir', ['-m', '700', home]);
  await writeFile(join(work, 'k.asc'), key);
  await writeFile(join(work, 'd'), data);
  await writeFile(join(work, 'd.sig'), sig);
  try {
    await run('gpg', ['--homedir', home, '--batch', '--import', join(work, 'k.asc')]);
    await run('gpg', ['--homedir', home, '--batch', '--verify', join(work, 'd.sig'), join(work, 'd')]);
  } finally {
    await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { allowFail: true });
  }
}

for (const engine of ENGINES) {
  describe(`port of Forgejo's TestPackageArch (${engine})`, function () {
    this.timeout(180_000);
    let s: TestStowage;
    let pkgs: Fixtures;
    let work: string;
    const root = '/api/packages/alice/arch';
    const bytes = async (path: string, status = 200) => {
      const res = await s.fetch(path);
      assert.equal(res.status, status, path);
      return Buffer.from(await res.arrayBuffer());
    };
    const put = async (url: string, body: Bytes, headers: Record<string, string> = ADMIN) =>
      (await s.fetch(url, { method: 'PUT', body, headers })).status;
    const del = async (url: string) => (await s.fetch(url, { method: 'DELETE', headers: ADMIN })).status;

    before(async () => {
      requireTool('gpg', 'gnupg');
      work = await makeTempDir('forgejo-port');
      pkgs = await buildFixtures(work);
      s = await startStowage({ engine });
    });
    after(() => s?.stop());

    it('RepositoryKey', async () => {
      const res = await s.fetch(`${root}/repository.key`);
      // Standalone mode: the owner exists once it uploaded; upload first, as Forgejo's user exists.
      assert.equal(res.status, 404);
      assert.equal(await put(`${root}/warmup`, pkgs.any), 201);
      const again = await s.fetch(`${root}/repository.key`);
      assert.equal(again.headers.get('content-type'), 'application/pgp-keys');
      assert.match(await again.text(), /-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    });

    for (const group of GROUPS) {
      const groupUrl = group ? `${root}/${group}` : root;

      it(`Upload[${group}]`, async () => {
        assert.equal(await put(groupUrl, pkgs.any, {}), 401);
        assert.equal(await put(groupUrl, pkgs.any), 201);
        assert.equal(await put(groupUrl, pkgs.any), 409);
        assert.equal(await put(groupUrl, pkgs.x86_64), 201);
        assert.equal(await put(groupUrl, pkgs.aarch64), 201);
        assert.equal(await put(groupUrl, pkgs.aarch64), 409);
      });

      it(`Download[${group}]`, async () => {
        assert.deepEqual(await bytes(`${groupUrl}/x86_64/test-1.0.0-1-x86_64.pkg.tar.zst`), pkgs.x86_64);
        assert.deepEqual(await bytes(`${groupUrl}/x86_64/test-1.0.0-1-any.pkg.tar.zst`), pkgs.any);
        await bytes(`${root}/unknown/x86_64/test-1.0.0-1-aarch64.pkg.tar.zst`, 404);
      });

      it(`SignVerify[${group}]`, async () => {
        const key = (await bytes(`${root}/repository.key`)).toString();
        const pkg = await bytes(`${groupUrl}/x86_64/test-1.0.0-1-any.pkg.tar.zst`);
        const sig = await bytes(`${groupUrl}/x86_64/test-1.0.0-1-any.pkg.tar.zst.sig`);
        await gpgVerify(work, key, sig, pkg);
      });

      it(`RepositoryDB[${group}]`, async () => {
        const key = (await bytes(`${root}/repository.key`)).toString();
        const db = await bytes(`${groupUrl}/x86_64/base.db`);
        await gpgVerify(work, key, await bytes(`${groupUrl}/x86_64/base.db.sig`), db);
        const entries = await descs(db);
        assert.equal(entries.size, 1); // one version: its x86_64 file beats the any file
        for (const [name, desc] of entries) {
          assert.equal(name, `${property(desc, 'NAME')}-${property(desc, 'VERSION')}/desc`);
          assert.equal(property(desc, 'ARCH'), 'x86_64');
          const sig = await bytes(`${groupUrl}/x86_64/${property(desc, 'FILENAME')}.sig`);
          assert.deepEqual(Buffer.from(property(desc, 'PGPSIG'), 'base64'), sig);
        }
        // F3: file lists are in .files only.
        const files = (await run('bsdtar', ['-tf', '-'], { input: await bytes(`${groupUrl}/x86_64/base.files`) })).stdout.toString();
        assert.match(files, /^test-1\.0\.0-1\/files$/m);
        assert.doesNotMatch((await run('bsdtar', ['-tf', '-'], { input: db })).stdout.toString(), /\/files$/m);
      });

      it(`Delete[${group}]`, async () => {
        assert.equal(await put(groupUrl, pkgs.other), 201);
        assert.equal(await del(`${root}/base/notfound/1.0.0-1/x86_64`), 404);
        for (const arch of ['x86_64', 'aarch64', 'any']) assert.equal(await del(`${groupUrl}/test/1.0.0-1/${arch}`), 204, arch);
        const left = await descs(await bytes(`${groupUrl}/x86_64/base.db`));
        assert.deepEqual([...left.keys()], ['test2-1.0.0-1/desc']);
        assert.equal(await del(`${groupUrl}/test2/1.0.0-1/x86_64`), 204);
        // F1: the database stays, empty and valid.
        assert.equal((await descs(await bytes(`${groupUrl}/x86_64/base.db`))).size, 0);
      });
    }
  });
}

describe("port of Forgejo's concurrent arch uploads, two processes on MariaDB", function () {
  this.timeout(180_000);
  it('answers three 201s to parallel any/aarch64/x86_64 uploads, then three 204s', async () => {
    const work = await makeTempDir('forgejo-port-race');
    const pkgs = await buildFixtures(work);
    const first = await startStowage({ engine: 'mysql' });
    const second = await spawnStowage(first.env);
    try {
      const url = (i: number, path: string) => `${i % 2 ? second.url : first.url}/api/packages/alice/arch/race${path}`;
      const puts = await Promise.all(
        [pkgs.any, pkgs.aarch64, pkgs.x86_64].map(async (body, i) => (await fetch(url(i, ''), { method: 'PUT', body, headers: ADMIN })).status),
      );
      assert.deepEqual(puts, [201, 201, 201]);
      for (const arch of ['x86_64', 'aarch64']) {
        const db = Buffer.from(await (await fetch(url(0, `/${arch}/race.db`))).arrayBuffer());
        const entries = await descs(db);
        assert.equal(property([...entries.values()][0] ?? '', 'ARCH'), arch);
      }
      const dels = await Promise.all(
        ['any', 'aarch64', 'x86_64'].map(async (arch, i) => (await fetch(url(i, `/test/1.0.0-1/${arch}`), { method: 'DELETE', headers: ADMIN })).status),
      );
      assert.deepEqual(dels, [204, 204, 204]);
      for (const arch of ['x86_64', 'aarch64', 'any']) {
        const db = Buffer.from(await (await fetch(url(1, `/${arch}/race.db`))).arrayBuffer());
        assert.equal((await descs(db)).size, 0, arch);
      }
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
