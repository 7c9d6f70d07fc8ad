import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RPM_TYPE, RpmHeader } from '../../../src/formats/alt/rpm-header.js';
import { TAG } from '../../../src/formats/alt/rpm.js';
import {
  APT_TAG,
  altFileName,
  altVersion,
  formatPkglistEntry,
  type PkglistEntry,
} from '../../../src/formats/alt/pkglist.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const blake2b = (b: Buffer) => createHash('blake2b512').update(b).digest('hex');

/** The inputs of alt.md §5.3, from Forgejo's alt integration test package. */
export const GOLDEN_ENTRY: PkglistEntry = {
  name: 'test.package-name',
  epoch: null,
  version: '1.0.2',
  release: '1',
  arch: 'x86_64',
  summary: 'RPM package summary',
  description: 'RPM package description',
  license: 'MIT',
  group: 'System',
  packager: 'KN4CK3R',
  sourceRpm: 'test.package-name-1.0.2-1.src.rpm',
  url: 'https://gitea.io',
  buildTime: 1761294337,
  installedSize: 13,
  provides: [
    { name: 'test.package-name(x86-64)', flags: 8, version: '1.0.2-1' },
    { name: 'test.package-name', flags: 8, version: '1.0.2-1' },
  ],
  requires: [
    { name: '/bin/sh', flags: 0, version: '' },
    { name: '/bin/sh', flags: 21568, version: '' },
    { name: 'rpmlib(PayloadIsLzma)', flags: 16777280, version: '' },
  ],
  conflicts: [],
  obsoletes: [],
  files: [{ path: '/usr/bin/hello', mode: 0o100755, flags: 0 }],
  changelog: [{ time: 1678276800, name: 'KN4CK3R <dummy@gitea.io>', text: '- Changelog message.' }],
  fileName: 'test.package-name-1.0.2-1.x86_64.rpm',
  size: 2180,
  md5: 'aa17381c0b52a33f7ec70f49dc792157',
  blake2b:
    '4ea8ca38eb5ece86dce30d26f8237262a2f7a1f1a8a5307934848545e157768a0dd45ae00ca9c4d9ec211815b10969313ac17d1bd24055e48909fc57e22411ed',
};

/** The §5.3 offset table: tag, type, offset, count. */
const GOLDEN_INDEX: readonly (readonly [number, number, number, number])[] = [
  [1000, 6, 0, 1],
  [1001, 6, 18, 1],
  [1004, 9, 24, 1],
  [1005, 9, 44, 1],
  [1002, 6, 68, 1],
  [1009, 4, 72, 1],
  [1006, 4, 76, 1],
  [1014, 6, 80, 1],
  [1015, 6, 84, 1],
  [1016, 6, 92, 1],
  [1020, 6, 99, 1],
  [1080, 4, 116, 1],
  [1081, 8, 120, 1],
  [1082, 8, 145, 1],
  [1022, 6, 166, 1],
  [1112, 4, 176, 2],
  [1047, 8, 184, 2],
  [1113, 8, 228, 2],
  [1044, 6, 244, 1],
  [1048, 4, 280, 3],
  [1049, 8, 292, 3],
  [1050, 8, 330, 3],
  [1117, 8, 333, 1],
  [1118, 8, 339, 1],
  [1000000, 6, 349, 1],
  [1000001, 4, 388, 1],
  [1000005, 6, 392, 1],
  [1000009, 6, 425, 1],
  [1000010, 6, 554, 1],
];

function indexOf(entry: Buffer): [number, number, number, number][] {
  const n = entry.readUInt32BE(8);
  return Array.from({ length: n }, (_, i) => {
    const at = 16 + 16 * i;
    return [entry.readUInt32BE(at), entry.readUInt32BE(at + 4), entry.readUInt32BE(at + 8), entry.readUInt32BE(at + 12)];
  });
}

const minimal = (over: Partial<PkglistEntry> = {}): PkglistEntry => ({
  ...GOLDEN_ENTRY,
  provides: [],
  requires: [],
  files: [],
  changelog: [],
  ...over,
});

