import assert from 'node:assert/strict';
import { formatDesc, formatFiles } from '../../../src/formats/pacman/desc.js';
import type { DescEntry } from '../../../src/formats/pacman/desc.js';
import { expectGolden } from '../../helpers/golden.js';

const MD5 = 'eb25a15006d3cc2d7f09a84f2d028819';
const SHA256 = '122cb6c93449e884064efb6bdee51b27e9563bdbb0f26baa3fcd554bc8e70d8f';

/** A desc entry with only the sections that are always written; overrides fill the rest. */
function descEntry(overrides: Partial<DescEntry> = {}): DescEntry {
  return {
    fileName: 'hello-1.0-1-x86_64.pkg.tar.zst',
    name: 'hello',
    base: '',
    version: '1.0-1',
    description: '',
    url: '',
    builddate: '',
    packager: '',
    size: '',
    arch: 'x86_64',
    groups: [],
    licenses: [],
    replaces: [],
    conflicts: [],
    provides: [],
    depends: [],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
    csize: 864,
    md5: MD5,
    sha256: SHA256,
    ...overrides,
  };
}

const FULL = descEntry({
  fileName: 'hello-1:2.1.0-3-x86_64.pkg.tar.zst',
  name: 'hello',
  base: 'hello-base',
  version: '1:2.1.0-3',
  description: 'A friendly greeter',
  url: 'https://example.com/hello',
  builddate: '1700000000',
  packager: 'Test <test@example.com>',
  size: '9223372036854775807',
  groups: ['greeters', 'demo'],
  licenses: ['MIT', 'GPL-3.0-or-later'],
  replaces: ['hi'],
  conflicts: ['hallo', 'salut'],
  provides: ['greeter=2.1'],
  depends: ['glibc>=2.36', 'bash'],
  optdepends: ['figlet: fancy output', 'cowsay'],
  makedepends: ['gcc'],
  checkdepends: ['bats'],
  csize: 12345,
  pgpsig: 'iQEzBAABCAAdFiEEAAAAAAAAAAAAAAAAAAAAAAAAAAAFAmVgAAAACgkQAAAAAAAAAAA=',
});

const sections = (desc: string) => [...desc.matchAll(/^%([A-Z0-9]+)%$/gm)].map((m) => m[1]);

describe('pacman formatDesc', () => {
  it('matches the reviewed golden file for a package with every section', async () => {
    await expectGolden(formatDesc(FULL), 'formats/pacman/golden/full.desc');
  });

  it('matches the reviewed golden file for a package with only the required sections', async () => {
    await expectGolden(formatDesc(descEntry()), 'formats/pacman/golden/minimal.desc');
  });

  it("writes every section in repo-add's order", () => {
    assert.deepEqual(sections(formatDesc(FULL)), [
      'FILENAME',
      'NAME',
      'BASE',
      'VERSION',
      'DESC',
      'GROUPS',
      'CSIZE',
      'ISIZE',
      'MD5SUM',
      'SHA256SUM',
      'PGPSIG',
      'URL',
      'LICENSE',
      'ARCH',
      'BUILDDATE',
      'PACKAGER',
      'REPLACES',
      'CONFLICTS',
      'PROVIDES',
      'DEPENDS',
      'OPTDEPENDS',
      'MAKEDEPENDS',
      'CHECKDEPENDS',
    ]);
  });

  it('leaves out empty sections, keeping FILENAME, NAME, VERSION, CSIZE, sums and ARCH', () => {
    const desc = formatDesc(descEntry());
    assert.deepEqual(sections(desc), [
      'FILENAME',
      'NAME',
      'VERSION',
      'CSIZE',
      'MD5SUM',
      'SHA256SUM',
      'ARCH',
    ]);
    assert.ok(desc.endsWith('%ARCH%\nx86_64\n\n'));
  });

  it('writes %ISIZE% and %BUILDDATE% of 0, and omits them when absent (F8)', () => {
    const zero = formatDesc(descEntry({ size: '0', builddate: '0' }));
    assert.match(zero, /%ISIZE%\n0\n\n/);
    assert.match(zero, /%BUILDDATE%\n0\n\n/);
    assert.doesNotMatch(formatDesc(descEntry()), /%ISIZE%|%BUILDDATE%/);
  });

  it('writes %PGPSIG% only when a signature is given', () => {
    assert.doesNotMatch(formatDesc(descEntry({ pgpsig: undefined })), /%PGPSIG%/);
    assert.doesNotMatch(formatDesc(descEntry({ pgpsig: '' })), /%PGPSIG%/);
    assert.match(
      formatDesc(descEntry({ pgpsig: 'c2ln' })),
      /%SHA256SUM%\n[0-9a-f]{64}\n\n%PGPSIG%\nc2ln\n\n%ARCH%/,
    );
  });

  it('writes list values one per line and 64-bit sizes exactly', () => {
    const desc = formatDesc(FULL);
    assert.match(desc, /%DEPENDS%\nglibc>=2\.36\nbash\n\n/);
    assert.match(desc, /%ISIZE%\n9223372036854775807\n\n/);
    assert.match(desc, /%CSIZE%\n12345\n\n/);
  });
});

describe('pacman formatFiles', () => {
  it('matches the reviewed golden file', async () => {
    await expectGolden(
      formatFiles(['usr/', 'usr/.hidden', 'usr/bin/', 'usr/bin/hello', 'usr/share/é']),
      'formats/pacman/golden/hello.files',
    );
  });

  it('is exactly "%FILES%\\n" for an empty payload, with no blank line at the end', () => {
    assert.equal(formatFiles([]), '%FILES%\n');
    assert.equal(formatFiles(['a', 'b/']), '%FILES%\na\nb/\n');
  });
});
