import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import {
  META_CONF,
  catalogueFileOf,
  catalogueMember,
  measureMembers,
  writeCatalogueArchive,
  type CatalogueKind,
} from '../../../src/formats/freebsd/catalogue.js';
import { formatEntry, parseManifest } from '../../../src/formats/freebsd/manifest.js';
import { fixtureManifest } from '../../helpers/freebsd-fixtures.js';
import { expectGolden } from '../../helpers/golden.js';
import { requireTool, run } from '../../helpers/tools.js';

// Injected key material: the archive layout is what is under test, not RSA.
const FAKE_SIGNATURE = Buffer.alloc(512, 0xab);
const FAKE_PEM = '-----BEGIN PUBLIC KEY-----\nTEST\n-----END PUBLIC KEY-----\n';
const MTIME_S = Date.UTC(2026, 7, 21, 10, 0, 0) / 1000;

const entry = (name: string, version: string, abi = 'FreeBSD:14:amd64') =>
  formatEntry(parseManifest(JSON.stringify(fixtureManifest({ manifest: { name, version, abi } }))), {
    sha256: name.length.toString(16).padStart(64, '0'),
    size: 100 + name.length,
  });
const ENTRIES = [entry('aa', '1.0'), entry('hello', '1.0_1', 'FreeBSD:14:*'), entry('libsig++', '2.0,1', '*')];

async function* each(entries: readonly string[]): AsyncGenerator<string> {
  yield* entries;
}
async function collect(parts: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const p of parts) out.push(p);
  return Buffer.concat(out);
}

async function archive(kind: CatalogueKind, entries: readonly string[]): Promise<Buffer> {
  const digests = await measureMembers(each(entries));
  const signed: string[] = [];
  const out = writeCatalogueArchive({
    kind,
    content: () => catalogueMember(kind, each(entries)),
    size: digests[kind].size,
    sha256: digests[kind].sha256,
    sign: (hex) => {
      signed.push(hex);
      return FAKE_SIGNATURE;
    },
    publicKeyPem: FAKE_PEM,
    mtimeS: MTIME_S,
  });
  const bytes = await collect(out);
  assert.deepEqual(signed, [digests[kind].sha256], 'signs the hex digest of its own member');
  return bytes;
}

/** Tar headers and contents, as tar-stream reads them back. */
async function members(gz: Buffer) {
  const out: { name: string; mode: number; uid: number; gid: number; uname: string; gname: string; mtime: string; type: string; content: Buffer }[] = [];
  const tar = extract();
  tar.on('entry', (h, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: unknown) => parts.push(Buffer.from(c as Uint8Array)));
    stream.on('end', () => {
      out.push({
        name: h.name,
        mode: h.mode ?? -1,
        uid: h.uid ?? -1,
        gid: h.gid ?? -1,
        uname: h.uname ?? '',
        gname: h.gname ?? '',
        mtime: h.mtime?.toISOString() ?? '',
        type: h.type ?? '',
        content: Buffer.concat(parts),
      });
      next();
    });
  });
  await pipeline(Readable.from([gunzipSync(gz)]), tar);
  return out;
}

