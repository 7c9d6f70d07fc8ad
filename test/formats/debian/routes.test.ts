import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { arArchive, buildDeb, compressTar, tarOf, type DebFixture, type DebFixtureOptions } from '../../helpers/deb-fixtures.js';
import { assertRebuilds, buildCount, debianServiceOf } from '../../helpers/deb-trees.js';
import { spawnStowage } from '../../helpers/processes.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { makeTempDir, run } from '../../helpers/tools.js';
import { ENGINES } from '../../setup.js';
import { chunkedPut } from '../../helpers/http.js';

const MAX_UPLOAD = 400_000;
const CHALLENGE = 'Basic realm="Gitea Package API"';
const B = '/api/packages/alice/debian';

let work: string;
const deb = (o: DebFixtureOptions) => buildDeb({ outDir: work, ...o });
const body = async (res: Response) => Buffer.from(await res.arrayBuffer());
const sha = (algo: string, b: Buffer) => createHash(algo).update(b).digest('hex');

async function upload(s: TestStowage, d: string, c: string, bytes: Buffer | FormData, headers: Record<string, string> = ADMIN) {
  return s.fetch(`${B}/pool/${d}/${c}/upload`, { method: 'PUT', body: bytes instanceof FormData ? bytes : new Uint8Array(bytes), headers });
}


