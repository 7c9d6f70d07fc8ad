import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { pack } from 'tar-stream';
import { listIndexMembers } from '../../../src/db/packages.js';
import { findPacmanDb } from '../../../src/db/pacman.js';
import { findRepositoryId } from '../../../src/db/locks.js';
import { TRAILER } from '../../../src/formats/pacman/database.js';
import { buildPacmanPackage, type PacmanFixture, type PacmanFixtureOptions } from '../../helpers/pacman-fixtures.js';
import { spawnStowage } from '../../helpers/processes.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { makeTempDir, run } from '../../helpers/tools.js';
import { ENGINES } from '../../setup.js';
import { chunkedRequest } from '../../helpers/http.js';

const MAX_UPLOAD = 300_000;
const BAD_KEY = { Authorization: `token ${'0'.repeat(40)}` };
const CHALLENGE = 'Basic realm="Gitea Package API"';

let work: string;
const pkg = async (o: PacmanFixtureOptions) => buildPacmanPackage({ outDir: work, ...o });
const bytesOf = async (f: PacmanFixture) => readFile(f.path);

/** A `.pkg.tar.zst` whose tar holds exactly these entries (for path tricks bsdtar won't write). */
async function rawPackage(entries: readonly { name: string; body: string }[]): Promise<Buffer<ArrayBuffer>> {
  const tar = pack();
  for (const e of entries) tar.entry({ name: e.name }, e.body);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const c of tar) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.from((await run('zstd', ['-q', '-c'], { input: Buffer.concat(chunks) })).stdout);
}

const PKGINFO = 'pkgname = evil\npkgbase = evil\npkgver = 1-1\narch = x86_64\n';

/** The database as a full rebuild from stored members would write it (pacman.md §8 invariant). */
async function rebuilt(s: TestStowage, type: string, group: string, arch: string, kind: 'db' | 'files') {
  const ownerId = Number((await s.db('local_owners').where({ lower_name: 'alice' }).first('id')).id);
  const repositoryId = await findRepositoryId(s.db, { type, ownerId, name: group });
  assert.ok(repositoryId !== undefined);
  const current = await findPacmanDb(s.db, repositoryId, arch);
  assert.ok(current);
  const members = await listIndexMembers(
    s.db,
    current.manifest.map((e) => e.fileId),
  );
  return Buffer.concat([
    ...current.manifest.map((e) => (kind === 'db' ? members.get(e.fileId)!.member : members.get(e.fileId)!.full)),
    TRAILER,
  ]);
}

async function body(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}


before(async () => {
  work = await makeTempDir('pacman-routes');
});

