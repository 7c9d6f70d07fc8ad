import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readPackage, type FreeBsdPackage } from '../../../src/formats/freebsd/package.js';
import {
  HELLO_MANIFEST,
  buildFreeBsdPackage,
  buildRawFreeBsdPackage,
  type FreeBsdCompression,
} from '../../helpers/freebsd-fixtures.js';
import { makeTempDir } from '../../helpers/tools.js';

/** Feeds `bytes` in small chunks and counts what readPackage consumed. */
async function read(bytes: Buffer, chunk = 997): Promise<{ result: FreeBsdPackage | Error; consumed: number }> {
  let consumed = 0;
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  const body = Readable.from(
    (function* () {
      for (const p of parts) {
        consumed += p.length;
        yield p;
      }
    })(),
  );
  try {
    return { result: await readPackage(body), consumed };
  } catch (err) {
    return { result: err as Error, consumed };
  }
}

async function refusal(bytes: Buffer): Promise<string> {
  const { result, consumed } = await read(bytes);
  assert.ok(result instanceof Error, 'expected a refusal');
  assert.equal((result as Error & { status?: number }).status, 400, result.message);
  assert.equal(consumed, bytes.length, 'the body is drained even when refused');
  return result.message;
}

const compact = JSON.stringify(HELLO_MANIFEST);

