import assert from 'node:assert/strict';
import {
  canonicalFieldName,
  formatStanza,
  isArchitecture,
  parseControl,
  renderStanzaParts,
  sourceName,
  sourceVersion,
  validateControl,
} from '../../../src/formats/debian/control.js';
import { isHttpError } from '../../../src/errors.js';
import { expectGolden } from '../../helpers/golden.js';

const HELLO = [
  'Package: hello-world',
  'Section: utils',
  'maintainer: Test User <test@example.com>',
  'Architecture: amd64',
  'Version: 1:1.0.0-1',
  'Depends:  libc6 (>= 2.17) ,libfoo',
  'Homepage: https://example.com',
  'Description: A test package   ',
  ' This is a longer description',
  ' .',
  ' with a paragraph.',
  '',
].join('\n');

const FILE = {
  size: 676,
  md5: 'fa71e327'.padEnd(32, '0'),
  sha1: '8750eada'.padEnd(40, '0'),
  sha256: '7ec44f64'.padEnd(64, '0'),
  sha512: '73089cc6'.padEnd(128, '0'),
};

function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => isHttpError(err) && err.status === 400 && err.message === message);
}

describe('debian control files (debian.md §3.2–§3.3)', () => {
  describe('canonicalFieldName', () => {
    it('capitalises each word and keeps apt’s special spellings', () => {
      const cases: Record<string, string> = {
        package: 'Package',
        'installed-size': 'Installed-Size',
        'MULTI-ARCH': 'Multi-Arch',
        'x-Foo-BAR': 'X-Foo-Bar',
        md5sum: 'MD5Sum',
        MD5SUM: 'MD5Sum',
        sha256: 'SHA256',
        Sha1: 'SHA1',
        notautomatic: 'NotAutomatic',
        butautomaticupgrades: 'ButAutomaticUpgrades',
      };
      for (const [raw, want] of Object.entries(cases)) assert.equal(canonicalFieldName(raw), want, raw);
    });
  });

  describe('parseControl', () => {
    it('keeps the Description exactly, folds other fields and normalises dependency lists', () => {
      const fields = parseControl(HELLO);
      assert.equal(fields.get('Description'), ' A test package\n This is a longer description\n .\n with a paragraph.\n');
      assert.equal(fields.get('Depends'), 'libc6 (>= 2.17), libfoo');
      assert.equal(fields.get('Maintainer'), 'Test User <test@example.com>');
      assert.deepEqual([...fields.keys()], ['Package', 'Section', 'Maintainer', 'Architecture', 'Version', 'Depends', 'Homepage', 'Description']);
    });

    it('folds continuation lines of other fields with single spaces', () => {
      const fields = parseControl('Package: a1\nConflicts: x,\n   y,\n\tz\nVersion: 1\n');
      assert.equal(fields.get('Conflicts'), 'x, y, z');
    });

    it('reads the first paragraph only and skips leading blank lines', () => {
      const fields = parseControl('\n\nPackage: first\n\nPackage: second\n');
      assert.deepEqual([...fields], [['Package', 'first']]);
    });

    it('ignores a line without a colon, as in Forgejo’s cut fixture', () => {
      const fields = parseControl('Package: gitea\nVersion: 1.0.3\nArchitecture: all\nDe');
      assert.deepEqual([...fields.keys()], ['Package', 'Version', 'Architecture']);
    });

    it('drops empty dependency fields and the fields that describe the file (F7)', () => {
      const fields = parseControl('Package: a1\nDepends:\nFilename: x\nSize: 1\nMD5sum: a\nsha1: b\nSHA256: c\nSHA512: d\n');
      assert.deepEqual([...fields.keys()], ['Package']);
    });

    it('answers 400 to a repeated field, naming it canonically', () => {
      rejects(() => parseControl('Package: a1\npackage: a2\n'), 'duplicate field Package');
    });

    it('handles CRLF line ends', () => {
      assert.equal(parseControl('Package: a1\r\nVersion: 1\r\n').get('Version'), '1');
    });
  });

  describe('validateControl', () => {
    const valid = (extra: Record<string, string>) =>
      validateControl(new Map(Object.entries({ Package: 'hello', Version: '1.0', Architecture: 'amd64', ...extra })));

    it('accepts the spec’s versions and rejects the bad ones with its message', () => {
      for (const v of ['0:1.0.1-te~st', '99:1.2.3-test', '1.0-2-3', '1.0+b1', '2.0~rc1']) assert.equal(valid({ Version: v }).version, v);
      for (const v of ['', '1-', ':1.0', '1_0', 'a:1', '1.0 1']) rejects(() => valid({ Version: v }), 'package version is invalid');
    });

    it('checks name, version, architecture and source in that order', () => {
      rejects(() => valid({ Package: 'Hello_World', Version: '1_0' }), 'package name is invalid');
      rejects(() => valid({ Package: 'h' }), 'package name is invalid');
      rejects(() => valid({ Package: 'a,b' }), 'package name is invalid'); // F4
      rejects(() => valid({ Version: '1_0', Architecture: '' }), 'package version is invalid');
      for (const a of ['', 'any', 'source', 'AMD64', '-x', 'x'.repeat(65)]) rejects(() => valid({ Architecture: a }), 'package architecture is invalid');
      for (const s of ['Foo', 'foo (1_0)', 'foo(1.0)', 'foo (1.0) x']) rejects(() => valid({ Source: s }), 'package source is invalid');
    });

    it('accepts a Source with a version and derives the pool source from it', () => {
      const c = valid({ Package: 'libfoo1', Version: '1.2-3+b1', Source: 'foo (1.2-3)' });
      assert.deepEqual([sourceName(c), sourceVersion(c)], ['foo', '1.2-3']);
      const plain = valid({});
      assert.deepEqual([sourceName(plain), sourceVersion(plain)], ['hello', '1.0']);
    });

    it('knows which architectures publish lists may hold', () => {
      assert.equal(isArchitecture('source', true), true);
      assert.equal(isArchitecture('all'), true);
    });
  });

  describe('renderStanzaParts', () => {
    it('renders aptly’s field order around Filename, other fields sorted at the end', async () => {
      const parts = renderStanzaParts(parseControl(HELLO), FILE);
      const stanza = formatStanza(parts, 'pool/main/h/hello-world/hello.deb');
      await expectGolden(stanza, 'formats/debian/golden/hello.stanza');
      assert.ok(parts.head.endsWith('Depends: libc6 (>= 2.17), libfoo\n'));
      assert.ok(parts.tail.startsWith('Size: 676\nMD5sum: '));
    });

    it('puts fields aptly orders before Filename into the head, in its order', () => {
      const fields = parseControl('Version: 1\nPackage: p1\nBreaks: q\nPriority: optional\nMulti-Arch: same\nEssential: yes\n');
      const parts = renderStanzaParts(fields, FILE);
      assert.equal(parts.head, 'Package: p1\nEssential: yes\nPriority: optional\nVersion: 1\nBreaks: q\n');
      assert.ok(parts.tail.endsWith('Multi-Arch: same\n'));
    });
  });
});
