import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import {
  TRAILER,
  buildMember,
  fullArchiveSegments,
  planSplice,
} from '../../../src/formats/pacman/database.js';
import type { ManifestEntry, Segment } from '../../../src/formats/pacman/database.js';
import { formatDesc, formatFiles } from '../../../src/formats/pacman/desc.js';
import { requireTool, run } from '../../helpers/tools.js';

const MTIME_S = 1_700_000_123;

interface TestPackage {
  readonly entry: ManifestEntry;
  readonly db: Buffer;
  readonly files: Buffer;
}

function descFor(name: string, version: string): string {
  return formatDesc({
    fileName: `${name}-${version}-x86_64.pkg.tar.zst`,
    name,
    base: name,
    version,
    description: `The ${name} package`,
    url: '',
    builddate: '1700000000',
    packager: '',
    size: '1024',
    arch: 'x86_64',
    groups: [],
    licenses: ['MIT'],
    replaces: [],
    conflicts: [],
    provides: [],
    depends: ['glibc'],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
    csize: 100,
    md5: '0'.repeat(32),
    sha256: '0'.repeat(64),
  });
}

let nextId = 1;
async function testPackage(name: string, version = '1.0-1'): Promise<TestPackage> {
  const dir = `${name}-${version}`;
  const desc = descFor(name, version);
  const db = await buildMember({ dir, desc }, MTIME_S);
  const files = await buildMember(
    { dir, desc, files: formatFiles(['usr/', `usr/bin/${name}`]) },
    MTIME_S,
  );
  return { entry: { dir, fileId: nextId++, dbLen: db.length, filesLen: files.length }, db, files };
}

/** The archive a full rebuild writes: every member of the manifest, then TRAILER. */
function rebuild(
  manifest: readonly ManifestEntry[],
  pkgs: readonly TestPackage[],
  kind: 'db' | 'files',
): Buffer {
  const byId = new Map(pkgs.map((p) => [p.entry.fileId, p]));
  return Buffer.concat([
    ...fullArchiveSegments(manifest).map((s) => {
      assert.equal(s.from, 'new');
      const pkg = s.from === 'new' ? byId.get(s.fileId) : undefined;
      assert.ok(pkg);
      return pkg[kind];
    }),
    TRAILER,
  ]);
}

/** What the service writes for a splice plan: old ranges and new members, then TRAILER. */
function splice(
  segments: readonly Segment[],
  old: Buffer,
  pkgs: readonly TestPackage[],
  kind: 'db' | 'files',
): Buffer {
  const byId = new Map(pkgs.map((p) => [p.entry.fileId, p]));
  return Buffer.concat([
    ...segments.map((s) => {
      if (s.from === 'old') return old.subarray(s.start, s.end);
      const pkg = byId.get(s.fileId);
      assert.ok(pkg, `segment names unknown file ${s.fileId}`);
      return pkg[kind];
    }),
    TRAILER,
  ]);
}

async function listing(archive: Buffer): Promise<string[]> {
  const out = await run('bsdtar', ['-tf', '-'], { input: archive });
  return out.stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '');
}

async function gzipTest(archive: Buffer): Promise<void> {
  await run('gzip', ['-t'], { input: archive });
}

