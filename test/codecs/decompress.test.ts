import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompressor } from '../../src/codecs/decompress.js';
import type { Compression } from '../../src/codecs/sniff.js';
import { ZstdDecompressor } from '../../src/codecs/zstd.js';
import { requireTool, run } from '../helpers/tools.js';

const TOOLS: Readonly<Record<Exclude<Compression, 'tar'>, readonly [string, string[], string]>> = {
  zst: ['zstd', ['-q', '-c'], 'zstd'],
  xz: ['xz', ['-c'], 'xz-utils'],
  gz: ['gzip', ['-c', '-n'], 'gzip'],
};

async function compress(
  kind: Exclude<Compression, 'tar'>,
  data: Buffer,
  extra: string[] = [],
): Promise<Buffer> {
  const [command, args, debian] = TOOLS[kind];
  requireTool(command, debian);
  return (await run(command, [...args, ...extra], { input: data })).stdout;
}

function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

async function decode(kind: Compression, input: Buffer, chunkBytes = 4096): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks(input, chunkBytes)),
    decompressor(kind),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

const flip = (bytes: Buffer, at: number): Buffer => {
  const copy = Buffer.from(bytes);
  copy[at] = (copy[at] ?? 0) ^ 0x5a;
  return copy;
};

describe('decompressor', function () {
  this.timeout(60_000);
  const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(300_000, 'a'), randomBytes(1000)]);

  for (const kind of ['zst', 'xz', 'gz'] as const) {
    describe(kind, () => {
      it('restores what the real tool compressed, whatever the chunking', async () => {
        const packed = await compress(kind, data);
        for (const chunkBytes of [1000, 65536, packed.length]) {
          assert.ok((await decode(kind, packed, chunkBytes)).equals(data));
        }
      });

      it('reads concatenated streams as one', async () => {
        const packed = Buffer.concat([
          await compress(kind, Buffer.from('one\n')),
          await compress(kind, Buffer.from('two\n')),
        ]);
        assert.equal((await decode(kind, packed)).toString(), 'one\ntwo\n');
      });

      it('fails the stream on a flipped byte, a truncation, or trailing garbage', async () => {
        const packed = await compress(kind, data);
        await assert.rejects(decode(kind, flip(packed, Math.floor(packed.length / 3))));
        await assert.rejects(decode(kind, packed.subarray(0, Math.floor(packed.length / 2))));
        await assert.rejects(decode(kind, packed.subarray(0, packed.length - 1)));
        await assert.rejects(decode(kind, Buffer.concat([packed, Buffer.from('garbage')])));
      });
    });
  }

  it('tar: passes bytes through', async () => {
    assert.ok((await decode('tar', data)).equals(data));
  });
});

describe('ZstdDecompressor', function () {
  this.timeout(60_000);
  before(() => requireTool('zstd', 'zstd'));

  const frameHeader = (windowDescriptor: number) =>
    Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, windowDescriptor]);
  const rawLastBlock = (content: Buffer) => {
    const header = (content.length << 3) | 1; // type 0 (raw), last block
    return Buffer.concat([
      Buffer.from([header & 0xff, (header >> 8) & 0xff, header >> 16]),
      content,
    ]);
  };

  it('decodes hand-made frames: a raw block, and frames without a checksum', async () => {
    const frame = Buffer.concat([frameHeader(0x00), rawLastBlock(Buffer.from('hand made'))]);
    assert.equal((await decode('zst', frame, 1)).toString(), 'hand made');
    const unchecked = await compress('zst', Buffer.from('no checksum\n'), ['--no-check']);
    assert.equal((await decode('zst', unchecked, 3)).toString(), 'no checksum\n');
  });

  it('skips skippable frames', async () => {
    const skippable = Buffer.concat([
      Buffer.from([0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0]),
      Buffer.from('skip'),
    ]);
    const empty = Buffer.from([0x5f, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]);
    const input = Buffer.concat([
      skippable,
      await compress('zst', Buffer.from('x')),
      empty,
      skippable,
    ]);
    assert.equal((await decode('zst', input, 5)).toString(), 'x');
  });

  it('refuses windows over 128 MiB before allocating them', async () => {
    const huge = Buffer.concat([frameHeader((21 << 3) | 0), rawLastBlock(Buffer.from('x'))]); // 2 GiB
    await assert.rejects(decode('zst', huge), /zstd window too large/);
    const limit = Buffer.concat([frameHeader(17 << 3), rawLastBlock(Buffer.from('x'))]); // 128 MiB
    assert.equal((await decode('zst', limit)).toString(), 'x');
  });

  it('refuses a content checksum that does not match', async () => {
    const packed = await compress('zst', randomBytes(10_000)); // incompressible: one raw block
    await assert.rejects(decode('zst', flip(packed, 5000)), /zstd checksum mismatch/);
    await assert.rejects(decode('zst', flip(packed, packed.length - 1)), /zstd checksum mismatch/);
  });

  it('refuses bad magic, reserved block types, dictionaries and truncation', async () => {
    await assert.rejects(decode('zst', Buffer.from('not zstd at all')), /invalid zstd frame magic/);
    const reserved = Buffer.concat([frameHeader(0), Buffer.from([0x07, 0, 0])]);
    await assert.rejects(decode('zst', reserved), /invalid zstd block type/);
    const dictionary = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x00, 0x07]);
    await assert.rejects(decode('zst', dictionary), /zstd dictionaries are not supported/);
    const packed = await compress('zst', randomBytes(1000));
    await assert.rejects(decode('zst', packed.subarray(0, 10)), /truncated zstd stream/);
  });

  it('keeps to backpressure: a small bomb is decoded only as fast as it is read', async () => {
    const bomb = await compress('zst', Buffer.alloc(64 * 1024 * 1024), ['-19']);
    assert.ok(bomb.length < 64 * 1024, `the bomb is small (${bomb.length} bytes)`);
    const decoder = new ZstdDecompressor();
    let inputDone = false;
    decoder.write(bomb, () => {
      inputDone = true;
    });
    decoder.end();
    // Nobody reads: the decoder must stop after about one block past its high-water mark.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(inputDone, false, 'the input waits for the reader');
    assert.ok(decoder.readableLength <= 512 * 1024, `buffered ${decoder.readableLength} bytes`);

    let total = 0;
    decoder.on('data', (chunk: Buffer) => {
      total += chunk.length;
      assert.ok(decoder.readableLength <= 512 * 1024);
    });
    await once(decoder, 'end');
    assert.equal(total, 64 * 1024 * 1024);
    assert.equal(inputDone, true);
  });
});
