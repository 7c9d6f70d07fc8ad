import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Xxh64 } from '../../src/codecs/xxhash64.js';
import { requireTool, run } from '../helpers/tools.js';

const hash = (bytes: Uint8Array, chunkBytes = bytes.length || 1): bigint => {
  const h = new Xxh64();
  for (let at = 0; at < bytes.length; at += chunkBytes)
    h.update(bytes.subarray(at, at + chunkBytes));
  return h.digest();
};

describe('Xxh64', () => {
  it('gives the reference values of XXH64 with seed 0', () => {
    assert.equal(hash(Buffer.alloc(0)), 0xef46db3751d8e999n);
    assert.equal(hash(Buffer.from('a')), 0xd24ec4f1a98c6e5bn);
    assert.equal(hash(Buffer.from('abc')), 0x44bc2cf5ad770999n);
    assert.equal(hash(Buffer.from('Nobody inspects the spammish repetition')), 0xfbcea83c8a378bf1n);
  });

  it('gives the same value however the input is split', () => {
    const bytes = randomBytes(10_007);
    const whole = hash(bytes);
    for (const chunkBytes of [1, 3, 31, 32, 33, 64, 1000])
      assert.equal(hash(bytes, chunkBytes), whole);
  });

  it('agrees with the checksums the zstd tool writes (low 32 bits)', async () => {
    requireTool('zstd', 'zstd');
    for (const length of [0, 1, 4, 7, 8, 31, 32, 33, 100, 4096, 100_000]) {
      const bytes = randomBytes(length);
      const frame = (await run('zstd', ['-q', '-c', '--check'], { input: bytes })).stdout;
      const expected = frame.readUInt32LE(frame.length - 4);
      assert.equal(Number(hash(bytes, 13) & 0xffffffffn), expected, `length ${length}`);
    }
  });
});
