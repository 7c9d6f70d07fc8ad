import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { HttpError } from '../../../src/errors.js';
import {
  compareBytes,
  packageDir,
  packageFileName,
  readPackage,
} from '../../../src/formats/pacman/package.js';
import type { PacmanPackage, ReadPackageOptions } from '../../../src/formats/pacman/package.js';
import type { Surface } from '../../../src/formats/pacman/pkginfo.js';
import {
  buildPacmanPackage,
  buildRawPackage,
  fixturePkginfo,
} from '../../helpers/pacman-fixtures.js';
import type {
  FixtureCompression,
  PacmanFixtureOptions,
  RawTarEntry,
} from '../../helpers/pacman-fixtures.js';
import { requireTool, run } from '../../helpers/tools.js';

const CORRUPT = 'corrupt or truncated package';
const SURFACES = ['arch', 'vieter'] as const;

/**
 * A body that hands out `bytes` in small chunks (smaller than the sniffing window) and is never
 * destroyed on its own, so the test can see whether readPackage read it to the end and left it open.
 */
class Body extends Readable {
  readonly #bytes: Buffer;
  #offset = 0;
  readonly #chunkBytes: number;
  #failAt: number | undefined;

  constructor(bytes: Buffer, chunkBytes = 100, failAt?: number) {
    super({ autoDestroy: false, highWaterMark: 1024 });
    this.#bytes = bytes;
    this.#chunkBytes = chunkBytes;
    this.#failAt = failAt;
  }

  get consumed(): number {
    return this.#offset;
  }

