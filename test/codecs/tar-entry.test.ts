import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';
import { chunkBuffer, drainTarEntry, readTarEntry, whenWritable } from '../../src/codecs/tar-entry.js';

async function tarOf(entries: Record<string, string>): Promise<Buffer> {
  const tar = pack();
  for (const [name, content] of Object.entries(entries)) tar.entry({ name }, content);
  tar.finalize();
  const parts: Buffer[] = [];
  for await (const c of tar) parts.push(chunkBuffer(c));
  return Buffer.concat(parts);
}

describe('tar entry helpers', () => {
  it('reads one entry whole and drains the others', async () => {
    const bytes = await tarOf({ a: 'first', b: 'x'.repeat(100_000), c: 'third' });
    const seen: string[] = [];
    const tar = extract();
    tar.on('entry', (header, entry, next) => {
      const work = header.name === 'b' ? drainTarEntry(entry).then(() => 'drained') : readTarEntry(entry, () => new Error('cut')).then(String);
      work.then((v) => {
        seen.push(`${header.name}:${v}`);
        next();
      }, next);
    });
    await pipeline(Readable.from([bytes]), tar);
    assert.deepEqual(seen, ['a:first', 'b:drained', 'c:third']);
  });

  it('rejects with the cut-short error when the archive goes away mid-entry', async () => {
    const bytes = await tarOf({ a: 'y'.repeat(200_000) });
    const tar = extract();
    const read = new Promise<Buffer>((resolve, reject) => {
      tar.on('entry', (_h, entry) => {
        readTarEntry(entry, () => new Error('cut short')).then(resolve, reject);
        setImmediate(() => tar.destroy());
      });
    });
    tar.on('error', () => {});
    tar.write(bytes.subarray(0, 2048));
    await assert.rejects(read, { message: 'cut short' });
  });

  it('turns strings and Uint8Arrays into Buffers, and waits for drain or close', async () => {
    assert.deepEqual(chunkBuffer('ab'), Buffer.from('ab'));
    assert.deepEqual(chunkBuffer(new Uint8Array([1, 2])), Buffer.from([1, 2]));
    const stream = new PassThrough({ highWaterMark: 1 });
    stream.write('xx');
    const waiting = whenWritable(stream);
    stream.destroy();
    await waiting;
  });
});
