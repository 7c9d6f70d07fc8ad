import assert from 'node:assert/strict';
import { SNIFF_BYTES, sniffCompression } from '../../src/codecs/sniff.js';

const withTail = (head: number[], length = SNIFF_BYTES) => {
  const bytes = Buffer.alloc(length);
  Buffer.from(head).copy(bytes);
  return bytes;
};

function tarHeader(magic: string): Buffer {
  const block = Buffer.alloc(512);
  block.write('usr/', 0);
  block.write(magic, 257, 'latin1');
  return block;
}

describe('sniffCompression (pacman.md §3.1)', () => {
  it('knows zstd, xz and gzip by their magic', () => {
    assert.equal(sniffCompression(withTail([0x28, 0xb5, 0x2f, 0xfd])), 'zst');
    assert.equal(sniffCompression(withTail([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
    assert.equal(sniffCompression(withTail([0x1f, 0x8b])), 'gz');
  });

  it('knows plain tar by "ustar" at offset 257, POSIX or GNU', () => {
    assert.equal(sniffCompression(tarHeader('ustar\u000000')), 'tar');
    assert.equal(sniffCompression(tarHeader('ustar  \u0000')), 'tar');
    assert.equal(sniffCompression(tarHeader('ustar').subarray(0, SNIFF_BYTES)), 'tar');
  });

  it('knows nothing else: bzip2, lz4, old tar, empty and short input', () => {
    assert.equal(sniffCompression(withTail([0x42, 0x5a, 0x68, 0x39])), undefined); // BZh9
    assert.equal(sniffCompression(withTail([0x04, 0x22, 0x4d, 0x18])), undefined); // lz4
    assert.equal(sniffCompression(tarHeader('\u0000\u0000\u0000\u0000\u0000')), undefined); // v7 tar
    assert.equal(sniffCompression(Buffer.alloc(0)), undefined);
    assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f])), undefined);
    assert.equal(sniffCompression(Buffer.from([0x1f])), undefined);
    assert.equal(sniffCompression(withTail([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x01])), undefined);
    assert.equal(sniffCompression(tarHeader('ustar').subarray(0, SNIFF_BYTES - 1)), undefined);
  });
});