/** `Field: value` of a Release. */
const field = (release: string, name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(release)?.[1];

before(async () => {
  work = await makeTempDir('debian-routes');
});

for (const engine of ENGINES) {
  describe(`Forgejo Debian registry routes /api/packages/:owner/debian (${engine})`, function () {
    this.timeout(180_000);
    let s: TestStowage;
    let hello: DebFixture;
    let data: DebFixture;

    before(async () => {
      s = await startStowage({ engine, env: { STOWAGE_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
      hello = await deb({ name: 'hello-world', version: '1:1.0.0-1', extra: ['Section: utils', 'Depends:  libc6 (>= 2.17) ,libfoo', 'Homepage: https://example.com'] });
      data = await deb({ name: 'data-all', version: '2.0', architecture: 'all', compression: 'zstd' });
    });
    after(() => s?.stop());

    describe('PUT /pool/{D}/{C}/upload', () => {
      it('answers 201 with an empty body, then 409 for the same entry', async () => {
        const first = await upload(s, 'bookworm', 'main', hello.bytes);
        assert.deepEqual([first.status, await first.text()], [201, '']);
        const again = await upload(s, 'bookworm', 'main', hello.bytes);
        assert.deepEqual([again.status, await again.text()], [409, 'package file already exists']);
        await assertRebuilds(s, '.', 'bookworm');
      });

      it('takes the same package into another distribution and component', async () => {
        assert.equal((await upload(s, 'bookworm', 'contrib', hello.bytes)).status, 201);
        assert.equal((await upload(s, 'trixie', 'main', hello.bytes)).status, 201);
        await assertRebuilds(s, '.', 'bookworm');
        await assertRebuilds(s, '.', 'trixie');
      });

      it('takes the first file part of a multipart form, whatever its field', async () => {
        const form = new FormData();
        form.append('note', 'ignored');
        form.append('package', new Blob([new Uint8Array(data.bytes)]), 'upload.deb');
        const res = await upload(s, 'bookworm', 'main', form);
        assert.equal(res.status, 201, await res.text());
        const served = await s.fetch(`${B}/pool/bookworm/main/data-all_2.0_all.deb`);
        assert.deepEqual(await body(served), data.bytes);
      });

      it('answers 401 with the challenge to an anonymous upload, before reading it', async () => {
        const anon = await upload(s, 'bookworm', 'main', hello.bytes, {});
        assert.deepEqual([anon.status, anon.headers.get('www-authenticate'), await anon.text()], [401, CHALLENGE, 'reqPackageAccess\n']);
      });

      const cases: [string, () => Promise<Buffer | FormData | string>, string, number, Record<string, string>?][] = [
        ['random bytes', async () => Buffer.from('this is not a package at all, really'), 'invalid .deb: not an ar archive', 400],
        ['an empty body', async () => Buffer.alloc(0), 'control file is missing', 400],
        ['a truncated .deb', async () => (await deb({ name: 'cut', files: { 'usr/big': 'x'.repeat(9000) } })).bytes.subarray(0, 300), 'invalid .deb: truncated archive', 400],
        ['no control member', async () => arArchive([{ name: 'debian-binary', data: '2.0\n' }]), 'control file is missing', 400],
        [
          'a control.tar.bz2',
          async () => arArchive([{ name: 'debian-binary', data: '2.0\n' }, { name: 'control.tar.bz2', data: await compressTar(await tarOf([{ name: 'control', body: 'Package: x1\n' }]), 'bz2') }]),
          'unsupported compression algorithm',
          400,
        ],
        ['a bad name', async () => (await deb({ control: 'Package: Hello_World\nVersion: 1.0\nArchitecture: amd64\nMaintainer: x <x@x>\nDescription: x\n', nocheck: true, fileName: 'n.deb' })).bytes, 'package name is invalid', 400],
        ['a bad version', async () => (await deb({ control: 'Package: hello\nVersion: 1_0\nArchitecture: amd64\nMaintainer: x <x@x>\nDescription: x\n', nocheck: true, fileName: 'v.deb' })).bytes, 'package version is invalid', 400],
        ['no architecture', async () => (await deb({ control: 'Package: hello\nVersion: 1.0\nMaintainer: x <x@x>\nDescription: x\n', nocheck: true, fileName: 'a.deb' })).bytes, 'package architecture is invalid', 400],
        ['a url-encoded form', async () => 'a=b', 'multipart form has no file', 400, { 'Content-Type': 'application/x-www-form-urlencoded' }],
        [
          'a multipart form without a file',
          async () => {
            const f = new FormData();
            f.append('note', 'no file');
            return f;
          },
          'multipart form has no file',
          400,
        ],
        ['multipart without a boundary', async () => 'x', 'invalid multipart body', 400, { 'Content-Type': 'multipart/form-data' }],
        ['a body over the limit', async () => Buffer.alloc(MAX_UPLOAD + 1), 'request body too large', 413],
      ];
      for (const [what, make, reason, status, headers] of cases) {
        it(`answers ${status} "${reason}" to ${what}, and changes nothing`, async () => {
          const made = await make();
          const before = await s.snapshot();
          const res = await s.fetch(`${B}/pool/bookworm/main/upload`, {
            method: 'PUT',
            body: Buffer.isBuffer(made) ? new Uint8Array(made) : made,
            headers: { ...ADMIN, ...headers },
          });
          assert.deepEqual([res.status, await res.text()], [status, reason]);
          assert.deepEqual(await s.snapshot(), before);
        });
      }

      it('answers 400 to an invalid distribution or component before the body', async () => {
        for (const [d, c] of [
          ['book%20worm', 'main'],
          ['bookworm', '-main'],
          ['bookworm', 'by-hash'],
          ['x'.repeat(101), 'main'],
        ]) {
          const res = await upload(s, d!, c!, hello.bytes);
          assert.deepEqual([res.status, await res.text()], [400, 'invalid distribution or component'], `${d} ${c}`);
        }
      });

      it('answers 413 to a chunked body once it passes the limit, and changes nothing', async () => {
        const before = await s.snapshot();
        const res = await chunkedPut(`${s.url}${B}/pool/bookworm/main/upload`, Buffer.alloc(MAX_UPLOAD * 2), ADMIN);
        assert.equal(res.status, 413);
        assert.deepEqual(await s.snapshot(), before);
      });
    });

    describe('GET|HEAD pool files', () => {
      it('serves the package with its type, length, ETag; the epoch colon raw or %3a', async () => {
        for (const path of [`${B}/pool/bookworm/main/hello-world_1:1.0.0-1_amd64.deb`, `${B}/pool/bookworm/main/hello-world_1%3a1.0.0-1_amd64.deb`]) {
          const res = await s.fetch(path);
          assert.equal(res.status, 200, path);
          assert.equal(res.headers.get('content-type'), 'application/vnd.debian.binary-package');
          assert.equal(res.headers.get('content-length'), String(hello.bytes.length));
          assert.equal(res.headers.get('etag'), `"${sha('sha256', hello.bytes).slice(0, 32)}"`);
          assert.equal(res.headers.get('cache-control'), 'no-cache');
          assert.deepEqual(await body(res), hello.bytes);
        }
      });

      it('answers HEAD without a body, ranges with 206 and 416', async () => {
        const url = `${B}/pool/bookworm/main/hello-world_1:1.0.0-1_amd64.deb`;
        const head = await s.fetch(url, { method: 'HEAD' });
        assert.deepEqual([head.status, head.headers.get('content-length'), (await body(head)).length], [200, String(hello.bytes.length), 0]);
        const part = await s.fetch(url, { headers: { Range: 'bytes=8-67' } });
        assert.equal(part.status, 206);
        assert.deepEqual(await body(part), hello.bytes.subarray(8, 68));
        assert.equal((await s.fetch(url, { headers: { Range: `bytes=${hello.bytes.length}-` } })).status, 416);
      });

      it('adds private to Cache-Control when the request carried credentials', async () => {
        const res = await s.fetch(`${B}/pool/bookworm/main/hello-world_1:1.0.0-1_amd64.deb`, { headers: ADMIN });
        assert.equal(res.headers.get('cache-control'), 'private, no-cache');
      });

      it('answers 404 "not found" to unknown files', async () => {
        for (const path of [
          `${B}/pool/bookworm/main/nope_1.0_amd64.deb`,
          `${B}/pool/bookworm/other/hello-world_1:1.0.0-1_amd64.deb`,
          `${B}/pool/x`,
          `${B}/nothing/here`,
          `${B}/dists/nosuch/Release`,
          `${B}/dists/bookworm/nosuch`,
          `${B}/dists/bookworm/main/binary-amd64/by-hash/SHA256/${'0'.repeat(64)}`,
          `${B}/dists/bookworm/by-hash/SHA3/${'0'.repeat(64)}`,
        ]) {
          const res = await s.fetch(path);
          assert.deepEqual([res.status, await res.text()], [404, 'not found'], path);
        }
      });
    });

    describe('GET|HEAD dists files', () => {
      it('serves Release, InRelease, Release.gpg and each Packages variant', async () => {
        const release = await (await s.fetch(`${B}/dists/bookworm/Release`)).text();
        assert.equal(field(release, 'Origin'), 'Forgejo: Beyond coding. We Forge.');
        assert.equal(field(release, 'Components'), 'contrib main');
        assert.equal(field(release, 'Architectures'), 'all amd64');
        assert.equal(field(release, 'Acquire-By-Hash'), 'yes');
        assert.match(await (await s.fetch(`${B}/dists/bookworm/InRelease`)).text(), /^-----BEGIN PGP SIGNED MESSAGE-----\n/);
        assert.match(await (await s.fetch(`${B}/dists/bookworm/Release.gpg`)).text(), /^-----BEGIN PGP SIGNATURE-----\n/);
        const plain = await body(await s.fetch(`${B}/dists/bookworm/main/binary-amd64/Packages`));
        assert.match(plain.toString(), /^Package: hello-world\n/);
        assert.match(plain.toString(), /\nFilename: pool\/bookworm\/main\/hello-world_1:1\.0\.0-1_amd64\.deb\n/);
        const gz = await body(await s.fetch(`${B}/dists/bookworm/main/binary-amd64/Packages.gz`));
        assert.deepEqual(gunzipSync(gz), plain);
        const xz = await body(await s.fetch(`${B}/dists/bookworm/main/binary-amd64/Packages.xz`));
        assert.deepEqual((await run('xz', ['-dc'], { input: xz })).stdout, plain);
        for (const [path, bytes] of [
          ['main/binary-amd64/Packages', plain],
          ['main/binary-amd64/Packages.gz', gz],
          ['main/binary-amd64/Packages.xz', xz],
        ] as const) {
          assert.match(release, new RegExp(` ${sha('sha256', bytes)} +${bytes.length} ${path.replaceAll('.', '\\.')}\n`));
        }
        const res = await s.fetch(`${B}/dists/bookworm/main/binary-amd64/Packages`);
        assert.deepEqual([res.headers.get('content-type'), res.headers.get('cache-control')], ['application/octet-stream', 'no-cache']);
      });

      it('serves Packages without binary- too, on registry trees (Forgejo)', async () => {
        const a = await body(await s.fetch(`${B}/dists/bookworm/main/binary-amd64/Packages`));
        assert.deepEqual(await body(await s.fetch(`${B}/dists/bookworm/main/amd64/Packages`)), a);
        assert.deepEqual(await body(await s.fetch(`${B}/dists/bookworm/main/amd64/by-hash/SHA256/${sha('sha256', a)}`)), a);
      });

      it('serves every listed file and the Release by-hash, for all four algorithms, as immutable', async () => {
        const release = await body(await s.fetch(`${B}/dists/bookworm/Release`));
        const packages = await body(await s.fetch(`${B}/dists/bookworm/main/binary-all/Packages.xz`));
        for (const [dir, bytes] of [
          ['', release],
          ['main/binary-all/', packages],
        ] as const) {
          for (const [algo, name] of [
            ['md5', 'MD5Sum'],
            ['md5', 'md5'],
            ['sha1', 'SHA1'],
            ['sha256', 'SHA256'],
            ['sha512', 'sha512'],
          ] as const) {
            const res = await s.fetch(`${B}/dists/bookworm/${dir}by-hash/${name}/${sha(algo, bytes)}`);
            assert.equal(res.status, 200, `${dir} ${name}`);
            assert.equal(res.headers.get('cache-control'), 'max-age=31536000, immutable');
            assert.deepEqual(await body(res), bytes);
          }
        }
        // Only within its own directory.
        const wrongDir = await s.fetch(`${B}/dists/bookworm/main/binary-amd64/by-hash/SHA256/${sha('sha256', packages)}`);
        assert.equal(wrongDir.status, 404);
      });

      it('answers 304 to If-None-Match and to an If-Modified-Since at Last-Modified', async () => {
        const url = `${B}/dists/bookworm/InRelease`;
        const first = await s.fetch(url);
        const etag = first.headers.get('etag')!;
        const lastModified = first.headers.get('last-modified')!;
        assert.equal((await s.fetch(url, { headers: { 'If-None-Match': etag } })).status, 304);
        assert.equal((await s.fetch(url, { headers: { 'If-Modified-Since': lastModified } })).status, 304);
        const older = new Date(Date.parse(lastModified) - 1000).toUTCString();
        assert.equal((await s.fetch(url, { headers: { 'If-Modified-Since': older } })).status, 200);
      });

      it('changes Date and Last-Modified strictly, even for two changes in one second', async () => {
        const a = await deb({ name: 'quick-a', version: '1' });
        const b = await deb({ name: 'quick-b', version: '1' });
        const dates: number[] = [];
        for (const d of [a, b]) {
          assert.equal((await upload(s, 'bookworm', 'main', d.bytes)).status, 201);
          const res = await s.fetch(`${B}/dists/bookworm/InRelease`);
          const date = Date.parse(field(await res.text(), 'Date')!);
          assert.equal(Date.parse(res.headers.get('last-modified')!), date);
          dates.push(date);
        }
        assert.ok(dates[1]! > dates[0]!, `${dates[1]} > ${dates[0]}`);
        await assertRebuilds(s, '.', 'bookworm');
      });

      it('rebuilds only what a change touched: contrib keeps its files and validators', async () => {
        const contrib = await s.fetch(`${B}/dists/bookworm/contrib/binary-amd64/Packages.xz`);
        const before = [contrib.headers.get('etag'), contrib.headers.get('last-modified')];
        const oldRelease = await body(await s.fetch(`${B}/dists/bookworm/Release`));
        const oldPackages = await body(await s.fetch(`${B}/dists/bookworm/main/binary-amd64/Packages`));
        assert.equal((await upload(s, 'bookworm', 'main', (await deb({ name: 'only-main', version: '1' })).bytes)).status, 201);
        const after = await s.fetch(`${B}/dists/bookworm/contrib/binary-amd64/Packages.xz`);
        assert.deepEqual([after.headers.get('etag'), after.headers.get('last-modified')], before);
        const xz = await body(after);
        assert.equal((await s.fetch(`${B}/dists/bookworm/contrib/binary-amd64/by-hash/SHA512/${sha('sha512', xz)}`)).status, 200);
        // The superseded Release and Packages stay reachable by hash for apt clients mid-update.
        assert.equal((await s.fetch(`${B}/dists/bookworm/by-hash/SHA256/${sha('sha256', oldRelease)}`)).status, 200);
        assert.equal((await s.fetch(`${B}/dists/bookworm/main/binary-amd64/by-hash/SHA256/${sha('sha256', oldPackages)}`)).status, 200);
        await assertRebuilds(s, '.', 'bookworm');
      });

      it('builds from stored metadata, never from package blobs', async () => {
        const x = await deb({ name: 'blobless-x', version: '1' });
        assert.equal((await upload(s, 'blobless', 'main', x.bytes)).status, 201);
        await s.instance.blobs.remove(sha('sha256', x.bytes));
        assert.equal((await upload(s, 'blobless', 'main', (await deb({ name: 'blobless-y', version: '1' })).bytes)).status, 201);
        const packages = await (await s.fetch(`${B}/dists/blobless/main/binary-amd64/Packages`)).text();
        assert.match(packages, /^Package: blobless-x$/m);
        assert.match(packages, /^Package: blobless-y$/m);
        await assertRebuilds(s, '.', 'blobless');
      });

      it('serves the owner key as an attachment, with the spec’s user ID', async () => {
        const res = await s.fetch(`${B}/repository.key`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'application/pgp-keys');
        assert.equal(res.headers.get('content-disposition'), 'attachment; filename="repository.key"');
        const shown = (await run('gpg', ['--with-colons', '--show-keys'], { input: await res.text() })).stdout.toString();
        assert.match(shown, /^uid:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:alice \(Debian Registry\):/m);
        assert.match(shown, /^pub:[^:]*:4096:1:/m);
      });
    });

    describe('DELETE /pool/{D}/{C}/{name}/{version}/{A}', () => {
      it('answers 401 without credentials and 404 "package file does not exist", changing nothing', async () => {
        const anon = await s.fetch(`${B}/pool/bookworm/main/hello-world/1:1.0.0-1/amd64`, { method: 'DELETE' });
        assert.deepEqual([anon.status, anon.headers.get('www-authenticate')], [401, CHALLENGE]);
        const before = await s.snapshot();
        for (const path of [`${B}/pool/bookworm/main/hello-world/9.9/amd64`, `${B}/pool/nosuch/main/hello-world/1:1.0.0-1/amd64`, `${B}/pool/bookworm/main/hello-world/1:1.0.0-1/i386`]) {
          const res = await s.fetch(path, { method: 'DELETE', headers: ADMIN });
          assert.deepEqual([res.status, await res.text()], [404, 'package file does not exist'], path);
        }
        assert.deepEqual(await s.snapshot(), before);
      });

      it('removes the entry (204), and the emptied binary-all index with it (404, Forgejo parity)', async () => {
        const res = await s.fetch(`${B}/pool/bookworm/main/data-all/2.0/all`, { method: 'DELETE', headers: ADMIN });
        assert.deepEqual([res.status, await res.text()], [204, '']);
        assert.equal((await s.fetch(`${B}/pool/bookworm/main/data-all_2.0_all.deb`)).status, 404);
        assert.equal((await s.fetch(`${B}/dists/bookworm/main/binary-all/Packages`)).status, 404);
        const release = await (await s.fetch(`${B}/dists/bookworm/Release`)).text();
        assert.equal(field(release, 'Architectures'), 'amd64');
        assert.doesNotMatch(release, /binary-all/);
        await assertRebuilds(s, '.', 'bookworm');
      });

      it('takes the Release files away with the last entry of a distribution', async () => {
        for (const name of ['blobless-x', 'blobless-y']) {
          assert.equal((await s.fetch(`${B}/pool/blobless/main/${name}/1/amd64`, { method: 'DELETE', headers: ADMIN })).status, 204);
        }
        for (const f of ['Release', 'InRelease', 'Release.gpg', 'main/binary-amd64/Packages']) {
          assert.equal((await s.fetch(`${B}/dists/blobless/${f}`)).status, 404, f);
        }
        await assertRebuilds(s, '.', 'blobless');
      });
    });

    it('takes ten parallel uploads into one component: all 201, all listed, a few builds', async () => {
      const fixtures = await Promise.all(Array.from({ length: 10 }, (_, i) => deb({ name: `par${i}`, version: '1.0', architecture: i % 3 ? 'amd64' : 'all' })));
      const statuses = await Promise.all(fixtures.map(async (f) => (await upload(s, 'parallel', 'main', f.bytes)).status));
      assert.deepEqual(statuses, fixtures.map(() => 201));
      const listed = (await (await s.fetch(`${B}/dists/parallel/main/binary-amd64/Packages`)).text()) + (await (await s.fetch(`${B}/dists/parallel/main/binary-all/Packages`)).text());
      for (const f of fixtures) assert.match(listed, new RegExp(`^Package: ${f.name}$`, 'm'));
      const builds = await buildCount(s, '.', 'parallel');
      assert.ok(builds < fixtures.length, `${builds} builds for ${fixtures.length} uploads`);
      await assertRebuilds(s, '.', 'parallel');
    });

    it('never shows a reader half a build: every Release’s Packages resolve while uploads land', async () => {
      const fixtures = await Promise.all(Array.from({ length: 6 }, (_, i) => deb({ name: `reader${i}`, version: '1.0' })));
      let writing = true;
      const checked: number[] = [];
      const reader = (async () => {
        while (writing) {
          const release = await s.fetch(`${B}/dists/readers/Release`);
          if (release.status !== 200) continue;
          const text = await release.text();
          const m = / ([0-9a-f]{64}) +(\d+) main\/binary-amd64\/Packages\.xz$/m.exec(text);
          assert.ok(m, 'the Release lists Packages.xz');
          const packages = await s.fetch(`${B}/dists/readers/main/binary-amd64/by-hash/SHA256/${m[1]}`);
          assert.equal(packages.status, 200);
          const bytes = await body(packages);
          assert.deepEqual([bytes.length, sha('sha256', bytes)], [Number(m[2]), m[1]]);
          checked.push(bytes.length);
        }
      })();
      try {
        const statuses = await Promise.all(fixtures.map(async (f) => (await upload(s, 'readers', 'main', f.bytes)).status));
        assert.deepEqual(statuses, fixtures.map(() => 201));
      } finally {
        writing = false;
        await reader;
      }
      assert.ok(checked.length > 0);
      await assertRebuilds(s, '.', 'readers');
    });

    it('sweeps packages nothing references after an hour, and old by-hash history', async () => {
      // mocha runs this suite's own tests before its nested ones: `parallel` is what exists.
      const gone = await deb({ name: 'swept', version: '1' });
      assert.equal((await upload(s, 'sweep', 'main', gone.bytes)).status, 201);
      const current = await body(await s.fetch(`${B}/dists/parallel/Release`));
      assert.equal((await s.fetch(`${B}/pool/sweep/main/swept/1/amd64`, { method: 'DELETE', headers: ADMIN })).status, 204);
      const service = debianServiceOf(s);
      assert.deepEqual(await service.sweep(Date.now()), { packages: 0, files: 0 }); // not an hour yet
      const result = await service.sweep(Date.now() + 2 * 3600_000);
      assert.ok(result.packages >= 1 && result.files >= 1, JSON.stringify(result));
      assert.equal(await s.db('deb_packages').where({ name: 'swept' }).first(), undefined);
      assert.ok(await s.db('deb_packages').where({ name: 'par0' }).first(), 'referenced packages stay');
      assert.equal((await s.fetch(`${B}/dists/parallel/by-hash/SHA256/${sha('sha256', current)}`)).status, 200, 'the current Release stays');
      await assertRebuilds(s, '.', 'parallel');
    });

    it('answers 404 to other methods', async () => {
      assert.equal((await s.fetch(`${B}/pool/bookworm/main/upload`, { method: 'POST', headers: ADMIN })).status, 404);
    });
  });
}

describe('two Stowage processes on one MariaDB database (debian)', function () {
  this.timeout(180_000);
  it('take ten parallel registry uploads to one component and both serve them all', async () => {
    const first = await startStowage({ engine: 'mysql' });
    const second = await spawnStowage(first.env);
    try {
      const fixtures = await Promise.all(Array.from({ length: 10 }, (_, i) => deb({ name: `multi${i}`, version: '1.0' })));
      const statuses = await Promise.all(
        fixtures.map(async (f, i) => {
          const url = `${i % 2 ? second.url : first.url}${B}/pool/test/main/upload`;
          return (await fetch(url, { method: 'PUT', body: new Uint8Array(f.bytes), headers: ADMIN })).status;
        }),
      );
      assert.deepEqual(statuses, fixtures.map(() => 201));
      for (const url of [first.url, second.url]) {
        const packages = await (await fetch(`${url}${B}/dists/test/main/binary-amd64/Packages`)).text();
        for (const f of fixtures) assert.match(packages, new RegExp(`^Package: ${f.name}$`, 'm'), url);
      }
      await assertRebuilds(first, '.', 'test');
      assert.ok((await buildCount(first, '.', 'test')) <= fixtures.length);
      assert.deepEqual(await first.instance.blobs.listStaging(), []);
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
