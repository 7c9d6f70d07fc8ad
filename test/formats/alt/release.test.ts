import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  formatRelease,
  formatReleaseClassic,
  readSums,
  releaseDate,
  sumsOf,
} from '../../../src/formats/alt/release.js';

const T = 1763825940; // Sat, 22 Nov 2025 15:39:00 UTC
const input = { appName: 'Forgejo', arch: 'x86_64', timeS: T };

describe('alt release texts (alt.md §7)', () => {
  it('writes release.classic: seven lines, each ending in LF', () => {
    assert.equal(
      formatReleaseClassic(input),
      'Archive: Forgejo\nComponent: classic\nVersion: 1763825940\nOrigin: Forgejo\nLabel: Forgejo\n' +
        'Architecture: x86_64\nNotAutomatic: false\n',
    );
  });

  it('writes release: sums with one leading space, then three LFs', () => {
    const files = [
      { size: 1047, md5: 'a'.repeat(32), blake2b: 'b'.repeat(128) },
      { size: 556, md5: 'c'.repeat(32), blake2b: 'd'.repeat(128) },
      { size: 130, md5: 'e'.repeat(32), blake2b: 'f'.repeat(128) },
    ] as const;
    assert.equal(
      formatRelease(input, files),
      [
        'Origin: Forgejo',
        'Label: Forgejo',
        'Suite: Unknown',
        'Codename: 1763825940',
        'Date: Sat, 22 Nov 2025 15:39:00 UTC',
        'Architectures: x86_64',
        'MD5Sum:',
        ` ${'a'.repeat(32)} 1047 base/pkglist.classic`,
        ` ${'c'.repeat(32)} 556 base/pkglist.classic.xz`,
        ` ${'e'.repeat(32)} 130 base/release.classic`,
        'BLAKE2b:',
        ` ${'b'.repeat(128)} 1047 base/pkglist.classic`,
        ` ${'d'.repeat(128)} 556 base/pkglist.classic.xz`,
        ` ${'f'.repeat(128)} 130 base/release.classic`,
        '',
        '',
        '',
      ].join('\n'),
    );
  });

  it('writes the date with a two-digit day and a literal UTC', () => {
    assert.equal(releaseDate(1704164645), 'Tue, 02 Jan 2024 03:04:05 UTC');
  });

  it('sums bytes in memory and streams alike', async () => {
    const bytes = Buffer.from('pkglist bytes');
    const sums = sumsOf(bytes);
    assert.deepEqual(await readSums(Readable.from([bytes.subarray(0, 3), bytes.subarray(3)])), sums);
    assert.deepEqual(sums, {
      size: 13,
      md5: createHash('md5').update(bytes).digest('hex'),
      blake2b: createHash('blake2b512').update(bytes).digest('hex'),
    });
  });
});