describe('freebsd catalogue writers (freebsd.md §5)', function () {
  this.timeout(30_000);

  it('meta.conf is the §5.2 text byte for byte', async () => {
    await expectGolden(META_CONF, 'formats/freebsd/golden/meta.conf');
  });

  it('maps the names under a view as §5.7 says', () => {
    for (const name of ['meta.conf', 'meta']) assert.deepEqual(catalogueFileOf(name), { kind: 'meta' });
    for (const ext of ['pkg', 'tzst', 'txz', 'tbz', 'tgz', 'tar']) {
      assert.deepEqual(catalogueFileOf(`data.${ext}`), { kind: 'data' });
      assert.deepEqual(catalogueFileOf(`packagesite.${ext}`), { kind: 'packagesite' });
    }
    for (const name of ['files.pkg', 'files.txz', 'meta.txz', 'digests.txz', 'data', 'packagesite.yaml', 'data.pkg.sig', 'DATA.pkg']) {
      assert.equal(catalogueFileOf(name), undefined, name);
    }
  });

  it('writes data as one line with pkg key order, entries sorted as given', async () => {
    const data = await collect(catalogueMember('data', each(ENTRIES)));
    await expectGolden(data, 'formats/freebsd/golden/three.data');
    assert.ok(!data.includes(0x0a));
    const parsed = JSON.parse(data.toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['groups', 'expired_packages', 'packages']);
    assert.deepEqual((parsed.packages as unknown[]).map((p) => JSON.stringify(p)), ENTRIES);
    assert.equal((await collect(catalogueMember('data', each([])))).toString(), '{"groups":[],"expired_packages":[],"packages":[]}');
  });

  it('writes packagesite.yaml as the same entries, one per line; empty when there are none', async () => {
    const site = await collect(catalogueMember('packagesite', each(ENTRIES)));
    assert.equal(site.toString(), ENTRIES.map((e) => `${e}\n`).join(''));
    assert.equal((await collect(catalogueMember('packagesite', each([])))).length, 0);
  });

  it('measures both members in one pass, and batches large members', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => entry(`p${i}`, '1.0'));
    const digests = await measureMembers(each(many));
    for (const kind of ['data', 'packagesite'] as const) {
      const bytes = await collect(catalogueMember(kind, each(many)));
      assert.equal(digests[kind].size, bytes.length);
    }
    let chunks = 0;
    for await (const _ of catalogueMember('data', each(many))) chunks++;
    assert.ok(chunks < 40, `${chunks} chunks`);
  });

  for (const kind of ['data', 'packagesite'] as const) {
    const member = kind === 'data' ? 'data' : 'packagesite.yaml';
    it(`${kind}.pkg: signature members first, then ${member}; ustar, 0644, root/wheel, catalogue time`, async () => {
      const bytes = await archive(kind, ENTRIES);
      const got = await members(bytes);
      assert.deepEqual(
        got.map((m) => m.name),
        ['signature', `${member}.sig`, `${member}.pub`, member],
      );
      for (const m of got) {
        assert.deepEqual([m.type, m.mode, m.uid, m.gid, m.uname, m.gname, m.mtime], ['file', 0o644, 0, 0, 'root', 'wheel', '2026-08-21T10:00:00.000Z'], m.name);
      }
      assert.deepEqual(got[0]!.content, Buffer.concat([FAKE_SIGNATURE, Buffer.from([0])]));
      assert.deepEqual(got[1]!.content, FAKE_SIGNATURE);
      assert.equal(got[2]!.content.toString(), FAKE_PEM);
      assert.deepEqual(got[3]!.content, await collect(catalogueMember(kind, each(ENTRIES))));
      // gzip, mtime 0 in its header; same inputs, same bytes.
      assert.deepEqual([bytes[0], bytes[1], bytes.readUInt32LE(4)], [0x1f, 0x8b, 0]);
      assert.deepEqual(await archive(kind, ENTRIES), bytes);
    });
  }

  it('reads back with bsdtar: names, order, modes and owners', async () => {
    requireTool('bsdtar', 'libarchive-tools');
    const bytes = await archive('data', ENTRIES);
    assert.equal((await run('bsdtar', ['-tf', '-'], { input: bytes })).stdout.toString(), 'signature\ndata.sig\ndata.pub\ndata\n');
    const long = (await run('bsdtar', ['-tvf', '-'], { input: bytes })).stdout.toString().trim().split('\n');
    for (const line of long) assert.match(line, /^-rw-r--r-- +0 root +wheel /);
    const data = (await run('bsdtar', ['-xOf', '-', 'data'], { input: bytes })).stdout;
    assert.deepEqual(data, await collect(catalogueMember('data', each(ENTRIES))));
  });

  it('fails rather than ship a member that changed after it was signed', async () => {
    const digests = await measureMembers(each(ENTRIES));
    const out = writeCatalogueArchive({
      kind: 'data',
      content: () => catalogueMember('data', each(ENTRIES.slice(1))),
      size: digests.data.size,
      sha256: digests.data.sha256,
      sign: () => FAKE_SIGNATURE,
      publicKeyPem: FAKE_PEM,
      mtimeS: MTIME_S,
    });
    await assert.rejects(collect(out));
  });
});