describe('freebsd readPackage (freebsd.md §3)', function () {
  this.timeout(60_000);
  let work: string;
  before(async () => {
    work = await makeTempDir('freebsd-package');
  });

  for (const compression of ['zst', 'xz', 'gz', 'none'] as FreeBsdCompression[]) {
    it(`reads a ${compression} package built by bsdtar and consumes it to the end`, async () => {
      const pkg = await buildFreeBsdPackage({ compression, outDir: work });
      const { result, consumed } = await read(pkg.bytes);
      assert.ok(!(result instanceof Error), String(result));
      assert.equal(consumed, pkg.bytes.length);
      assert.equal(result.compression, compression === 'none' ? 'tar' : compression);
      assert.equal(result.member, '+COMPACT_MANIFEST');
      assert.equal(result.manifest.name, 'hello');
    });
  }

  it('stops decompressing at the manifest: the payload is never unpacked', async () => {
    const files = { '/usr/local/share/big': 'x'.repeat(4 * 1024 * 1024) };
    const pkg = await buildFreeBsdPackage({ files, outDir: work, compression: 'gz' });
    // Unpacking the payload would pass this limit and fail the read.
    const result = await readPackage(Readable.from([pkg.bytes]), { maxWalkBytes: 1024 * 1024 });
    assert.equal(result.member, '+COMPACT_MANIFEST');
  });

  it('reads +MANIFEST when there is no compact one, dropping the file list', async () => {
    const pkg = await buildFreeBsdPackage({ compact: null, outDir: work });
    const { result } = await read(pkg.bytes);
    assert.ok(!(result instanceof Error), String(result));
    assert.equal(result.member, '+MANIFEST');
    assert.ok(!('files' in result.manifest.fields) && !('scripts' in result.manifest.fields));
  });

  it('prefers +COMPACT_MANIFEST even when it follows +MANIFEST', async () => {
    const bytes = await buildRawFreeBsdPackage([
      { name: '+MANIFEST', content: JSON.stringify({ ...HELLO_MANIFEST, comment: 'full' }) },
      { name: '+DISPLAY', content: 'hello' },
      { name: '+COMPACT_MANIFEST', content: JSON.stringify({ ...HELLO_MANIFEST, comment: 'compact' }) },
      { name: '/usr/local/bin/hello', content: 'x' },
    ]);
    const { result } = await read(bytes);
    assert.ok(!(result instanceof Error), String(result));
    assert.deepEqual([result.member, result.manifest.comment], ['+COMPACT_MANIFEST', 'compact']);
  });

  it('uses the compact manifest as soon as it is seen, ignoring a broken +MANIFEST after it', async () => {
    const bytes = await buildRawFreeBsdPackage([
      { name: '+COMPACT_MANIFEST', content: compact },
      { name: '+MANIFEST', content: 'not json at all' },
    ]);
    const { result } = await read(bytes);
    assert.ok(!(result instanceof Error), String(result));
  });

  it('reads a package whose archive holds only + members', async () => {
    const { result } = await read(await buildRawFreeBsdPackage([{ name: '+COMPACT_MANIFEST', content: compact }], 'xz'));
    assert.ok(!(result instanceof Error), String(result));
  });

  const cases: [string, () => Promise<Buffer>, string | RegExp][] = [
    ['an empty body', async () => Buffer.alloc(0), 'empty body'],
    ['random bytes', async () => Buffer.from('this is not a package, only some text that is long enough'.repeat(10)), 'invalid package: unknown compression'],
    ['a short body', async () => Buffer.from('abc'), 'invalid package: unknown compression'],
    ['bzip2', async () => (await buildFreeBsdPackage({ compression: 'bzip2', outDir: work })).bytes, 'invalid package: unsupported compression bzip2'],
    ['a truncated archive', async () => (await buildFreeBsdPackage({ outDir: work, compression: 'xz' })).bytes.subarray(0, 100), 'invalid package: corrupt or truncated archive'],
    ['a corrupt gzip stream', async () => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(400, 0xff)]), 'invalid package: corrupt or truncated archive'],
    ['no manifest', async () => buildRawFreeBsdPackage([{ name: '+DISPLAY', content: 'x' }, { name: '/usr/local/bin/x', content: 'x' }]), 'invalid package: no manifest'],
    ['a manifest after a file', async () => buildRawFreeBsdPackage([{ name: '/usr/local/bin/x', content: 'x' }, { name: '+COMPACT_MANIFEST', content: compact }]), 'invalid package: no manifest'],
    ['./+MANIFEST', async () => buildRawFreeBsdPackage([{ name: './+MANIFEST', content: compact }]), 'invalid package: no manifest'],
    ['./+COMPACT_MANIFEST', async () => buildRawFreeBsdPackage([{ name: './+COMPACT_MANIFEST', content: compact }], 'gz'), 'invalid package: no manifest'],
    ['a UCL +MANIFEST (pkg create -e)', async () => (await buildFreeBsdPackage({ compact: null, full: 'name = "hello";\nversion = "1.0";\n', outDir: work })).bytes, 'invalid package: manifest is not JSON'],
    ['a manifest that is not UTF-8', async () => buildRawFreeBsdPackage([{ name: '+COMPACT_MANIFEST', content: Buffer.from([0x7b, 0xff, 0x7d]) }]), 'invalid package: manifest is not JSON'],
    ['an oversized compact manifest', async () => buildRawFreeBsdPackage([{ name: '+COMPACT_MANIFEST', content: ' '.repeat(1024 * 1024 + 1) }]), 'invalid package: +COMPACT_MANIFEST: larger than 1 MiB'],
    ['an oversized +MANIFEST', async () => buildRawFreeBsdPackage([{ name: '+MANIFEST', content: ' '.repeat(32 * 1024 * 1024 + 1) }]), 'invalid package: +MANIFEST: larger than 32 MiB'],
    ['two +MANIFEST members', async () => buildRawFreeBsdPackage([{ name: '+MANIFEST', content: compact }, { name: '+MANIFEST', content: compact }]), 'invalid package: duplicate +MANIFEST'],
    ['a bad manifest key', async () => (await buildFreeBsdPackage({ manifest: { flatsize: 'big' }, outDir: work })).bytes, 'invalid package: flatsize: must be an integer of at least 0'],
    ['a directory named +COMPACT_MANIFEST', async () => buildRawFreeBsdPackage([{ name: '+COMPACT_MANIFEST', type: 'directory' }]), 'invalid package: manifest is not JSON'],
  ];
  for (const [what, make, message] of cases) {
    it(`refuses ${what}`, async () => {
      const got = await refusal(await make());
      if (typeof message === 'string') assert.equal(got, message);
      else assert.match(got, message);
    });
  }

  it('refuses a package whose leading + members unpack past the limit', async () => {
    const bytes = await buildRawFreeBsdPackage([{ name: '+JUNK', content: Buffer.alloc(300_000) }, { name: '+COMPACT_MANIFEST', content: compact }], 'gz');
    await assert.rejects(readPackage(Readable.from([bytes]), { maxWalkBytes: 100_000 }), {
      status: 400,
      message: 'invalid package: leading + members too large',
    });
  });

  it('passes an error of the body on unchanged', async () => {
    const pkg = await buildFreeBsdPackage({ outDir: work });
    const body = new Readable({ read() {} });
    body.push(pkg.bytes.subarray(0, 300));
    setImmediate(() => body.destroy(new Error('socket closed')));
    await assert.rejects(readPackage(body), { message: 'socket closed' });
  });
});
