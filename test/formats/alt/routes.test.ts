import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { compressBytes } from '../../../src/codecs/compress.js';
import { APT_TAG, formatPkglistEntry, pkglistEntryOf } from '../../../src/formats/alt/pkglist.js';
import { TAG, readRpm } from '../../../src/formats/alt/rpm.js';
import { parseRelease, simulateAptRpm, splitPkglist, unxz } from '../../helpers/alt-client.js';
import { startFakeForge, type FakeForge } from '../../helpers/fake-forge.js';
import { spawnStowage } from '../../helpers/processes.js';
import { FIXTURES, buildRpm, buildRpmSet, rpmQuery, type RpmFixture } from '../../helpers/rpm-fixtures.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { ENGINES } from '../../setup.js';
import { chunkedPut } from '../../helpers/http.js';

const MAX_UPLOAD = 300_000;
const CHALLENGE = 'Basic realm="Gitea Package API"';
const U = '/api/packages/user2/alt';
const NOT_FOUND = 'package file does not exist';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const blake2b = (b: Buffer) => createHash('blake2b512').update(b).digest('hex');

/** `GB` of alt.md §12.1: where reads and deletes of a group start. */
const readBase = (group: string) => (group === '' ? `${U}/alt` : `${U}/${group}`);
const uploadPath = (group: string) => (group === '' ? `${U}/upload` : `${U}/${group}/upload`);
const packagePath = (group: string, f: RpmFixture, arch = f.options.arch ?? 'x86_64') =>
  `${readBase(group)}.repo/${arch}/RPMS.classic/${f.fileName}`;
const indexPath = (group: string, arch: string, name: string) => `${readBase(group)}.repo/${arch}/base/${name}`;

