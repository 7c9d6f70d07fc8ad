import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildDeb, forgejoArchive } from '../../helpers/deb-fixtures.js';
import { assertRebuilds } from '../../helpers/deb-trees.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { makeTempDir } from '../../helpers/tools.js';
import { ENGINES } from '../../setup.js';

// The port of Forgejo's tests/integration/api_packages_debian_test.go (debian.md §9.5): its
// cases, statuses and body checks, with fixtures built by dpkg-deb.
const packageName = 'gitea';
const packageVersion = '1.0.3';
const packageVersion2 = '1.0.4';
const packageDescription = 'Package Description';
const distributions = ['test', 'gitea'];
const components = ['main', 'stable'];
const architectures = ['all', 'amd64'];
const rootURL = '/api/packages/alice/debian';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

for (const engine of ENGINES) {
  describe(`Forgejo's Debian integration test, ported (${engine})`, function () {
    this.timeout(180_000);
    let s: TestStowage;
    let work: string;
    const put = (url: string, body: Buffer, headers: Record<string, string> = ADMIN) => s.fetch(url, { method: 'PUT', body: new Uint8Array(body), headers });

    /** Forgejo's createArchive, built by dpkg-deb (`--nocheck` for the empty fields). */
    const createArchive = async (name: string, version: string, architecture: string) =>
      (
        await buildDeb({
          outDir: work,
          control: `Package: ${name}\nVersion: ${version}\nArchitecture: ${architecture}\nMaintainer: x <x@example.com>\nDescription: ${packageDescription}\n`,
          nocheck: true,
          fileName: `${name || 'empty'}_${version || 'v'}_${architecture || 'a'}.deb`,
        })
      ).bytes;

    before(async () => {
      s = await startStowage({ engine });
      work = await makeTempDir('forgejo-port');
      // Forgejo's test user exists; a standalone owner comes with its first write.
      await s.fetch(`${rootURL}/pool/x/y/none/1/all`, { method: 'DELETE', headers: ADMIN });
    });
    after(() => s?.stop());

    it('RepositoryKey', async () => {
      const resp = await s.fetch(`${rootURL}/repository.key`);
      assert.equal(resp.status, 200);
      assert.equal(resp.headers.get('content-type'), 'application/pgp-keys');
      assert.ok((await resp.text()).includes('-----BEGIN PGP PUBLIC KEY BLOCK-----'));
    });

    for (const distribution of distributions) {
      describe(`[Distribution:${distribution}]`, () => {
        for (const component of components) {
          for (const architecture of architectures) {
            describe(`[Component:${component},Architecture:${architecture}]`, () => {
              const uploadURL = `${rootURL}/pool/${distribution}/${component}/upload`;

              it('Upload', async () => {
                assert.equal((await put(uploadURL, Buffer.alloc(0), {})).status, 401);
                assert.equal((await put(uploadURL, Buffer.alloc(0))).status, 400);
                assert.equal((await put(uploadURL, await createArchive('', '', ''))).status, 400);
                assert.equal((await put(uploadURL, await createArchive(packageName, packageVersion, architecture))).status, 201);
                // Forgejo checks its package rows; ours: the entry, its file name and properties.
                const entry = await s.db('deb_registry_entries').where({ distribution, component, name: packageName, version: packageVersion, architecture }).first();
                assert.ok(entry, 'registry entry');
                const pkg = await s.db('deb_packages').where({ id: entry.package_id }).first();
                assert.equal(pkg.file_name, `${packageName}_${packageVersion}_${architecture}.deb`);
                assert.equal((await put(uploadURL, await createArchive(packageName, packageVersion, architecture))).status, 409);
              });

              it('Download', async () => {
                const resp = await s.fetch(`${rootURL}/pool/${distribution}/${component}/${packageName}_${packageVersion}_${architecture}.deb`);
                assert.equal(resp.status, 200);
                assert.equal(resp.headers.get('content-type'), 'application/vnd.debian.binary-package');
              });

              it('Packages', async () => {
                assert.equal((await put(uploadURL, await createArchive(packageName, packageVersion2, architecture))).status, 201);
                const url = `${rootURL}/dists/${distribution}/${component}/binary-${architecture}/Packages`;
                const resp = await s.fetch(url);
                assert.equal(resp.status, 200);
                const body = await resp.text();
                assert.ok(body.includes(`Package: ${packageName}\n`));
                assert.ok(body.includes(`Version: ${packageVersion}\n`));
                assert.ok(body.includes(`Version: ${packageVersion2}\n`));
                assert.ok(body.includes(`Architecture: ${architecture}\n`));
                assert.ok(body.includes(`Filename: pool/${distribution}/${component}/${packageName}_${packageVersion}_${architecture}.deb\n`));
                assert.ok(body.includes(`Filename: pool/${distribution}/${component}/${packageName}_${packageVersion2}_${architecture}.deb\n`));
                assert.equal((await s.fetch(`${url}.gz`)).status, 200);
                assert.equal((await s.fetch(`${url}.xz`)).status, 200);
                const byHash = await s.fetch(`${rootURL}/dists/${distribution}/${component}/${architecture}/by-hash/SHA256/${sha256(body)}`);
                assert.equal(byHash.status, 200);
                assert.equal(await byHash.text(), body);
              });
            });
          }
        }

        describe('Release', () => it('Release', async () => {
          const resp = await s.fetch(`${rootURL}/dists/${distribution}/Release`);
          assert.equal(resp.status, 200);
          const body = await resp.text();
          assert.ok(body.includes(`Components: ${components.join(' ')}\n`));
          assert.ok(body.includes(`Architectures: ${architectures.join(' ')}\n`));
          for (const component of components) {
            for (const architecture of architectures) {
              assert.ok(body.includes(`${component}/binary-${architecture}/Packages\n`));
              assert.ok(body.includes(`${component}/binary-${architecture}/Packages.gz\n`));
              assert.ok(body.includes(`${component}/binary-${architecture}/Packages.xz\n`));
            }
          }
          const byHash = await s.fetch(`${rootURL}/dists/${distribution}/by-hash/SHA256/${sha256(body)}`);
          assert.equal(byHash.status, 200);
          assert.equal(await byHash.text(), body);
          assert.ok((await (await s.fetch(`${rootURL}/dists/${distribution}/Release.gpg`)).text()).includes('-----BEGIN PGP SIGNATURE-----'));
          assert.ok((await (await s.fetch(`${rootURL}/dists/${distribution}/InRelease`)).text()).includes('-----BEGIN PGP SIGNED MESSAGE-----'));
          await assertRebuilds(s, '.', distribution);
        }));
      });
    }

    // mocha runs a suite's own tests before its child suites: these come last on purpose.
    describe('after the uploads', () => {
    it('Delete', async () => {
      const distribution = distributions[0]!;
      const architecture = architectures[0]!;
      for (const component of components) {
        const url = (version: string) => `${rootURL}/pool/${distribution}/${component}/${packageName}/${version}/${architecture}`;
        assert.equal((await s.fetch(url(packageVersion), { method: 'DELETE' })).status, 401);
        assert.equal((await s.fetch(url(packageVersion), { method: 'DELETE', headers: ADMIN })).status, 204);
        assert.equal((await s.fetch(url(packageVersion2), { method: 'DELETE', headers: ADMIN })).status, 204);
        assert.equal((await s.fetch(`${rootURL}/dists/${distribution}/${component}/binary-${architecture}/Packages`)).status, 404);
      }
      const resp = await s.fetch(`${rootURL}/dists/${distribution}/Release`);
      assert.equal(resp.status, 200);
      const body = await resp.text();
      assert.ok(body.includes(`Components: ${components.join(' ')}\n`));
      assert.ok(body.includes(`Architectures: ${architectures[1]}\n`));
      await assertRebuilds(s, '.', distribution);
    });

    it('accepts Forgejo’s own fixture: only control.tar.gz, its control cut after 50 bytes', async () => {
      const res = await put(`${rootURL}/pool/cut/main/upload`, await forgejoArchive(packageName, packageVersion, 'all'));
      assert.equal(res.status, 201);
      const empty = await put(`${rootURL}/pool/cut/main/upload`, await forgejoArchive('', '', ''));
      assert.equal(empty.status, 400);
      await assertRebuilds(s, '.', 'cut');
    });

    it('takes 10 concurrent uploads to one distribution and component', async () => {
      const bodies = await Promise.all(Array.from({ length: 10 }, (_, i) => createArchive(`${packageName}${i}`, packageVersion, 'amd64')));
      const statuses = await Promise.all(bodies.map(async (b) => (await put(`${rootURL}/pool/concurrent/main/upload`, b)).status));
      assert.deepEqual(statuses, bodies.map(() => 201));
      const packages = await (await s.fetch(`${rootURL}/dists/concurrent/main/binary-amd64/Packages`)).text();
      for (let i = 0; i < 10; i++) assert.ok(packages.includes(`Package: ${packageName}${i}\n`), `${i}`);
      await assertRebuilds(s, '.', 'concurrent');
    });
    });
  });
}
