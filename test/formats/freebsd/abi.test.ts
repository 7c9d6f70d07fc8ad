import assert from 'node:assert/strict';
import {
  abisOfClass,
  abisOverlap,
  catalogueClasses,
  classCandidatesOfView,
  classesTouchedBy,
  parsePackageAbi,
  parseViewAbi,
} from '../../../src/formats/freebsd/abi.js';
import { isValidAbi } from '../../helpers/freebsd-client.js';

describe('freebsd ABIs (freebsd.md §2.4, §5.1)', () => {
  it('accepts the three forms in any case and keys them lower-cased', () => {
    assert.deepEqual(parsePackageAbi('FreeBSD:14:amd64'), { kind: 'concrete', key: 'freebsd:14:amd64', major: '14' });
    assert.deepEqual(parsePackageAbi('freebsd:15:AARCH64'), { kind: 'concrete', key: 'freebsd:15:aarch64', major: '15' });
    assert.deepEqual(parsePackageAbi('FREEBSD:14:*'), { kind: 'major', key: 'freebsd:14:*', major: '14' });
    assert.deepEqual(parsePackageAbi('*'), { kind: 'any', key: '*' });
  });

  it('refuses prefixes, other systems, globs elsewhere and leading zeros', () => {
    for (const abi of ['FreeBSD:1', 'FreeBSD:14', 'FreeBSD', 'FreeBSD:*', 'FreeBSD:14:amd64:x', 'Linux:6:amd64', 'FreeBSD:1*:amd64',
      'FreeBSD:14:amd?4', 'FreeBSD:014:amd64', 'FreeBSD:0:amd64', 'FreeBSD:14:', '', ' *', 'FreeBSD:14:amd-64',
      `FreeBSD:14:${'a'.repeat(60)}`]) {
      assert.throws(() => parsePackageAbi(abi), (e: Error & { status?: number }) => e.status === 400 && /^invalid package: abi: /.test(e.message), abi);
    }
  });

  it('overlaps when one concrete ABI matches both', () => {
    const a = (s: string) => parsePackageAbi(s);
    const rows: [string, string, boolean][] = [
      ['FreeBSD:14:amd64', 'freebsd:14:AMD64', true],
      ['FreeBSD:14:amd64', 'FreeBSD:14:aarch64', false],
      ['FreeBSD:14:amd64', 'FreeBSD:15:amd64', false],
      ['FreeBSD:14:*', 'FreeBSD:14:aarch64', true],
      ['FreeBSD:14:*', 'FreeBSD:15:aarch64', false],
      ['FreeBSD:14:*', 'FreeBSD:14:*', true],
      ['FreeBSD:14:*', 'FreeBSD:15:*', false],
      ['*', 'FreeBSD:15:*', true],
      ['*', 'FreeBSD:9:sparc64', true],
      ['*', '*', true],
    ];
    for (const [x, y, expected] of rows) {
      assert.equal(abisOverlap(a(x), a(y)), expected, `${x} ${y}`);
      assert.equal(abisOverlap(a(y), a(x)), expected, `${y} ${x}`);
    }
  });

  it('matches views as the client does, never by prefix', () => {
    assert.equal(parseViewAbi('FreeBSD:14:AMD64'), 'freebsd:14:amd64');
    for (const bad of ['FreeBSD:14:*', 'FreeBSD:14', 'Linux:6:amd64', 'FreeBSD:x:amd64', 'FreeBSD:14:amd-64']) {
      assert.equal(parseViewAbi(bad), undefined, bad);
    }
    // A view lists its own ABI, its major's and `*`: a subset of what the client accepts.
    assert.deepEqual(abisOfClass('freebsd:14:amd64'), ['freebsd:14:amd64', 'freebsd:14:*', '*']);
    for (const abi of ['FreeBSD:14:amd64', 'FreeBSD:14:*', '*']) assert.ok(isValidAbi(abi, 'FreeBSD:14:amd64'), abi);
    assert.ok(!isValidAbi('FreeBSD:15:*', 'FreeBSD:14:amd64'));
  });

  it('shares one catalogue between views with the same packages', () => {
    const present = new Set(['freebsd:14:amd64', 'freebsd:14:*', 'freebsd:15:aarch64']);
    assert.deepEqual(catalogueClasses(present).sort(), ['*', 'freebsd:14:*', 'freebsd:14:amd64', 'freebsd:15:aarch64']);
    // The first candidate that exists serves the view.
    const served = (view: string) => classCandidatesOfView(view).find((c) => catalogueClasses(present).includes(c));
    assert.equal(served('freebsd:14:amd64'), 'freebsd:14:amd64');
    assert.equal(served('freebsd:14:riscv64'), 'freebsd:14:*');
    assert.equal(served('freebsd:15:amd64'), '*');
    assert.equal(served('freebsd:014:amd64'), '*');
    assert.deepEqual(abisOfClass('freebsd:14:amd64'), ['freebsd:14:amd64', 'freebsd:14:*', '*']);
    assert.deepEqual(abisOfClass('freebsd:14:*'), ['freebsd:14:*', '*']);
    assert.deepEqual(abisOfClass('*'), ['*']);
  });

  it('rebuilds only the classes a change touches', () => {
    const classes = ['*', 'freebsd:14:*', 'freebsd:14:amd64', 'freebsd:14:aarch64', 'freebsd:15:amd64'];
    const touched = (abi: string) => classesTouchedBy(parsePackageAbi(abi), classes).sort();
    assert.deepEqual(touched('FreeBSD:14:amd64'), ['freebsd:14:amd64']);
    assert.deepEqual(touched('FreeBSD:14:*'), ['freebsd:14:*', 'freebsd:14:aarch64', 'freebsd:14:amd64']);
    assert.deepEqual(touched('*'), [...classes].sort());
  });
});