for (const engine of ENGINES) {
  describe(`Forgejo Arch routes /api/packages/:owner/arch (${engine})`, function () {
    this.timeout(120_000);
    let s: TestStowage;
    let hello: PacmanFixture;
    let any: PacmanFixture;
    const F = '/api/packages/alice/arch';

    before(async () => {
      s = await startStowage({ engine, env: { STOWAGE_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
      hello = await pkg({ name: 'hello', version: '1:2.1.0-3' });
      any = await pkg({ name: 'data', version: '1-1', arch: 'any', compression: 'xz' });
    });
    after(() => s?.stop());

    describe('PUT /arch{/group…}', () => {
      it('answers 201 with an empty body, then 409 for the same file', async () => {
        const first = await s.fetch(`${F}/os/core`, { method: 'PUT', body: await bytesOf(hello), headers: ADMIN });
        assert.deepEqual([first.status, await first.text()], [201, '']);
        const again = await s.fetch(`${F}/os/core`, { method: 'PUT', body: await bytesOf(hello), headers: ADMIN });
        assert.deepEqual([again.status, await again.text()], [409, 'package file already exists']);
      });

      it('takes the same file into another group, and into the root group', async () => {
        for (const path of [`${F}/other`, F]) {
          const res = await s.fetch(path, { method: 'PUT', body: await bytesOf(hello), headers: ADMIN });
          assert.equal(res.status, 201, path);
        }
      });

      it('takes the first file part of a multipart form', async () => {
        const form = new FormData();
        form.append('note', 'ignored');
        form.append('file', new Blob([await bytesOf(any)]), 'whatever-name.bin');
        const res = await s.fetch(`${F}/os/core`, { method: 'PUT', body: form, headers: ADMIN });
        assert.equal(res.status, 201);
        const served = await s.fetch(`${F}/os/core/x86_64/${any.fileName}`);
        assert.deepEqual(await body(served), await bytesOf(any));
      });

      it('answers 401 with the challenge to an anonymous upload, bare 401 to a bad key', async () => {
        const anon = await s.fetch(`${F}/os/core`, { method: 'PUT', body: await bytesOf(hello) });
        assert.equal(anon.status, 401);
        assert.equal(anon.headers.get('www-authenticate'), CHALLENGE);
        assert.equal(await anon.text(), 'reqPackageAccess\n');
        const bad = await s.fetch(`${F}/os/core`, { method: 'PUT', body: await bytesOf(hello), headers: BAD_KEY });
        assert.deepEqual([bad.status, bad.headers.get('www-authenticate')], [401, null]);
      });

      const badInputs: [string, () => Promise<BodyInit>, string, number, Record<string, string>?][] = [
        ['random bytes', async () => Buffer.from('this is not a package at all, really'), 'not supported compression', 400],
        ['a plain tar', async () => bytesOf(await pkg({ name: 'plain', compression: 'none' })), 'not supported compression', 400],
        ['bzip2', async () => bytesOf(await pkg({ name: 'bz', compression: 'bzip2' })), 'not supported compression', 400],
        [
          'a truncated archive',
          async () => Buffer.from((await bytesOf(await pkg({ name: 'cut', files: { 'usr/': '', 'usr/big': 'x'.repeat(50_000) } }))).subarray(0, 400)),
          'corrupt or truncated package',
          400,
        ],
        ['no .PKGINFO', async () => rawPackage([{ name: 'usr/bin/x', body: 'x' }]), '.PKGINFO file not found', 400],
        ['no .MTREE', async () => bytesOf(await pkg({ name: 'nomtree', mtree: false })), '.MTREE file not found', 400],
        ['a bad name', async () => bytesOf(await pkg({ name: '-bad' })), 'invalid package name', 400],
        ['a bad version', async () => bytesOf(await pkg({ name: 'v', version: '1.0' })), 'invalid package version', 400],
        [
          'a path with ..',
          async () => rawPackage([{ name: '.PKGINFO', body: PKGINFO }, { name: '.MTREE', body: '' }, { name: 'usr/../../etc/x', body: 'x' }]),
          '',
          400,
        ],
        [
          'an absolute path',
          async () => rawPackage([{ name: '.PKGINFO', body: PKGINFO }, { name: '.MTREE', body: '' }, { name: '/etc/x', body: 'x' }]),
          '',
          400,
        ],
        ['an unsupported property', async () => bytesOf(await pkg({ name: 'prop', extra: ['color = red'] })), 'property is not supported color', 400],
        ['a url-encoded form', async () => 'a=b', 'form-urlencoded bodies are not supported', 400, { 'Content-Type': 'application/x-www-form-urlencoded' }],
        ['a multipart form without a file', async () => {
          const f = new FormData();
          f.append('note', 'no file');
          return f;
        }, 'no file in multipart form', 400],
        ['a body over the limit', async () => Buffer.alloc(MAX_UPLOAD + 1), 'request body too large', 413],
      ];
      for (const [what, make, reason, status, headers] of badInputs) {
        it(`answers ${status} in one line to ${what}, and changes nothing`, async () => {
          const before = await s.snapshot();
          const res = await s.fetch(`${F}/os/core`, { method: 'PUT', body: await make(), headers: { ...ADMIN, ...headers } });
          const text = await res.text();
          assert.equal(res.status, status, text);
          assert.match(text, /^[^\n]+$/);
          if (reason) assert.equal(text, reason);
          assert.deepEqual(await s.snapshot(), before);
        });
      }

      it('answers 413 to a chunked body once it passes the limit, and changes nothing', async () => {
        const before = await s.snapshot();
        const res = await chunkedRequest(`${s.url}${F}/os/core`, 'PUT', Buffer.alloc(MAX_UPLOAD * 2), ADMIN);
        assert.equal(res.status, 413);
        assert.deepEqual(await s.snapshot(), before);
      });

      it('answers 400 to a bad group segment before reading the body', async () => {
        const res = await s.fetch(`${F}/bad%20group`, { method: 'PUT', body: await bytesOf(hello), headers: ADMIN });
        assert.deepEqual([res.status, await res.text()], [400, 'invalid group']);
      });
    });

    describe('GET|HEAD /arch/{group…}/{arch}/{file}', () => {
      it('serves the package with its length, type, ETag and cache headers', async () => {
        const res = await s.fetch(`${F}/os/core/x86_64/${hello.fileName}`);
        const bytes = await bytesOf(hello);
        assert.equal(res.status, 200);
        assert.deepEqual(await body(res), bytes);
        assert.equal(res.headers.get('content-type'), 'application/octet-stream');
        assert.equal(res.headers.get('content-length'), String(bytes.length));
        assert.equal(res.headers.get('accept-ranges'), 'bytes');
        assert.equal(res.headers.get('cache-control'), 'private, max-age=300');
        assert.equal(res.headers.get('etag'), `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`);
        assert.equal(res.headers.get('content-encoding'), null);
      });

      it('ignores the arch segment for packages and looks names up case-insensitively', async () => {
        const res = await s.fetch(`${F}/os/core/aarch64/${any.fileName.toUpperCase().replace('.PKG.TAR.XZ', '.pkg.tar.xz')}`);
        assert.equal(res.status, 200);
      });

      it('answers HEAD with the same headers and no body', async () => {
        const res = await s.fetch(`${F}/os/core/x86_64/${hello.fileName}`, { method: 'HEAD' });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-length'), String((await bytesOf(hello)).length));
        assert.equal((await body(res)).length, 0);
      });

      it('serves ranges with 206 and Content-Range, and 416 past the end', async () => {
        const bytes = await bytesOf(hello);
        const url = `${F}/os/core/x86_64/${hello.fileName}`;
        const part = await s.fetch(url, { headers: { Range: 'bytes=10-19' } });
        assert.equal(part.status, 206);
        assert.equal(part.headers.get('content-range'), `bytes 10-19/${bytes.length}`);
        assert.deepEqual(await body(part), bytes.subarray(10, 20));
        const suffix = await s.fetch(url, { headers: { Range: 'bytes=-5' } });
        assert.deepEqual(await body(suffix), bytes.subarray(bytes.length - 5));
        const past = await s.fetch(url, { headers: { Range: `bytes=${bytes.length}-` } });
        assert.equal(past.status, 416);
        assert.equal(past.headers.get('content-range'), `bytes */${bytes.length}`);
        const multi = await s.fetch(url, { headers: { Range: 'bytes=0-1,4-5' } });
        assert.equal(multi.status, 200);
        const stale = await s.fetch(url, { headers: { Range: 'bytes=0-1', 'If-Range': '"nope"' } });
        assert.equal(stale.status, 200);
      });

      it('answers 304 to a matching If-None-Match or a later If-Modified-Since', async () => {
        const url = `${F}/os/core/x86_64/os.db`;
        const first = await s.fetch(url);
        const etag = first.headers.get('etag')!;
        const lastModified = first.headers.get('last-modified')!;
        const byTag = await s.fetch(url, { headers: { 'If-None-Match': etag } });
        assert.equal(byTag.status, 304);
        assert.equal(byTag.headers.get('etag'), etag);
        const byDate = await s.fetch(url, { headers: { 'If-Modified-Since': lastModified } });
        assert.equal(byDate.status, 304);
        const older = new Date(Date.parse(lastModified) - 1000).toUTCString();
        assert.equal((await s.fetch(url, { headers: { 'If-Modified-Since': older } })).status, 200);
      });

      it('serves the package signature, and each archive under every alias with its signature', async () => {
        const sig = await s.fetch(`${F}/os/core/x86_64/${hello.fileName}.sig`);
        assert.equal(sig.status, 200);
        assert.equal((await body(sig))[0]! & 0x80, 0x80); // a binary OpenPGP packet
        const db = await body(await s.fetch(`${F}/os/core/x86_64/anything.db`));
        assert.deepEqual(await body(await s.fetch(`${F}/os/core/x86_64/other.db.tar.gz`)), db);
        const files = await s.fetch(`${F}/os/core/x86_64/x.files`);
        assert.equal(files.headers.get('cache-control'), 'no-cache');
        assert.notDeepEqual(await body(files), db);
        for (const name of ['x.db.sig', 'x.db.tar.gz.sig', 'x.files.sig', 'x.files.tar.gz.sig']) {
          assert.equal((await s.fetch(`${F}/os/core/x86_64/${name}`)).status, 200, name);
        }
      });

      it('lists `any` packages in the arch database and serves the any database alone', async () => {
        const list = (await run('bsdtar', ['-tf', '-'], { input: await body(await s.fetch(`${F}/os/core/x86_64/x.db`)) })).stdout.toString();
        assert.equal(list, `${any.dir}/\n${any.dir}/desc\n${hello.dir}/\n${hello.dir}/desc\n`);
        const anyList = (await run('bsdtar', ['-tf', '-'], { input: await body(await s.fetch(`${F}/os/core/any/x.db`)) })).stdout.toString();
        assert.equal(anyList, `${any.dir}/\n${any.dir}/desc\n`);
        // An arch with no database of its own falls back to the group's any database.
        assert.deepEqual(await body(await s.fetch(`${F}/os/core/riscv64/x.db`)), await body(await s.fetch(`${F}/os/core/any/x.db`)));
      });

      it('keeps every database equal to a full rebuild from the stored members', async () => {
        for (const arch of ['x86_64', 'any']) {
          for (const kind of ['db', 'files'] as const) {
            const served = await body(await s.fetch(`${F}/os/core/${arch}/r.${kind}`));
            assert.deepEqual(served, await rebuilt(s, 'arch', 'os/core', arch, kind), `${arch} ${kind}`);
          }
        }
      });

      it('answers 404 with an empty body to unknown files, groups and malformed names', async () => {
        for (const path of [
          `${F}/os/core/x86_64/nope-1-1-x86_64.pkg.tar.zst`,
          `${F}/os/core/x86_64/a-b.pkg.tar.zst`, // fewer than 4 dash parts (F4)
          `${F}/nosuch/x86_64/x.db`,
          `${F}/os/core/x86_64/x.db.tar.zst`,
          `${F}/os/core/x86_64/readme.txt`,
          `${F}/x.db`,
          `${F}/os/a%2Fb/x86_64/x.db`, // a decoded segment may not hold a slash
          `${F}/os/a%00b/x86_64/x.db`,
        ]) {
          const res = await s.fetch(path);
          assert.deepEqual([res.status, await res.text()], [404, ''], path);
        }
      });

      it('serves the owner key as an attachment', async () => {
        const res = await s.fetch(`${F}/repository.key`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'application/pgp-keys');
        assert.equal(res.headers.get('content-disposition'), 'attachment; filename="repository.key"');
        assert.match(await res.text(), /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
      });

      it('answers 404 to an owner with nothing uploaded', async () => {
        const res = await s.fetch('/api/packages/nobody/arch/repository.key');
        assert.deepEqual([res.status, await res.text()], [404, 'Not found.\n']);
      });
    });

    describe('DELETE /arch/{group…}/{name}/{version}/{arch}', () => {
      it('answers 400 to fewer than three segments and 401 without credentials', async () => {
        assert.equal((await s.fetch(`${F}/hello/x86_64`, { method: 'DELETE', headers: ADMIN })).status, 400);
        const anon = await s.fetch(`${F}/os/core/hello/1:2.1.0-3/x86_64`, { method: 'DELETE' });
        assert.deepEqual([anon.status, anon.headers.get('www-authenticate')], [401, CHALLENGE]);
      });

      it('answers 404 "Not Found" to an unknown version or a missing file, and changes nothing', async () => {
        const before = await s.snapshot();
        for (const path of [`${F}/os/core/hello/9-9/x86_64`, `${F}/os/core/hello/1:2.1.0-3/aarch64`, `${F}/nosuch/hello/1:2.1.0-3/x86_64`]) {
          const res = await s.fetch(path, { method: 'DELETE', headers: ADMIN });
          assert.deepEqual([res.status, await res.text()], [404, 'Not Found'], path);
        }
        assert.deepEqual(await s.snapshot(), before);
      });

      it('deletes the version case-insensitively, with its signature, and keeps the database (204)', async () => {
        const res = await s.fetch(`${F}/os/core/HELLO/1:2.1.0-3/X86_64`, { method: 'DELETE', headers: ADMIN });
        assert.deepEqual([res.status, await res.text()], [204, '']);
        assert.equal((await s.fetch(`${F}/os/core/x86_64/${hello.fileName}`)).status, 404);
        assert.equal((await s.fetch(`${F}/os/core/x86_64/${hello.fileName}.sig`)).status, 404);
        // Other groups keep their copy; the version lives on there.
        assert.equal((await s.fetch(`${F}/other/x86_64/${hello.fileName}`)).status, 200);
        const list = (await run('bsdtar', ['-tf', '-'], { input: await body(await s.fetch(`${F}/os/core/x86_64/x.db`)) })).stdout.toString();
        assert.equal(list, `${any.dir}/\n${any.dir}/desc\n`);
        assert.deepEqual(await body(await s.fetch(`${F}/os/core/x86_64/r.db`)), await rebuilt(s, 'arch', 'os/core', 'x86_64', 'db'));
      });

      it('serves an empty but valid database once the last package is gone (F1)', async () => {
        assert.equal((await s.fetch(`${F}/os/core/data/1-1/any`, { method: 'DELETE', headers: ADMIN })).status, 204);
        const db = await s.fetch(`${F}/os/core/x86_64/x.db`);
        assert.equal(db.status, 200);
        const bytes = await body(db);
        assert.deepEqual(bytes, TRAILER);
        assert.equal((await run('bsdtar', ['-tf', '-'], { input: bytes })).stdout.toString(), '');
      });
    });

    it('answers 404 to other methods', async () => {
      assert.equal((await s.fetch(`${F}/os/core`, { method: 'POST', headers: ADMIN })).status, 404);
    });

    it('takes many uploads to one group at once, and lists them all', async () => {
      const fixtures = await Promise.all(
        Array.from({ length: 12 }, (_, i) => pkg({ name: `par${i}`, version: '1-1', arch: i % 3 === 0 ? 'any' : 'x86_64' })),
      );
      const results = await Promise.all(
        fixtures.map(async (f) => (await s.fetch(`${F}/par`, { method: 'PUT', body: await bytesOf(f), headers: ADMIN })).status),
      );
      assert.deepEqual(results, fixtures.map(() => 201));
      const list = (await run('bsdtar', ['-tf', '-'], { input: await body(await s.fetch(`${F}/par/x86_64/par.db`)) })).stdout.toString();
      for (const f of fixtures) assert.ok(list.includes(`${f.dir}/desc`), f.dir);
      assert.deepEqual(await body(await s.fetch(`${F}/par/x86_64/r.files`)), await rebuilt(s, 'arch', 'par', 'x86_64', 'files'));
    });
  });

  describe(`Vieter routes /api/packages/:owner/vieter (${engine})`, function () {
    this.timeout(120_000);
    let s: TestStowage;
    let hello: PacmanFixture;
    const V = '/api/packages/alice/vieter';
    const publish = async (repo: string, f: PacmanFixture | Buffer<ArrayBuffer>, headers: Record<string, string> = ADMIN) =>
      s.fetch(`${V}/${repo}/publish`, { method: 'POST', body: Buffer.isBuffer(f) ? f : await bytesOf(f), headers });

    before(async () => {
      s = await startStowage({ engine, env: { STOWAGE_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
      hello = await pkg({ name: 'hello', version: '1:2.1.0-3', mtree: false });
    });
    after(() => s?.stop());

    it('GET /health answers Vieter JSON', async () => {
      const res = await s.fetch(`${V}/health`);
      assert.deepEqual([res.status, await res.text()], [200, '{"message":"Healthy.","data":""}']);
    });

    it('POST /{repo}/publish answers 200 JSON with the archs it reached', async () => {
      const res = await publish('myrepo', hello, { 'X-API-KEY': 'stowage-test-admin-key-0123456789' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(
        await res.text(),
        '{"message":"","data":{"name":"hello","version":"1:2.1.0-3","archs":["x86_64"]}}',
      );
    });

    it('fans an `any` package out to every arch-repo and back-fills new ones (V7)', async () => {
      const arm = await pkg({ name: 'armonly', version: '1-1', arch: 'aarch64' });
      const data = await pkg({ name: 'data', version: '1-1', arch: 'any' });
      assert.equal((await publish('fan', await pkg({ name: 'x', version: '1-1' }))).status, 200);
      assert.deepEqual(((await (await publish('fan', data)).json()) as { data: { archs: string[] } }).data.archs, ['x86_64']);
      assert.equal((await publish('fan', arm)).status, 200);
      const list = (await run('bsdtar', ['-tf', '-'], { input: await body(await s.fetch(`${V}/fan/aarch64/fan.db`)) })).stdout.toString();
      assert.match(list, /^data-1-1\/desc$/m);
      assert.match(list, /^armonly-1-1\/desc$/m);
      const served = await s.fetch(`${V}/fan/aarch64/${data.fileName}`);
      assert.deepEqual(await body(served), await bytesOf(data));
      assert.equal(served.headers.get('cache-control'), 'no-cache');
    });

    it('answers 400 JSON to the reserved name, a bad repo name and a bad package', async () => {
      for (const [repo, message] of [
        ['API', "'api' is a reserved keyword & cannot be used as a repository name."],
        ['-bad', 'invalid repository name'],
      ]) {
        const res = await publish(repo!, hello);
        assert.deepEqual([res.status, await res.json()], [400, { message, data: '' }]);
      }
      const before = await s.snapshot();
      const res = await publish('myrepo', Buffer.from('garbage that is not a package'));
      assert.deepEqual([res.status, await res.json()], [400, { message: 'not supported compression', data: '' }]);
      assert.deepEqual(await s.snapshot(), before);
    });

    it('answers 411 without Content-Length, 413 over the limit, and changes nothing', async () => {
      const before = await s.snapshot();
      const chunked = await chunkedRequest(`${s.url}${V}/myrepo/publish`, 'POST', await bytesOf(hello), ADMIN);
      assert.equal(chunked.status, 411);
      const big = await publish('myrepo', Buffer.alloc(MAX_UPLOAD + 1));
      assert.equal(big.status, 413);
      assert.deepEqual(await s.snapshot(), before);
    });

    it('stores nothing when the client goes away before the body ends', async () => {
      assert.equal((await publish('myrepo', hello)).status, 200); // the owner exists from here on
      const before = await s.snapshot();
      const full = await bytesOf(hello);
      await new Promise<void>((resolve) => {
        const req = request(`${s.url}${V}/myrepo/publish`, {
          method: 'POST',
          headers: { ...ADMIN, 'Content-Length': String(full.length) },
        });
        req.on('error', () => resolve());
        req.on('response', (res) => {
          res.resume();
          resolve();
        });
        req.write(full.subarray(0, Math.floor(full.length / 2)), () => setImmediate(() => req.destroy()));
      });
      // The server notices the abort on its own schedule: poll for its request log line.
      const done = () => s.logs.some((l) => l.includes('"method":"POST"') && l.includes('"status":400'));
      const deadline = Date.now() + 10_000;
      while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(done(), 'the aborted upload was answered 400');
      assert.equal(s.logs.some((l) => l.includes('"level":"error"')), false, 'an abort is not a server error');
      assert.deepEqual(await s.snapshot(), before);
    });

    it('answers every auth failure with 401 "401 Unauthorized", before the body', async () => {
      for (const headers of [{}, BAD_KEY, { 'X-Api-Key': 'wrong-key-wrong-key' }] as Record<string, string>[]) {
        const res = await publish('myrepo', hello, headers);
        assert.deepEqual([res.status, await res.text()], [401, '401 Unauthorized']);
      }
    });

    it('serves databases under their four names, and 404 for signatures and other names', async () => {
      const db = await body(await s.fetch(`${V}/myrepo/x86_64/myrepo.db`));
      assert.deepEqual(await body(await s.fetch(`${V}/myrepo/x86_64/myrepo.db.tar.gz`)), db);
      assert.equal((await s.fetch(`${V}/myrepo/x86_64/myrepo.files.tar.gz`)).status, 200);
      for (const path of [
        `${V}/myrepo/x86_64/myrepo.db.sig`,
        `${V}/myrepo/x86_64/other.db`,
        `${V}/myrepo/aarch64/myrepo.db`,
        `${V}/myrepo/x86_64/${hello.fileName}.sig`,
        `${V}/myrepo/bad-arch/myrepo.db`,
      ]) {
        const res = await s.fetch(path);
        assert.deepEqual([res.status, await res.text()], [404, ''], path);
      }
    });

    it('answers a desc probe by dir, with or without the epoch', async () => {
      for (const dir of ['hello-1:2.1.0-3', 'hello-2.1.0-3']) {
        const res = await s.fetch(`${V}/myrepo/x86_64/${dir}`, { method: 'HEAD' });
        assert.equal(res.status, 200, dir);
      }
      const desc = await (await s.fetch(`${V}/myrepo/x86_64/hello-2.1.0-3`)).text();
      assert.match(desc, /^%FILENAME%\nhello-1:2\.1\.0-3-x86_64\.pkg\.tar\.zst\n\n%NAME%\nhello\n/);
      assert.doesNotMatch(desc, /%PGPSIG%/);
      assert.equal((await s.fetch(`${V}/myrepo/x86_64/hello-9-9`)).status, 404);
    });

    it('DELETE /{repo}/{arch}/{name} removes one entry and keeps the arch-repo', async () => {
      const res = await s.fetch(`${V}/myrepo/x86_64/hello`, { method: 'DELETE', headers: ADMIN });
      assert.deepEqual([res.status, await res.text()], [200, '']);
      assert.deepEqual(await body(await s.fetch(`${V}/myrepo/x86_64/myrepo.db`)), TRAILER);
      assert.equal((await s.fetch(`${V}/myrepo/x86_64/hello`, { method: 'DELETE', headers: ADMIN })).status, 404);
    });

    it('DELETE /{repo}/{arch} removes the arch-repo; DELETE /{repo} the repo', async () => {
      assert.equal((await s.fetch(`${V}/fan/aarch64`, { method: 'DELETE', headers: ADMIN })).status, 200);
      assert.equal((await s.fetch(`${V}/fan/aarch64/fan.db`)).status, 404);
      assert.equal((await s.fetch(`${V}/fan/x86_64/fan.db`)).status, 200);
      assert.equal((await s.fetch(`${V}/fan/aarch64`, { method: 'DELETE', headers: ADMIN })).status, 404);
      assert.equal((await s.fetch(`${V}/fan`, { method: 'DELETE', headers: ADMIN })).status, 200);
      assert.equal((await s.fetch(`${V}/fan/x86_64/fan.db`)).status, 404);
      assert.equal((await s.fetch(`${V}/fan`, { method: 'DELETE', headers: ADMIN })).status, 404);
      assert.equal((await s.fetch(`${V}/fan`, { method: 'DELETE' })).status, 401);
    });

    it('answers 404 "404 Not Found" to other routes', async () => {
      for (const [method, path] of [
        ['GET', `${V}/a/b/c/d`],
        ['PUT', `${V}/myrepo/publish`],
        ['POST', `${V}/myrepo`],
      ] as const) {
        const res = await s.fetch(path, { method, headers: ADMIN });
        assert.deepEqual([res.status, await res.text()], [404, '404 Not Found'], `${method} ${path}`);
      }
    });

    it('takes concurrent publishes of the same repo and keeps the last of each name', async () => {
      const fixtures = await Promise.all(Array.from({ length: 10 }, (_, i) => pkg({ name: `c${i}`, version: '1-1', arch: i % 2 ? 'any' : 'x86_64' })));
      const statuses = await Promise.all(fixtures.map(async (f) => (await publish('conc', f)).status));
      assert.deepEqual(statuses, fixtures.map(() => 200));
      const list = (await run('bsdtar', ['-tf', '-'], { input: await body(await s.fetch(`${V}/conc/x86_64/conc.db`)) })).stdout.toString();
      for (const f of fixtures) assert.ok(list.includes(`${f.dir}/desc`), f.dir);
    });
  });
}

describe('two Stowage processes on one MariaDB database', function () {
  this.timeout(180_000);
  it('take parallel uploads to one group and both serve every package', async () => {
    const first = await startStowage({ engine: 'mysql' });
    const second = await spawnStowage(first.env);
    try {
      const fixtures = await Promise.all(
        Array.from({ length: 16 }, (_, i) => pkg({ name: `multi${i}`, version: '1-1', arch: i % 4 === 0 ? 'any' : 'x86_64' })),
      );
      const statuses = await Promise.all(
        fixtures.map(async (f, i) => {
          const url = `${i % 2 ? second.url : first.url}/api/packages/alice/arch/shared`;
          return (await fetch(url, { method: 'PUT', body: await bytesOf(f), headers: ADMIN })).status;
        }),
      );
      assert.deepEqual(statuses, fixtures.map(() => 201));
      for (const url of [first.url, second.url]) {
        const db = Buffer.from(await (await fetch(`${url}/api/packages/alice/arch/shared/x86_64/shared.db`)).arrayBuffer());
        const list = (await run('bsdtar', ['-tf', '-'], { input: db })).stdout.toString();
        for (const f of fixtures) assert.ok(list.includes(`${f.dir}/desc`), `${url} ${f.dir}`);
      }
      const deletes = await Promise.all(
        fixtures.slice(0, 8).map(async (f, i) => {
          const arch = f.fileName.endsWith('-any.pkg.tar.zst') ? 'any' : 'x86_64';
          const url = `${i % 2 ? second.url : first.url}/api/packages/alice/arch/shared/${f.dir.replace(/-1-1$/, '')}/1-1/${arch}`;
          return (await fetch(url, { method: 'DELETE', headers: ADMIN })).status;
        }),
      );
      assert.deepEqual(deletes, fixtures.slice(0, 8).map(() => 204));
      const db = Buffer.from(await (await fetch(`${second.url}/api/packages/alice/arch/shared/x86_64/shared.db`)).arrayBuffer());
      const list = (await run('bsdtar', ['-tf', '-'], { input: db })).stdout.toString();
      fixtures.forEach((f, i) => assert.equal(list.includes(`${f.dir}/desc`), i >= 8, f.dir));
      assert.deepEqual(db, await rebuilt(first, 'arch', 'shared', 'x86_64', 'db'));
      assert.deepEqual(await first.instance.blobs.listStaging(), []);
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