  override _read(): void {
    if (this.#failAt !== undefined && this.#offset >= this.#failAt) {
      this.destroy(new Error('client went away'));
      return;
    }
    if (this.#offset >= this.#bytes.length) {
      this.push(null);
      return;
    }
    const next = Math.min(this.#offset + this.#chunkBytes, this.#bytes.length);
    this.push(this.#bytes.subarray(this.#offset, next));
    this.#offset = next;
  }
}

interface Outcome {
  readonly result: PacmanPackage | undefined;
  readonly error: unknown;
  readonly body: Body;
}

async function readBytes(
  bytes: Buffer,
  surface: Surface,
  options?: ReadPackageOptions,
  chunkBytes = 100,
): Promise<Outcome> {
  const body = new Body(bytes, chunkBytes);
  try {
    return { result: await readPackage(body, surface, options), error: undefined, body };
  } catch (error) {
    return { result: undefined, error, body };
  }
}

/** Every outcome must leave the body read to its end and not destroyed. */
function assertConsumed(outcome: Outcome, length: number): void {
  assert.equal(outcome.body.consumed, length, 'the whole body was read');
  assert.equal(outcome.body.readableEnded, true, 'the body reached its end');
  assert.equal(outcome.body.destroyed, false, 'the body was left open');
}

async function expectPackage(
  bytes: Buffer,
  surface: Surface,
  options?: ReadPackageOptions,
): Promise<PacmanPackage> {
  const outcome = await readBytes(bytes, surface, options);
  if (outcome.error !== undefined) throw outcome.error;
  assertConsumed(outcome, bytes.length);
  assert.ok(outcome.result);
  return outcome.result;
}

async function expectRejected(
  bytes: Buffer,
  surface: Surface,
  message: string,
  options?: ReadPackageOptions,
  chunkBytes?: number,
): Promise<void> {
  const outcome = await readBytes(bytes, surface, options, chunkBytes);
  assert.ok(
    outcome.error instanceof HttpError,
    `expected an HttpError, got ${String(outcome.error)}`,
  );
  assert.equal(outcome.error.status, 400);
  assert.equal(outcome.error.message, message);
  assertConsumed(outcome, bytes.length);
}

const tempDirs: string[] = [];
async function built(options: PacmanFixtureOptions = {}): Promise<Buffer> {
  const fixture = await buildPacmanPackage(options);
  tempDirs.push(fixture.tempDir);
  return readFile(fixture.path);
}

const PKGINFO = fixturePkginfo({ name: 'raw', version: '1.0-1' });
const raw = (entries: readonly RawTarEntry[], compression: FixtureCompression = 'gz') =>
  buildRawPackage(
    [{ name: '.PKGINFO', content: PKGINFO }, { name: '.MTREE', content: 'x' }, ...entries],
    compression,
  );

describe('pacman readPackage', function () {
  this.timeout(120_000);

  before(() => {
    requireTool('bsdtar', 'libarchive-tools');
    requireTool('zstd', 'zstd');
    requireTool('xz', 'xz-utils');
    requireTool('gzip', 'gzip');
    requireTool('bzip2', 'bzip2');
  });
  after(async () => {
    await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  describe('compressions', () => {
    const FILES = {
      'usr/': '',
      'usr/bin/': '',
      'usr/bin/hello': '#!/bin/sh\necho hi\n',
      'usr/share/doc/hello/README': 'read me\n',
    };
    for (const [compression, suffix] of [
      ['zst', '.zst'],
      ['xz', '.xz'],
      ['gz', '.gz'],
    ] as const) {
      for (const surface of SURFACES) {
        it(`${surface}: reads a ${compression} package built by bsdtar`, async () => {
          const bytes = await built({ compression, version: '1:2.1.0-3', files: FILES });
          const pkg = await expectPackage(bytes, surface);
          assert.equal(pkg.compression, compression);
          assert.equal(pkg.fileName, `hello-1:2.1.0-3-x86_64.pkg.tar${suffix}`);
          assert.equal(pkg.dir, 'hello-1:2.1.0-3');
          assert.equal(pkg.info.name, 'hello');
          assert.equal(pkg.info.version, '1:2.1.0-3');
          assert.equal(pkg.info.size, '12345');
          assert.deepEqual(pkg.files, [
            'usr/',
            'usr/bin/',
            'usr/bin/hello',
            'usr/share/',
            'usr/share/doc/',
            'usr/share/doc/hello/',
            'usr/share/doc/hello/README',
          ]);
        });
      }
    }

    it('vieter: reads a plain tar package, stored without a compression suffix', async () => {
      const pkg = await expectPackage(await built({ compression: 'none' }), 'vieter');
      assert.equal(pkg.compression, 'tar');
      assert.equal(pkg.fileName, 'hello-1.0.0-1-x86_64.pkg.tar');
    });

    it('arch: refuses a plain tar package with "not supported compression"', async () => {
      await expectRejected(
        await built({ compression: 'none' }),
        'arch',
        'not supported compression',
      );
    });

    for (const surface of SURFACES) {
      it(`${surface}: refuses bzip2, lz4, an empty body and random bytes`, async () => {
        await expectRejected(
          await built({ compression: 'bzip2' }),
          surface,
          'not supported compression',
        );
        requireTool('lz4', 'lz4');
        const tar = await built({ compression: 'none' });
        const lz4 = (await run('lz4', ['-q', '-c'], { input: tar })).stdout;
        await expectRejected(lz4, surface, 'not supported compression');
        await expectRejected(Buffer.alloc(0), surface, 'not supported compression');
        await expectRejected(randomBytes(4096), surface, 'not supported compression');
        await expectRejected(Buffer.from([0x28, 0xb5]), surface, 'not supported compression');
      });
    }

    it('sniffs from the bytes, whatever the chunking', async () => {
      const bytes = await built({ compression: 'xz' });
      for (const chunkBytes of [1, 7, 261, 262, 263, 65536]) {
        const outcome = await readBytes(bytes, 'arch', undefined, chunkBytes);
        assert.equal(outcome.error, undefined);
        assert.equal(outcome.result?.compression, 'xz');
        assertConsumed(outcome, bytes.length);
      }
    });
  });

  describe('corrupt and truncated streams', () => {
    // Incompressible payload, so that the middle of the file is compressed data.
    const payload = () => ({ 'usr/': '', 'usr/lib/': '', 'usr/lib/blob': randomBytes(256 * 1024) });
    const flip = (bytes: Buffer, at: number) => {
      const copy = Buffer.from(bytes);
      copy[at] = (copy[at] ?? 0) ^ 0x55;
      return copy;
    };

    for (const compression of ['zst', 'xz', 'gz', 'none'] as const) {
      const surface: Surface = compression === 'none' ? 'vieter' : 'arch';

      it(`${surface}: answers 400 to a ${compression} package with a flipped byte inside`, async () => {
        const bytes = await built({ compression, files: payload() });
        // The middle of a plain tar is file content, which tar cannot check: hit a header.
        const at = compression === 'none' ? 100 : Math.floor(bytes.length / 2);
        await expectRejected(flip(bytes, at), surface, CORRUPT);
      });

      it(`${surface}: answers 400 to a truncated ${compression} package`, async () => {
        const bytes = await built({ compression, files: payload() });
        for (const keep of [Math.floor(bytes.length / 2), bytes.length - 1, 300]) {
          await expectRejected(bytes.subarray(0, keep), surface, CORRUPT);
        }
      });
    }

    for (const compression of ['zst', 'xz', 'gz'] as const) {
      it(`arch: answers 400 to garbage after a ${compression} stream`, async () => {
        const bytes = await built({ compression });
        await expectRejected(
          Buffer.concat([bytes, Buffer.from('trailing garbage')]),
          'arch',
          CORRUPT,
        );
      });
    }

    it('arch: reads concatenated gzip members as one stream', async () => {
      const tar = await built({ compression: 'none' });
      const half = Math.floor(tar.length / 2);
      const members = await Promise.all(
        [tar.subarray(0, half), tar.subarray(half)].map(
          async (part) => (await run('gzip', ['-c', '-n'], { input: part })).stdout,
        ),
      );
      const pkg = await expectPackage(Buffer.concat(members), 'arch');
      assert.equal(pkg.compression, 'gz');
      assert.deepEqual(pkg.files, ['usr/', 'usr/bin/', 'usr/bin/hello']);
    });

    it('arch: reads concatenated zstd frames and skips skippable frames', async () => {
      const tar = await built({ compression: 'none' });
      const half = Math.floor(tar.length / 2);
      const [a, b] = await Promise.all(
        [tar.subarray(0, half), tar.subarray(half)].map(
          async (part) => (await run('zstd', ['-q', '-c'], { input: part })).stdout,
        ),
      );
      const skippable = Buffer.concat([
        Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]),
        Buffer.from('abc'),
      ]);
      const pkg = await expectPackage(
        Buffer.concat([a ?? Buffer.alloc(0), skippable, b ?? Buffer.alloc(0)]),
        'arch',
      );
      assert.deepEqual(pkg.files, ['usr/', 'usr/bin/', 'usr/bin/hello']);
    });

    it('refuses a package that unpacks past maxUnpackedBytes', async () => {
      const bytes = await built({ files: { 'usr/': '', 'usr/zeros': Buffer.alloc(1024 * 1024) } });
      await expectRejected(bytes, 'arch', 'package is too large when unpacked', {
        maxUnpackedBytes: 512 * 1024,
      });
      await expectPackage(bytes, 'arch', { maxUnpackedBytes: 4 * 1024 * 1024 });
    });
  });

  describe('entries', () => {
    it('lists nested dotfiles but skips every name starting with a dot', async () => {
      const bytes = await built({
        files: {
          '.top': 'skipped',
          '.dotdir/': '',
          '.dotdir/inside': 'skipped',
          'usr/': '',
          'usr/.hidden': 'listed',
          'usr/.config/': '',
          'usr/.config/x': 'listed',
        },
      });
      const pkg = await expectPackage(bytes, 'arch');
      assert.deepEqual(pkg.files, ['usr/', 'usr/.config/', 'usr/.config/x', 'usr/.hidden']);
    });

    it('accepts an empty payload', async () => {
      const pkg = await expectPackage(await built({ files: {} }), 'arch');
      assert.deepEqual(pkg.files, []);
    });

    it('sorts in byte order, dedupes, and ends directories with /', async () => {
      const bytes = await raw([
        { name: 'usr/b' },
        { name: 'usr', type: 'directory' },
        { name: 'usr/B' },
        { name: 'usr/é' },
        { name: 'usr/z' },
        { name: 'usr/b' },
        { name: 'usr/', type: 'directory' },
        { name: 'usr/link', type: 'symlink', linkname: 'b' },
      ]);
      const pkg = await expectPackage(bytes, 'arch');
      assert.deepEqual(pkg.files, ['usr/', 'usr/B', 'usr/b', 'usr/link', 'usr/z', 'usr/é']);
    });

    it('reads .PKGINFO wherever it is in the archive', async () => {
      const bytes = await buildRawPackage([
        { name: 'usr/x' },
        { name: '.MTREE' },
        { name: '.PKGINFO', content: PKGINFO },
      ]);
      assert.equal((await expectPackage(bytes, 'arch')).info.name, 'raw');
    });

    for (const name of ['/etc/passwd', '../escape', 'usr/../../escape', 'usr/..', '..', 'a\nb']) {
      it(`answers 400 to the entry name ${JSON.stringify(name)}, whatever the chunking`, async () => {
        const bytes = await raw([{ name }, { name: 'usr/after', content: randomBytes(100_000) }]);
        for (const surface of SURFACES) {
          for (const chunkBytes of [1, 512, 65536]) {
            await expectRejected(bytes, surface, 'invalid path in package', undefined, chunkBytes);
          }
        }
      });
    }

    it('answers 400 to a second .PKGINFO', async () => {
      const bytes = await raw([{ name: '.PKGINFO', content: PKGINFO }]);
      await expectRejected(bytes, 'arch', 'duplicate .PKGINFO file');
      await expectRejected(bytes, 'vieter', 'duplicate .PKGINFO file');
    });

    it('takes a .PKGINFO of 1 MiB and refuses a larger one', async () => {
      const pad = (bytes: number) => {
        const body = `${PKGINFO}#`;
        return `${body}${'x'.repeat(bytes - body.length - 1)}\n`;
      };
      const exact = pad(1024 * 1024);
      assert.equal(Buffer.byteLength(exact), 1024 * 1024);
      const ok = await buildRawPackage([{ name: '.PKGINFO', content: exact }, { name: '.MTREE' }]);
      assert.equal((await expectPackage(ok, 'arch')).info.name, 'raw');
      const big = await buildRawPackage([
        { name: '.PKGINFO', content: pad(1024 * 1024 + 1) },
        { name: '.MTREE' },
      ]);
      await expectRejected(big, 'arch', '.PKGINFO file is too large');
    });

    it('answers 400 to a .PKGINFO that is not UTF-8', async () => {
      const bytes = await buildRawPackage([
        {
          name: '.PKGINFO',
          content: Buffer.concat([Buffer.from(PKGINFO), Buffer.from([0xff, 0xfe, 0x0a])]),
        },
        { name: '.MTREE' },
      ]);
      await expectRejected(bytes, 'vieter', '.PKGINFO is not valid UTF-8');
    });

    for (const surface of SURFACES) {
      it(`${surface}: answers 400 ".PKGINFO file not found" without a top-level .PKGINFO`, async () => {
        await expectRejected(
          await buildRawPackage([{ name: '.MTREE' }, { name: 'usr/x' }]),
          surface,
          '.PKGINFO file not found',
        );
        const nested = await buildRawPackage([
          { name: './.PKGINFO', content: PKGINFO },
          { name: '.MTREE' },
        ]);
        await expectRejected(nested, surface, '.PKGINFO file not found');
      });
    }

    it('arch: answers 400 ".MTREE file not found"; vieter does not need one', async () => {
      const bytes = await built({ mtree: false });
      await expectRejected(bytes, 'arch', '.MTREE file not found');
      assert.equal((await expectPackage(bytes, 'vieter')).info.name, 'hello');
    });

    it('answers the .PKGINFO rules of each surface', async () => {
      const bytes = await built({ extra: ['makepkgopt = strip'] });
      await expectRejected(bytes, 'arch', 'property is not supported makepkgopt');
      await expectPackage(bytes, 'vieter');
      await expectRejected(await built({ name: '-bad' }), 'vieter', 'invalid package name');
    });
  });

  describe('the body', () => {
    it('passes an error of the body itself on, unchanged', async () => {
      const bytes = await built({ files: { 'usr/': '', 'usr/blob': randomBytes(64 * 1024) } });
      const body = new Body(bytes, 1000, 20_000);
      await assert.rejects(readPackage(body, 'arch'), /client went away/);
    });
  });
});

describe('pacman package names', () => {
  it('derives the file name and database directory (pacman.md §3.4)', () => {
    const info = { name: 'hello', version: '1:2.1.0-3', arch: 'x86_64' };
    assert.equal(packageFileName(info, 'zst'), 'hello-1:2.1.0-3-x86_64.pkg.tar.zst');
    assert.equal(packageFileName(info, 'xz'), 'hello-1:2.1.0-3-x86_64.pkg.tar.xz');
    assert.equal(packageFileName(info, 'gz'), 'hello-1:2.1.0-3-x86_64.pkg.tar.gz');
    assert.equal(packageFileName(info, 'tar'), 'hello-1:2.1.0-3-x86_64.pkg.tar');
    assert.equal(packageDir(info), 'hello-1:2.1.0-3');
  });

  it('compares in UTF-8 byte order, not UTF-16 order', () => {
    const names = ['\u{1F600}', '\uFF5E', 'a', 'B'];
    assert.deepEqual([...names].sort(compareBytes), ['B', 'a', '\uFF5E', '\u{1F600}']);
    assert.deepEqual([...names].sort(), ['B', 'a', '\u{1F600}', '\uFF5E']);
  });
});