describe('alt formatPkglistEntry (alt.md §5)', () => {
  it('reproduces the §5.3 golden vector byte for byte', () => {
    const entry = formatPkglistEntry(GOLDEN_ENTRY);
    assert.equal(entry.length, 1047);
    assert.equal(entry.subarray(0, 16).toString('hex'), '8eade801000000000000001d00000237');
    assert.deepEqual(indexOf(entry), GOLDEN_INDEX);
    assert.equal(md5(entry), 'bd5c5952ded4f7e8d664a650ba286059');
    assert.equal(
      blake2b(entry),
      '5ca9fcf185ab58068f3d887c21715bddd4797bcb06da7ebd8e30b8330dad630065227504406b55b071da0d52ab6ab6811d2ce1c7132446626388902144fbd7ae',
    );
  });

  it('reads back with our header reader, every value where it was put', () => {
    const h = RpmHeader.parse(formatPkglistEntry(GOLDEN_ENTRY));
    assert.equal(h.string(TAG.NAME), 'test.package-name');
    assert.equal(h.string(TAG.SUMMARY), 'RPM package summary');
    assert.deepEqual(h.integers(TAG.REQUIRE_FLAGS), [0, 21568, 16777280]);
    assert.deepEqual(h.strings(TAG.REQUIRE_VERSION), ['', '', '']);
    assert.deepEqual(h.strings(TAG.BASENAMES), ['hello']);
    assert.deepEqual(h.strings(TAG.DIRNAMES), ['/usr/bin/']);
    assert.equal(h.integer(APT_TAG.FILESIZE), 2180);
    assert.equal(h.string(APT_TAG.DIRECTORY), 'RPMS.classic');
    assert.equal(h.has(TAG.DIR_INDEXES), false);
    assert.equal(h.has(TAG.EPOCH), false);
  });

  it('writes 18 entries for a package without changelog, dependencies or files', () => {
    const entry = formatPkglistEntry(minimal());
    assert.equal(entry.readUInt32BE(8), 18);
    assert.deepEqual(
      indexOf(entry).map((e) => e[0]),
      [1000, 1001, 1004, 1005, 1002, 1009, 1006, 1014, 1015, 1016, 1020, 1022, 1044, 1000000, 1000001, 1000005, 1000009, 1000010],
    );
  });

  it('keeps offsets consistent around a 300-byte SOURCERPM (real lengths, D10)', () => {
    const sourceRpm = `${'s'.repeat(292)}.src.rpm`;
    const entry = formatPkglistEntry(minimal({ sourceRpm }));
    const h = RpmHeader.parse(entry);
    assert.equal(h.string(TAG.SOURCE_RPM), sourceRpm);
    assert.equal(h.string(APT_TAG.FILENAME), GOLDEN_ENTRY.fileName);
    const index = indexOf(entry);
    const source = index.find((e) => e[0] === TAG.SOURCE_RPM)!;
    const next = index[index.indexOf(source) + 1]!;
    assert.equal(next[2], source[2] + 301);
    for (const [, type, offset] of index) if (type === RPM_TYPE.INT32) assert.equal(offset % 4, 0);
  });

  it('puts EPOCH right after RELEASE, needing no padding of its own (D8)', () => {
    const plain = indexOf(formatPkglistEntry(GOLDEN_ENTRY));
    const withEpoch = formatPkglistEntry({ ...GOLDEN_ENTRY, epoch: 2 });
    const index = indexOf(withEpoch);
    assert.deepEqual(index[5], [1003, 4, 72, 1]);
    assert.deepEqual(index[6], [1009, 4, 76, 1]);
    assert.equal(index.length, plain.length + 1);
    assert.equal(RpmHeader.parse(withEpoch).integer(TAG.EPOCH), 2);
  });

  it('writes every dependency kind as FLAGS, NAME, VERSION in §5.2 order', () => {
    const dep = { name: 'x', flags: 12, version: '1' };
    const tags = indexOf(formatPkglistEntry(minimal({ conflicts: [dep], obsoletes: [dep], requires: [dep], provides: [dep] }))).map(
      (e) => e[0],
    );
    assert.deepEqual(tags.slice(11), [
      1022, 1112, 1047, 1113, 1044, 1048, 1049, 1050, 1000000, 1000001, 1000005, 1000009, 1053, 1054, 1055, 1000010, 1114,
      1090, 1115,
    ]);
  });

  it('clamps SIZE to 32 bits and keeps the low 32 bits of times (D11)', () => {
    const h = RpmHeader.parse(formatPkglistEntry(minimal({ installedSize: 2 ** 40, buildTime: 2 ** 32 + 5 })));
    assert.equal(h.integer(TAG.SIZE), 0xffffffff);
    assert.equal(h.integer(TAG.BUILD_TIME), 5);
  });

  it('writes raw string bytes as they are (D19)', () => {
    const raw = Buffer.from([0x68, 0xff, 0x69]);
    const h = RpmHeader.parse(formatPkglistEntry({ ...minimal(), summary: raw }));
    assert.deepEqual(h.rawString(TAG.SUMMARY), raw);
  });

  it('splits paths at the last slash, one DIRNAMES per file', () => {
    const files = ['/usr/bin/a', '/usr/bin/b', '/etc/'].map((path) => ({ path, mode: 0, flags: 0 }));
    const h = RpmHeader.parse(formatPkglistEntry(minimal({ files })));
    assert.deepEqual(h.strings(TAG.BASENAMES), ['a', 'b', '']);
    assert.deepEqual(h.strings(TAG.DIRNAMES), ['/usr/bin/', '/usr/bin/', '/etc/']);
  });
});

describe('alt stored names (alt.md §3.5)', () => {
  it('joins the version with dashes, the epoch too (parity)', () => {
    assert.equal(altVersion({ epoch: null, version: '1.0', release: '1' }), '1.0-1');
    assert.equal(altVersion({ epoch: 0, version: '1.0', release: '1' }), '1.0-1');
    assert.equal(altFileName({ name: 'foo', epoch: 2, version: '1.0', release: 'alt1', arch: 'x86_64' }), 'foo-2-1.0-alt1.x86_64.rpm');
  });
});