describe('pacman database archives', function () {
  this.timeout(60_000);
  before(() => {
    requireTool('bsdtar', 'libarchive-tools');
    requireTool('gzip', 'gzip');
  });

  describe('TRAILER', () => {
    it('is one gzip member of 1024 zero bytes, with mtime 0 and no name', () => {
      assert.deepEqual(gunzipSync(TRAILER), Buffer.alloc(1024));
      assert.deepEqual([...TRAILER.subarray(0, 3)], [0x1f, 0x8b, 8]);
      assert.equal(TRAILER[3], 0, 'FLG: no FNAME, FCOMMENT or FEXTRA');
      assert.equal(TRAILER.readUInt32LE(4), 0, 'MTIME');
    });

    it('alone is a valid empty archive for bsdtar and gzip', async () => {
      await gzipTest(TRAILER);
      const out = await run('bsdtar', ['-tvf', '-'], { input: TRAILER });
      assert.equal(out.stdout.toString(), '');
    });
  });

  describe('buildMember', () => {
    it('writes {dir}/ (0755) and {dir}/desc (0644) as root with the upload time, in one member', async () => {
      const desc = descFor('hello', '1:2.0-1');
      const member = await buildMember({ dir: 'hello-1:2.0-1', desc }, MTIME_S);
      const archive = Buffer.concat([member, TRAILER]);
      await gzipTest(archive);
      const out = await run('bsdtar', ['-tvf', '-'], { input: archive, env: { TZ: 'UTC' } });
      const lines = out.stdout.toString().trim().split('\n');
      assert.equal(lines.length, 2);
      assert.match(lines[0] ?? '', /^drwxr-xr-x +0 root +root +0 Nov 14 +2023 hello-1:2\.0-1\/$/);
      assert.match(
        lines[1] ?? '',
        new RegExp(`^-rw-r--r-- +0 root +root +${desc.length} Nov 14 +2023 hello-1:2\\.0-1/desc$`),
      );
      const extracted = await run('bsdtar', ['-xOf', '-', 'hello-1:2.0-1/desc'], {
        input: archive,
      });
      assert.equal(extracted.stdout.toString(), desc);
    });

    it('adds {dir}/files for the .files archive', async () => {
      const files = formatFiles(['usr/', 'usr/bin/', 'usr/bin/hello']);
      const member = await buildMember(
        { dir: 'hello-1.0-1', desc: descFor('hello', '1.0-1'), files },
        MTIME_S,
      );
      const archive = Buffer.concat([member, TRAILER]);
      assert.deepEqual(await listing(archive), [
        'hello-1.0-1/',
        'hello-1.0-1/desc',
        'hello-1.0-1/files',
      ]);
      const extracted = await run('bsdtar', ['-xOf', '-', 'hello-1.0-1/files'], { input: archive });
      assert.equal(extracted.stdout.toString(), files);
    });

    it('leaves out the end-of-archive blocks, so members can be concatenated', async () => {
      const desc = 'x'.repeat(600);
      const tar = gunzipSync(await buildMember({ dir: 'a-1-1', desc }, MTIME_S));
      // header of a-1-1/, header of a-1-1/desc, two blocks of content: nothing more.
      assert.equal(tar.length, 4 * 512);
      assert.notDeepEqual(tar.subarray(tar.length - 512), Buffer.alloc(512));
    });

    it('is deterministic: mtime 0, no name, the same bytes every time', async () => {
      const a = await buildMember({ dir: 'a-1-1', desc: descFor('a', '1-1') }, MTIME_S);
      const b = await buildMember({ dir: 'a-1-1', desc: descFor('a', '1-1') }, MTIME_S);
      assert.deepEqual(a, b);
      assert.equal(a[3], 0);
      assert.equal(a.readUInt32LE(4), 0);
    });

    it('stores long names intact (ustar prefix or pax header)', async () => {
      for (const length of [90, 140, 250]) {
        const dir = `${'n'.repeat(length - 6)}-1.0-1`;
        const member = await buildMember({ dir, desc: 'd', files: '%FILES%\n' }, MTIME_S);
        assert.deepEqual(await listing(Buffer.concat([member, TRAILER])), [
          `${dir}/`,
          `${dir}/desc`,
          `${dir}/files`,
        ]);
      }
    });

    it('reads as one archive when members are concatenated, for bsdtar, gzip and zlib', async () => {
      const pkgs = await Promise.all(['alpha', 'beta', 'gamma'].map((n) => testPackage(n)));
      for (const kind of ['db', 'files'] as const) {
        const archive = Buffer.concat([...pkgs.map((p) => p[kind]), TRAILER]);
        await gzipTest(archive);
        const names = await listing(archive);
        const perPackage = kind === 'db' ? ['/', '/desc'] : ['/', '/desc', '/files'];
        assert.deepEqual(
          names,
          pkgs.flatMap((p) => perPackage.map((s) => `${p.entry.dir}${s}`)),
        );
        const tar = gunzipSync(archive);
        assert.equal(tar.length % 512, 0);
        assert.deepEqual(tar.subarray(tar.length - 1024), Buffer.alloc(1024));
      }
      const desc = await run('bsdtar', ['-xOf', '-', 'beta-1.0-1/desc'], {
        input: Buffer.concat([...pkgs.map((p) => p.db), TRAILER]),
      });
      assert.equal(desc.stdout.toString(), descFor('beta', '1.0-1'));
    });
  });

  describe('planSplice', () => {
    let a: TestPackage;
    let b: TestPackage;
    let c: TestPackage;
    let d: TestPackage;
    let b2: TestPackage;
    let all: TestPackage[];

    before(async () => {
      [a, b, c, d] = await Promise.all([
        testPackage('a'),
        testPackage('b'),
        testPackage('c'),
        testPackage('d'),
      ]);
      b2 = await testPackage('b', '2.0-1');
      all = [a, b, c, d, b2];
    });

    /** Runs a plan and checks it against a full rebuild, byte for byte, for both archives. */
    async function check(
      old: readonly TestPackage[],
      removed: readonly TestPackage[],
      added: readonly TestPackage[],
    ) {
      const oldManifest = old.map((p) => p.entry);
      const plan = planSplice(
        oldManifest,
        removed.map((p) => p.entry.fileId),
        added.map((p) => p.entry),
      );
      for (const kind of ['db', 'files'] as const) {
        const oldArchive = rebuild(oldManifest, all, kind);
        const spliced = splice(kind === 'db' ? plan.db : plan.files, oldArchive, all, kind);
        assert.deepEqual(
          spliced,
          rebuild(plan.manifest, all, kind),
          `${kind}: splice equals full rebuild`,
        );
        await gzipTest(spliced);
        const names = await listing(spliced);
        assert.deepEqual(
          names.filter((n) => n.endsWith('/')),
          plan.manifest.map((e) => `${e.dir}/`),
        );
      }
      return plan;
    }

    it('keeps an unchanged database as one range of the old archive', async () => {
      const plan = await check([a, b, c], [], []);
      const end = a.entry.dbLen + b.entry.dbLen + c.entry.dbLen;
      assert.deepEqual(plan.db, [{ from: 'old', start: 0, end }]);
    });

    it('removes the first entry', async () => {
      const plan = await check([a, b, c], [a], []);
      assert.deepEqual(plan.db, [
        { from: 'old', start: a.entry.dbLen, end: a.entry.dbLen + b.entry.dbLen + c.entry.dbLen },
      ]);
      assert.deepEqual(plan.manifest, [b.entry, c.entry]);
    });

    it('removes a middle entry, leaving two ranges', async () => {
      const plan = await check([a, b, c], [b], []);
      const bStart = a.entry.filesLen;
      const cStart = bStart + b.entry.filesLen;
      assert.deepEqual(plan.files, [
        { from: 'old', start: 0, end: bStart },
        { from: 'old', start: cStart, end: cStart + c.entry.filesLen },
      ]);
    });

    it('removes the last entry', async () => {
      const plan = await check([a, b, c], [c], []);
      assert.deepEqual(plan.db, [{ from: 'old', start: 0, end: a.entry.dbLen + b.entry.dbLen }]);
    });

    it('replaces an entry by a new version in its sorted place', async () => {
      const plan = await check([a, b, c], [b], [b2]);
      assert.deepEqual(plan.manifest, [a.entry, b2.entry, c.entry]);
      assert.deepEqual(plan.db, [
        { from: 'old', start: 0, end: a.entry.dbLen },
        { from: 'new', fileId: b2.entry.fileId },
        {
          from: 'old',
          start: a.entry.dbLen + b.entry.dbLen,
          end: a.entry.dbLen + b.entry.dbLen + c.entry.dbLen,
        },
      ]);
    });

    it('inserts new entries in byte order of dir', async () => {
      const plan = await check([a, c], [], [d, b]);
      assert.deepEqual(
        plan.manifest.map((e) => e.dir),
        ['a-1.0-1', 'b-1.0-1', 'c-1.0-1', 'd-1.0-1'],
      );
    });

    it('goes from empty to one entry', async () => {
      const plan = await check([], [], [a]);
      assert.deepEqual(plan.db, [{ from: 'new', fileId: a.entry.fileId }]);
    });

    it('goes from one entry to empty: TRAILER alone', async () => {
      const plan = await check([a], [a], []);
      assert.deepEqual(plan, { manifest: [], db: [], files: [] });
      assert.deepEqual(splice(plan.db, rebuild([a.entry], all, 'db'), all, 'db'), TRAILER);
    });

    it('sorts dirs by bytes, not by locale', () => {
      const entry = (dir: string, fileId: number): ManifestEntry => ({
        dir,
        fileId,
        dbLen: 1,
        filesLen: 1,
      });
      const plan = planSplice(
        [],
        [],
        [entry('b-1-1', 1), entry('B-1-1', 2), entry('a-b-1-1', 3), entry('a-1-1', 4)],
      );
      assert.deepEqual(
        plan.manifest.map((e) => e.dir),
        ['B-1-1', 'a-1-1', 'a-b-1-1', 'b-1-1'],
      );
    });

    it("keeps the fields of the caller's manifest rows", () => {
      const rows = [{ name: 'x', dir: 'x-1-1', fileId: 7, dbLen: 3, filesLen: 4 }];
      assert.deepEqual(planSplice(rows, [], []).manifest, rows);
    });

    it('refuses to list a dir or a file twice', () => {
      const entry = (dir: string, fileId: number): ManifestEntry => ({
        dir,
        fileId,
        dbLen: 1,
        filesLen: 1,
      });
      assert.throws(() => planSplice([entry('a-1-1', 1)], [], [entry('a-1-1', 2)]), /twice/);
      assert.throws(() => planSplice([entry('a-1-1', 1)], [], [entry('b-1-1', 1)]), /twice/);
    });
  });
});