async function body(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

function upload(s: { fetch: TestStowage['fetch'] }, group: string, f: RpmFixture): Promise<Response> {
  return s.fetch(uploadPath(group), { method: 'PUT', body: f.bytes, headers: ADMIN });
}

async function expectUpload(s: TestStowage, group: string, f: RpmFixture): Promise<void> {
  const res = await upload(s, group, f);
  assert.deepEqual([res.status, await res.text()], [201, ''], `upload ${f.fileName} to "${group}"`);
}

async function get(s: TestStowage, path: string): Promise<{ status: number; bytes: Buffer; res: Response }> {
  const res = await s.fetch(path);
  return { status: res.status, bytes: await body(res), res };
}

/** The served pkglist's headers, or [] when the index is not published. */
async function listed(s: TestStowage, group: string, arch: string): Promise<string[]> {
  const { status, bytes } = await get(s, indexPath(group, arch, 'pkglist.classic'));
  if (status === 404) return [];
  assert.equal(status, 200);
  return splitPkglist(bytes).map((h) => h.string(APT_TAG.FILENAME)!);
}

/** Every served file of an index with its Last-Modified: what must not change. */
async function indexState(s: TestStowage, group: string, arch: string) {
  const out: Record<string, [number, string, string | null]> = {};
  for (const name of ['pkglist.classic', 'pkglist.classic.xz', 'release.classic', 'release']) {
    const { status, bytes, res } = await get(s, indexPath(group, arch, name));
    out[name] = [status, sha256(bytes), res.headers.get('last-modified')];
  }
  return out;
}

/** alt.md §12.2: the client simulation of §13 passes after each scenario. */
async function clientAgrees(s: TestStowage, group: string, arch: string, fixtures: readonly RpmFixture[]): Promise<void> {
  const headers = await simulateAptRpm(s.fetch, `${readBase(group)}.repo`, arch);
  assert.deepEqual(
    headers.map((h) => h.fileName).sort(),
    fixtures.map((f) => f.fileName).sort(),
  );
}

/** The package rows of a group, as the parity suite checks them. */
async function rows(s: TestStowage, group: string) {
  return (await s
    .db('package_files')
    .join('repositories', 'repositories.id', 'package_files.repository_id')
    .where({ 'repositories.type': 'alt', 'repositories.name': group })
    .orderBy('package_files.id')
    .select('package_files.name', 'package_files.version', 'package_files.file_name', 'package_files.size')) as {
    name: string;
    version: string;
    file_name: string;
    size: number | string;
  }[];
}


const flip = (bytes: Buffer<ArrayBuffer>, at: number) => {
  const out = Buffer.from(bytes);
  out[at] = out[at]! ^ 0x01;
  return out;
};

/** Where the main header starts: after the 96-byte lead, the signature header and its padding. */
function mainHeaderStart(bytes: Buffer): number {
  const n = bytes.readUInt32BE(96 + 8);
  const hsize = bytes.readUInt32BE(96 + 12);
  return 96 + 16 + 16 * n + hsize + ((8 - (hsize % 8)) % 8);
}

/** Forgejo's integration-test package, rebuilt with rpmbuild (alt.md §12.1). */
const PARITY = {
  name: 'test.package-name',
  version: '1.0.2',
  release: '1',
  summary: 'RPM package summary',
  description: 'RPM package description',
  license: 'MIT',
  url: 'https://gitea.io',
  group: 'System',
  packager: 'KN4CK3R',
  files: { '/usr/bin/hello': '#!/bin/sh\necho hello\n' },
  changelog: [{ date: 'Wed Mar 08 2023', author: 'KN4CK3R <dummy@gitea.io>', text: '- Changelog message.' }],
} as const;

for (const engine of ENGINES) {
  describe(`Alt routes /api/packages/:owner/alt (${engine})`, function () {
    this.timeout(120_000);
    let s: TestStowage;
    let parity: RpmFixture;
    let full: RpmFixture;
    let noarch: RpmFixture;
    let lettered: RpmFixture;
    let i586: RpmFixture;

    before(async () => {
      s = await startStowage({ engine, env: { APP_NAME: 'Forgejo', STOWAGE_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
      [parity, full, noarch, lettered, i586] = await Promise.all([
        buildRpm(PARITY),
        buildRpm(FIXTURES.full),
        buildRpm(FIXTURES.noarch),
        buildRpm(FIXTURES.lettered),
        buildRpm({ name: 'oldarch', arch: 'i586' }),
      ]);
      // Standalone owners exist once written to: the parity suite starts with a read.
      await expectUpload(s, 'seed', noarch);
    });
    after(() => s?.stop());

    for (const group of ['', 'el9', 'el9/stable']) {
      describe(`Forgejo's parity suite in group "${group}" (alt.md §12.1)`, () => {
        const GB = readBase(group);

        it('serves the .repo config text with the group parts, literally', async () => {
          const res = await s.fetch(`${GB}.repo`);
          const parts = group === '' ? ['alt'] : group.split('/');
          const root = s.instance.config.publicUrl.href;
          assert.equal(res.status, 200);
          assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
          assert.equal(
            await res.text(),
            [
              `[gitea-user2${parts.map((p) => `-${p}`).join('')}]`,
              `name=user2 - Forgejo${parts.map((p) => ` - ${p}`).join('')}`,
              `baseurl=${root}api/packages/user2/alt${parts.map((p) => `/${p}`).join('')}`,
              'enabled=1',
            ].join('\n'),
          );
        });

        it('answers 401 to an anonymous upload, 400 to multipart without a boundary, then 201 and 409', async () => {
          const anon = await s.fetch(uploadPath(group), { method: 'PUT', body: parity.bytes });
          assert.deepEqual(
            [anon.status, await anon.text(), anon.headers.get('www-authenticate')],
            [401, 'reqPackageAccess\n', CHALLENGE],
          );
          const noBoundary = await s.fetch(uploadPath(group), {
            method: 'PUT',
            body: parity.bytes,
            headers: { ...ADMIN, 'Content-Type': 'multipart/form-data' },
          });
          assert.equal(noBoundary.status, 400);
          await expectUpload(s, group, parity);
          assert.deepEqual(await rows(s, group), [
            { name: PARITY.name, version: '1.0.2-1', file_name: 'test.package-name-1.0.2-1.x86_64.rpm', size: parity.bytes.length },
          ]);
          const again = await upload(s, group, parity);
          assert.deepEqual([again.status, await again.text()], [409, 'package file already exists']);
        });

        it('serves the uploaded bytes from RPMS.classic', async () => {
          const { status, bytes } = await get(s, packagePath(group, parity));
          assert.equal(status, 200);
          assert.ok(bytes.equals(parity.bytes));
        });

        it('serves the four index files, matching each other and the upload', async () => {
          const U_ = `${GB}.repo/x86_64/base`;
          for (const method of ['HEAD', 'GET']) {
            assert.equal((await s.fetch(`${U_}/dummy.xml`, { method })).status, 404);
          }
          assert.equal((await s.fetch(`${U_}/release.classic`, { method: 'HEAD' })).status, 200);
          const classic = parseRelease((await get(s, `${U_}/release.classic`)).bytes.toString());
          assert.deepEqual(
            [classic.fields.Component, classic.fields.Origin, classic.fields.Label, classic.fields.Architecture, classic.fields.NotAutomatic],
            ['classic', 'Forgejo', 'Forgejo', 'x86_64', 'false'],
          );
          assert.ok(classic.fields.Archive);

          assert.equal((await s.fetch(`${U_}/release`, { method: 'HEAD' })).status, 200);
          const release = parseRelease((await get(s, `${U_}/release`)).bytes.toString());
          assert.deepEqual(
            [release.fields.Origin, release.fields.Label, release.fields.Suite, release.fields.Architectures],
            ['Forgejo', 'Forgejo', 'Unknown', 'x86_64'],
          );
          assert.equal(release.md5.length, 3);
          assert.equal(release.blake2b.length, 3);
          const pkglist = (await get(s, `${U_}/pkglist.classic`)).bytes;
          assert.deepEqual(release.md5[0], { sum: md5(pkglist), size: pkglist.length, name: 'base/pkglist.classic' });
          assert.deepEqual(release.blake2b[0], { sum: blake2b(pkglist), size: pkglist.length, name: 'base/pkglist.classic' });

          const headers = splitPkglist(pkglist);
          assert.equal(headers.length, 1);
          const h = headers[0]!;
          const [name, version, rel, arch, summary] = (
            await rpmQuery(parity.path, '%{NAME}\x1f%{VERSION}\x1f%{RELEASE}\x1f%{ARCH}\x1f%{SUMMARY}')
          ).split('\x1f');
          assert.deepEqual(
            [h.string(TAG.NAME), h.string(TAG.VERSION), h.string(TAG.RELEASE), h.string(TAG.ARCH), h.string(TAG.SUMMARY)],
            [name, version, rel, arch, summary],
          );
          assert.deepEqual(
            [h.string(APT_TAG.FILENAME), h.integer(APT_TAG.FILESIZE), h.string(APT_TAG.MD5), h.string(APT_TAG.BLAKE2B), h.string(APT_TAG.DIRECTORY)],
            [parity.fileName, parity.bytes.length, md5(parity.bytes), blake2b(parity.bytes), 'RPMS.classic'],
          );
          assert.equal(h.has(TAG.DIR_INDEXES), false);

          const xz = (await get(s, `${U_}/pkglist.classic.xz`)).bytes;
          assert.ok(xz.length < pkglist.length);
          assert.ok((await unxz(xz)).equals(pkglist));
        });

        it('answers 401 to an anonymous delete, 204, then 404; the group is empty', async () => {
          const path = packagePath(group, parity);
          const anon = await s.fetch(path, { method: 'DELETE' });
          assert.deepEqual([anon.status, anon.headers.get('www-authenticate')], [401, CHALLENGE]);
          const res = await s.fetch(path, { method: 'DELETE', headers: ADMIN });
          assert.deepEqual([res.status, await res.text()], [204, '']);
          assert.deepEqual(await rows(s, group), []);
          for (const name of ['pkglist.classic', 'pkglist.classic.xz', 'release.classic', 'release']) {
            assert.equal((await s.fetch(`${GB}.repo/x86_64/base/${name}`)).status, 404, name);
          }
          const again = await s.fetch(path, { method: 'DELETE', headers: ADMIN });
          assert.deepEqual([again.status, await again.text()], [404, NOT_FOUND]);
        });
      });
    }

    describe('bad uploads (alt.md §12.2 rejections)', () => {
      before(async () => {
        await expectUpload(s, 'rej', lettered); // an index that must stay byte-identical
      });

      const badInputs: [string, () => Promise<BodyInit>, string, number, Record<string, string>?, string?][] = [
        ['random bytes', async () => Buffer.from('this is not a package at all, really'), 'file is not an RPM', 400],
        ['an empty body', async () => Buffer.alloc(0), 'file is not an RPM', 400],
        ['a cut inside the header', async () => full.bytes.subarray(0, mainHeaderStart(full.bytes) + 100), 'file is not an RPM', 400],
        ['a cut inside the payload', async () => full.bytes.subarray(0, full.bytes.length - 50), 'RPM size mismatch', 400],
        [
          'a flipped byte in the main header',
          async () => flip(full.bytes, full.bytes.indexOf('A friendly greeter', mainHeaderStart(full.bytes)) + 3),
          'RPM header digest mismatch',
          400,
        ],
        ['rpmbuild -bs output', async () => (await buildRpm({ name: 'srconly', source: true })).bytes, 'source packages are not supported', 400],
        ['a url-encoded form', async () => 'a=b', '', 400, { 'Content-Type': 'application/x-www-form-urlencoded' }],
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
        ['the group "bad group"', async () => lettered.bytes, 'invalid group', 400, {}, `${U}/bad%20group/upload`],
        ['the group ".hidden/x"', async () => lettered.bytes, 'invalid group', 400, {}, `${U}/.hidden/x/upload`],
        ['a body over the limit', async () => Buffer.alloc(MAX_UPLOAD + 1), 'request body too large', 413],
      ];
      for (const [what, make, reason, status, headers, path] of badInputs) {
        it(`answers ${status} in one line to ${what}, and changes nothing`, async () => {
          const before = await s.snapshot();
          const index = await indexState(s, 'rej', 'x86_64');
          const res = await s.fetch(path ?? uploadPath('rej'), { method: 'PUT', body: await make(), headers: { ...ADMIN, ...headers } });
          const text = await res.text();
          assert.equal(res.status, status, text);
          assert.match(text, /^[^\n]+$/);
          if (reason) assert.equal(text, reason);
          assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
          assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
          assert.deepEqual(await s.snapshot(), before);
          assert.deepEqual(await indexState(s, 'rej', 'x86_64'), index);
        });
      }

      it('answers 413 to a chunked body once it passes the limit, and changes nothing', async () => {
        const before = await s.snapshot();
        const res = await chunkedPut(`${s.url}${uploadPath('rej')}`, Buffer.alloc(MAX_UPLOAD * 2), ADMIN);
        assert.equal(res.status, 413);
        assert.deepEqual(await s.snapshot(), before);
      });

      it('takes the first file part of a multipart form, whatever its field name', async () => {
        const form = new FormData();
        form.append('note', 'ignored');
        form.append('whatever', new Blob([full.bytes]), 'other-name.bin');
        const res = await s.fetch(uploadPath('multi'), { method: 'PUT', body: form, headers: ADMIN });
        assert.equal(res.status, 201);
        assert.ok((await get(s, packagePath('multi', full))).bytes.equals(full.bytes));
      });
    });

    describe('epochs and versions that start with a letter (D7, D8)', () => {
      it('names an epoch package {n}-2-{v}-{r}.{a}.rpm, lists EPOCH, downloads and deletes it', async () => {
        await expectUpload(s, 'epoch', full);
        assert.equal(full.fileName, 'hello-2-1.0-alt1.x86_64.rpm');
        const [h] = splitPkglist((await get(s, indexPath('epoch', 'x86_64', 'pkglist.classic'))).bytes);
        assert.equal(h!.integer(TAG.EPOCH), 2);
        assert.equal(h!.string(APT_TAG.FILENAME), full.fileName);
        assert.ok((await get(s, packagePath('epoch', full))).bytes.equals(full.bytes));
        await clientAgrees(s, 'epoch', 'x86_64', [full]);
        assert.equal((await s.fetch(packagePath('epoch', full), { method: 'DELETE', headers: ADMIN })).status, 204);
        assert.equal((await s.fetch(packagePath('epoch', full))).status, 404);
      });

      it('downloads and deletes a version starting with a letter, by any case of its name', async () => {
        await expectUpload(s, 'epoch', lettered);
        assert.equal(lettered.fileName, 'tool-v2.5-1.x86_64.rpm');
        const upper = `${readBase('epoch')}.repo/x86_64/RPMS.classic/TOOL-V2.5-1.X86_64.rpm`;
        const res = await s.fetch(upper);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-disposition')!, /filename="tool-v2\.5-1\.x86_64\.rpm"/);
        assert.equal((await s.fetch(packagePath('epoch', lettered), { method: 'DELETE', headers: ADMIN })).status, 204);
      });
    });

    describe('arches (alt.md §3.5, §8.1)', () => {
      it('lists noarch only under noarch, and keeps x86_64 and i586 independent', async () => {
        for (const f of [noarch, lettered, i586]) await expectUpload(s, 'arches', f);
        assert.deepEqual(await listed(s, 'arches', 'noarch'), [noarch.fileName]);
        assert.deepEqual(await listed(s, 'arches', 'x86_64'), [lettered.fileName]);
        assert.deepEqual(await listed(s, 'arches', 'i586'), [i586.fileName]);
        const x86 = await indexState(s, 'arches', 'x86_64');
        assert.equal((await s.fetch(packagePath('arches', i586), { method: 'DELETE', headers: ADMIN })).status, 204);
        for (const name of ['pkglist.classic', 'pkglist.classic.xz', 'release.classic', 'release']) {
          assert.equal((await s.fetch(indexPath('arches', 'i586', name))).status, 404, name);
        }
        assert.deepEqual(await indexState(s, 'arches', 'x86_64'), x86);
        await clientAgrees(s, 'arches', 'x86_64', [lettered]);
        await clientAgrees(s, 'arches', 'noarch', [noarch]);
      });
    });

    describe('groups (D3, D4, D14, D15)', () => {
      it('keeps a p10 package out of the root index', async () => {
        await expectUpload(s, 'p10', lettered);
        assert.deepEqual(await listed(s, '', 'x86_64'), []);
        assert.equal((await s.fetch(packagePath('', lettered))).status, 404);
      });

      it('puts alt/alt/upload into the root, served through alt/alt.repo', async () => {
        await expectUpload(s, 'alt', i586);
        assert.ok((await get(s, packagePath('', i586))).bytes.equals(i586.bytes));
        assert.deepEqual(await listed(s, '', 'i586'), [i586.fileName]);
        const again = await upload(s, '', i586);
        assert.equal(again.status, 409);
        assert.equal((await s.fetch(`${U}/.repo/i586/base/release`)).status, 404);
      });

      it('leaves p11 unchanged when p10 empties, and one copy when the other goes', async () => {
        await expectUpload(s, 'p11', lettered);
        const p11 = await indexState(s, 'p11', 'x86_64');
        assert.equal((await s.fetch(packagePath('p10', lettered), { method: 'DELETE', headers: ADMIN })).status, 204);
        assert.equal((await s.fetch(indexPath('p10', 'x86_64', 'release'))).status, 404);
        assert.deepEqual(await indexState(s, 'p11', 'x86_64'), p11);
        assert.ok((await get(s, packagePath('p11', lettered))).bytes.equals(lettered.bytes));
        await clientAgrees(s, 'p11', 'x86_64', [lettered]);
        await clientAgrees(s, '', 'i586', [i586]);
      });
    });

    describe('methods and unmatched paths (D13, D16)', () => {
      const cases: [string, string, number, string | null][] = [
        ['PUT', indexPath('seed', 'noarch', 'release'), 405, 'GET, HEAD'],
        ['DELETE', `${readBase('seed')}.repo`, 405, 'GET, HEAD'],
        ['GET', uploadPath('seed'), 405, 'PUT'],
        ['POST', `${readBase('seed')}.repo/noarch/RPMS.classic/x.rpm`, 405, 'GET, HEAD, DELETE'],
        ['GET', U, 404, null],
        ['GET', `${U}/seed`, 404, null],
        ['PUT', `${U}/seed//upload`, 404, null],
        ['GET', `${U}/seed.repo/noarch/base`, 404, null],
      ];
      for (const [method, path, status, allow] of cases) {
        it(`answers ${method} ${path.slice(U.length) || '/'} with ${status}`, async () => {
          const res = await s.fetch(path, { method, headers: ADMIN });
          assert.deepEqual([res.status, res.headers.get('allow'), await res.text()], [status, allow, '']);
        });
      }
    });

    it('leaves paths outside alt/ to others (D16)', async () => {
      assert.equal((await s.fetch('/api/packages/user2/alternative/upload', { method: 'PUT', headers: ADMIN })).status, 404);
      assert.deepEqual(await rows(s, 'ernative'), []);
    });

    describe('serving (alt.md §2.6)', () => {
      it('sends the headers of §2.6 for packages and index files', async () => {
        for (const [path, name] of [
          [packagePath('seed', noarch), noarch.fileName],
          [indexPath('seed', 'noarch', 'release'), 'release'],
        ] as const) {
          const { res, bytes } = await get(s, path);
          assert.equal(res.status, 200);
          assert.equal(res.headers.get('content-type'), 'application/octet-stream');
          assert.equal(res.headers.get('content-disposition'), `attachment; filename="${name}"; filename*=UTF-8''${name}`);
          assert.equal(res.headers.get('access-control-expose-headers'), 'Content-Disposition');
          assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
          assert.equal(res.headers.get('cache-control'), 'private, max-age=300');
          assert.equal(res.headers.get('etag'), `"${sha256(bytes)}"`);
          assert.equal(res.headers.get('content-length'), String(bytes.length));
          assert.equal(res.headers.get('accept-ranges'), 'bytes');
          assert.ok(res.headers.get('last-modified'));
        }
      });

      it('answers Range with 206, If-None-Match with 304, and HEAD with headers only', async () => {
        const path = packagePath('seed', noarch);
        const part = await s.fetch(path, { headers: { Range: 'bytes=0-9' } });
        assert.equal(part.status, 206);
        assert.ok((await body(part)).equals(noarch.bytes.subarray(0, 10)));
        const etag = `"${sha256(noarch.bytes)}"`;
        const cached = await s.fetch(path, { headers: { 'If-None-Match': etag } });
        assert.deepEqual([cached.status, (await body(cached)).length], [304, 0]);
        const head = await s.fetch(path, { method: 'HEAD' });
        assert.deepEqual([head.status, head.headers.get('content-length'), (await body(head)).length], [200, String(noarch.bytes.length), 0]);
        assert.deepEqual((await s.fetch(`${readBase('seed')}.repo`, { method: 'HEAD' })).status, 200);
      });

      it('moves release Last-Modified strictly forward with every publish (D18)', async () => {
        const set = await buildRpmSet('tick', 3);
        let previous = 0;
        for (const f of set) {
          await expectUpload(s, 'tick', f);
          const res = await s.fetch(indexPath('tick', 'x86_64', 'release'));
          const lastModified = Date.parse(res.headers.get('last-modified')!);
          const text = await res.text();
          assert.ok(lastModified > previous, `${lastModified} > ${previous}`);
          assert.equal(parseRelease(text).fields.Codename, String(lastModified / 1000));
          if (previous) {
            // A client that fetched the previous release must get this one, not a 304.
            const since = { 'If-Modified-Since': new Date(previous).toUTCString() };
            assert.equal((await s.fetch(indexPath('tick', 'x86_64', 'release'), { headers: since })).status, 200);
          }
          const now = { 'If-Modified-Since': res.headers.get('last-modified')! };
          assert.equal((await s.fetch(indexPath('tick', 'x86_64', 'release'), { headers: now })).status, 304);
          previous = lastModified;
        }
      });
    });

    describe('index updates (alt.md §8)', () => {
      it('takes many concurrent uploads into one group: all listed, release matching', async () => {
        const set = await buildRpmSet('busy', 10);
        const statuses = await Promise.all(set.map(async (f) => (await upload(s, 'busy', f)).status));
        assert.deepEqual(statuses, set.map(() => 201));
        assert.deepEqual((await listed(s, 'busy', 'x86_64')).sort(), set.map((f) => f.fileName).sort());
        await expectConsistentIndex(s, 'busy', 'x86_64');
        await clientAgrees(s, 'busy', 'x86_64', set);
      });

      it('builds the index from stored entries, never re-reading package files', async () => {
        const set = await buildRpmSet('stored', 3);
        await expectUpload(s, 'stored', set[0]!);
        await expectUpload(s, 'stored', set[1]!);
        // Take the stored packages away: an update that opened them would fail.
        const hidden = set.slice(0, 2).map((f) => blobPath(s, sha256(f.bytes)));
        for (const p of hidden) await rename(p, `${p}.away`);
        try {
          await expectUpload(s, 'stored', set[2]!);
          assert.deepEqual(await listed(s, 'stored', 'x86_64'), set.map((f) => f.fileName));
          await expectConsistentIndex(s, 'stored', 'x86_64');
        } finally {
          for (const p of hidden) await rename(`${p}.away`, p);
        }
      });

      it('keeps the previous index and stores nothing when an index update fails', async () => {
        const [first, second] = await buildRpmSet('fail', 2);
        await expectUpload(s, 'fail', first!);
        const before = await s.snapshot();
        const index = await indexState(s, 'fail', 'x86_64');
        // The .xz of the next index is predictable: block its blob directory with a file.
        const pkglist = (await get(s, indexPath('fail', 'x86_64', 'pkglist.classic'))).bytes;
        const pkg = await readRpm(Readable.from([second!.bytes]));
        const entry = formatPkglistEntry(
          pkglistEntryOf(pkg.header, {
            fileName: second!.fileName,
            size: second!.bytes.length,
            md5: md5(second!.bytes),
            blake2b: blake2b(second!.bytes),
          }),
        );
        const xz = await compressBytes('xz', Buffer.concat([pkglist, entry]));
        const blocker = join(blobPath(s, sha256(xz)), '..');
        await mkdir(join(blocker, '..'), { recursive: true });
        await writeFile(blocker, 'in the way');
        try {
          const res = await upload(s, 'fail', second!);
          const text = await res.text();
          assert.equal(res.status, 500);
          assert.match(text, /^internal server error/);
          assert.ok(!text.includes(s.dataDir), 'no paths in a 500');
          assert.deepEqual(await s.snapshot(), before);
          assert.deepEqual(await indexState(s, 'fail', 'x86_64'), index);
          assert.equal((await s.fetch(packagePath('fail', second!))).status, 404);
        } finally {
          await rm(blocker, { force: true });
        }
        await expectUpload(s, 'fail', second!);
        assert.deepEqual(await listed(s, 'fail', 'x86_64'), [first!.fileName, second!.fileName]);
        await clientAgrees(s, 'fail', 'x86_64', [first!, second!]);
      });
    });

    if (engine === 'mysql') {
      it('takes 20 overlapping uploads from two processes on one MariaDB, every release consistent', async function () {
        this.timeout(120_000);
        const set = await buildRpmSet('race', 20);
        const other = await spawnStowage(s.env);
        const observed: string[] = [];
        let uploading = true;
        const watch = (async () => {
          while (uploading) {
            const res = await fetch(`${other.url}${indexPath('race', 'x86_64', 'release')}`);
            if (res.status === 200) observed.push(await res.text());
            else await res.arrayBuffer();
          }
        })();
        try {
          const statuses = await Promise.all(
            set.map(async (f, i) => {
              const base = i % 2 ? other.url : s.url;
              const res = await fetch(`${base}${uploadPath('race')}`, { method: 'PUT', body: f.bytes, headers: ADMIN });
              return res.status;
            }),
          );
          uploading = false;
          await watch;
          assert.deepEqual(statuses, set.map(() => 201));
          assert.deepEqual((await listed(s, 'race', 'x86_64')).sort(), set.map((f) => f.fileName).sort());
          await expectConsistentIndex(s, 'race', 'x86_64');
          await clientAgrees(s, 'race', 'x86_64', set);
          assert.ok(observed.length > 0, 'saw releases while uploading');
          for (const text of observed) await expectPublishedTogether(s, text);

          // Read your writes: right after a 201 from one process, the other lists the package.
          const [late] = await buildRpmSet('late', 1);
          await expectUpload(s, 'race', late!);
          const res = await fetch(`${other.url}${indexPath('race', 'x86_64', 'pkglist.classic')}`);
          const names = splitPkglist(Buffer.from(await res.arrayBuffer())).map((h) => h.string(APT_TAG.FILENAME));
          assert.ok(names.includes(late!.fileName));
        } finally {
          uploading = false;
          await watch.catch(() => {});
          await other.stop();
        }
      });
    }
  });
}

function blobPath(s: TestStowage, sha: string): string {
  return join(s.dataDir, 'blobs', sha.slice(0, 2), sha.slice(2, 4), sha);
}

describe('Alt permissions in forge mode (alt.md §12.2, forge double)', function () {
  this.timeout(60_000);
  let forge: FakeForge;
  let s: TestStowage;
  let f: RpmFixture;
  const base = (owner: string) => `/api/packages/${owner}/alt`;
  /** One request of every shape, and two that match none. */
  const everyShape = (owner: string): [string, string][] => [
    ['GET', `${base(owner)}/p10.repo`],
    ['GET', `${base(owner)}/p10.repo/x86_64/base/release`],
    ['HEAD', `${base(owner)}/p10.repo/x86_64/base/pkglist.classic`],
    ['GET', `${base(owner)}/p10.repo/x86_64/RPMS.classic/${f.fileName}`],
    ['DELETE', `${base(owner)}/p10.repo/x86_64/RPMS.classic/${f.fileName}`],
    ['PUT', `${base(owner)}/p10/upload`],
    ['PUT', `${base(owner)}/p10.repo/x86_64/base/release`],
    ['GET', `${base(owner)}/nothing/here`],
    ['GET', base(owner)],
  ];

  before(async () => {
    forge = await startFakeForge();
    s = await startStowage({
      engine: 'sqlite',
      env: { FORGE_URL: `${forge.url}/`, PUBLIC_URL: 'https://git.example.org/', FORGE_SERVICE_TOKEN: forge.token('service') },
    });
    f = await buildRpm(FIXTURES.lettered);
  });
  after(async () => {
    await s?.stop();
    await forge?.close();
  });

  it('lets a write token upload, and refuses a read-only token upload and delete with 401', async () => {
    const write = { Authorization: `token ${forge.token('alice-write')}` };
    const read = { Authorization: `token ${forge.token('alice-read')}` };
    const up = await s.fetch(`${base('alice')}/p10/upload`, { method: 'PUT', body: f.bytes, headers: write });
    assert.equal(up.status, 201);
    for (const [method, path] of [
      ['PUT', `${base('alice')}/p10/upload`],
      ['DELETE', `${base('alice')}/p10.repo/x86_64/RPMS.classic/${f.fileName}`],
    ] as const) {
      const res = await s.fetch(path, { method, body: method === 'PUT' ? f.bytes : undefined, headers: read });
      assert.deepEqual([res.status, await res.text(), res.headers.get('www-authenticate')], [401, 'reqPackageAccess\n', CHALLENGE]);
    }
    assert.equal((await s.fetch(`${base('alice')}/p10.repo/x86_64/RPMS.classic/${f.fileName}`, { headers: read })).status, 200);
  });

  it('answers 401 to an anonymous caller on a private owner on every path, and never a 404', async () => {
    for (const [method, path] of everyShape('pia')) {
      const res = await s.fetch(path, { method });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.headers.get('www-authenticate'), CHALLENGE);
    }
  });

  it('answers 404 "Not found." for an unknown owner on every path', async () => {
    for (const [method, path] of everyShape('nosuch')) {
      const res = await s.fetch(path, { method, headers: { Authorization: `token ${forge.token('alice-write')}` } });
      assert.equal(res.status, 404, `${method} ${path}`);
      if (method !== 'HEAD') assert.equal(await res.text(), 'Not found.\n');
    }
  });

  it('renders the .repo config with the owner as the forge spells it and PUBLIC_URL', async () => {
    const res = await s.fetch(`${base('ALICE')}/el9/stable.repo`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /^\[gitea-alice-el9-stable\]\nname=alice - Forgejo: Beyond coding\. We Forge\. - el9 - stable\n/);
    assert.match(text, /\nbaseurl=https:\/\/git\.example\.org\/api\/packages\/alice\/alt\/el9\/stable\nenabled=1$/);
  });
});

describe('Alt .repo config behind a trusted proxy without PUBLIC_URL (deploy.md §1)', function () {
  this.timeout(60_000);
  let s: TestStowage;
  before(async () => {
    s = await startStowage({ engine: 'sqlite', env: { TRUST_PROXY: 'true', APP_NAME: 'Forgejo' } });
    await expectUpload(s, 'p10', await buildRpm(FIXTURES.noarch)); // the standalone owner exists once written to
  });
  after(() => s?.stop());

  it('takes the base URL from the forwarded scheme and host', async () => {
    const res = await s.fetch(`${U}/p10.repo`, { headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'pkgs.example.net' } });
    assert.match(await res.text(), /\nbaseurl=https:\/\/pkgs\.example\.net\/api\/packages\/user2\/alt\/p10\n/);
  });
});

/** `release` lists the served files' sizes and sums; the .xz is the pkglist compressed. */
async function expectConsistentIndex(s: TestStowage, group: string, arch: string): Promise<void> {
  const release = parseRelease((await get(s, indexPath(group, arch, 'release'))).bytes.toString());
  for (const [i, name] of ['pkglist.classic', 'pkglist.classic.xz', 'release.classic'].entries()) {
    const bytes = (await get(s, indexPath(group, arch, name))).bytes;
    assert.deepEqual(release.md5[i], { sum: md5(bytes), size: bytes.length, name: `base/${name}` });
    assert.deepEqual(release.blake2b[i], { sum: blake2b(bytes), size: bytes.length, name: `base/${name}` });
  }
  const pkglist = (await get(s, indexPath(group, arch, 'pkglist.classic'))).bytes;
  assert.ok((await unxz((await get(s, indexPath(group, arch, 'pkglist.classic.xz'))).bytes)).equals(pkglist));
}

/**
 * A `release` seen while others published: the three files it lists were stored with it (their
 * blobs stay until the sweeper's grace period), and the .xz among them is its pkglist compressed.
 */
async function expectPublishedTogether(s: TestStowage, text: string): Promise<void> {
  const release = parseRelease(text);
  const files: Buffer[] = [];
  for (const [i, line] of release.md5.entries()) {
    const row = (await s.db('blobs').where({ md5: line.sum, size: line.size }).first('sha256', 'blake2b')) as
      | { sha256: string; blake2b: string }
      | undefined;
    assert.ok(row, `a stored blob for ${line.name}`);
    assert.equal(row.blake2b, release.blake2b[i]!.sum);
    const bytes = await readFile(blobPath(s, row.sha256));
    assert.equal(md5(bytes), line.sum);
    files.push(bytes);
  }
  assert.ok((await unxz(files[1]!)).equals(files[0]!), 'the listed .xz is the listed pkglist');
}
