import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileBlobStore } from '../../src/blobs/file-store.js';
import { HttpError, badRequest } from '../../src/errors.js';
import { TEST_ROOT } from '../setup.js';

let n = 0;
async function newStore(): Promise<{ store: FileBlobStore; root: string }> {
  const root = join(TEST_ROOT, `blobs-${++n}`);
  mkdirSync(root, { recursive: true });
  const store = new FileBlobStore(root);
  await store.init();
  return { store, root };
}

function* chunkList(count: number, size: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(size, i % 251);
}
/** A body produced in chunks, never as one buffer. */
const chunks = (count: number, size: number) => Readable.from(chunkList(count, size));

const hex = (alg: string, data: Buffer) => createHash(alg).update(data).digest('hex');

describe('FileBlobStore', () => {
  it('stages a body with its size and all five digests in one pass', async () => {
    const { store } = await newStore();
    const expected = Buffer.concat([...chunkList(10, 1000)]);
    const { staged } = await store.stage(chunks(10, 1000), { maxBytes: 1e6 });
    assert.equal(staged.size, 10_000);
    assert.deepEqual(staged.digests, {
      md5: hex('md5', expected),
      sha1: hex('sha1', expected),
      sha256: hex('sha256', expected),
      sha512: hex('sha512', expected),
      blake2b: hex('blake2b512', expected),
    });
    assert.deepEqual(readFileSync(staged.path), expected);
  });

  it('answers 413 past the limit and leaves no staging file', async () => {
    const { store } = await newStore();
    await assert.rejects(store.stage(chunks(20, 1000), { maxBytes: 5000 }), (e: unknown) => e instanceof HttpError && e.status === 413);
    assert.deepEqual(await store.listStaging(), []);
  });

  it('gives the inspector the same bytes, and aborts when it rejects', async () => {
    const { store } = await newStore();
    const seen = await store.stage(chunks(50, 4096), {
      maxBytes: 1e7,
      inspect: async (copy) => {
        const h = createHash('sha256');
        for await (const c of copy) h.update(c as Buffer);
        return h.digest('hex');
      },
    });
    assert.equal(seen.inspected, seen.staged.digests.sha256);
    await seen.staged.discard();

    await assert.rejects(
      store.stage(chunks(500, 4096), {
        maxBytes: 1e8,
        inspect: async (copy) => {
          for await (const _ of copy) throw badRequest('not a package');
        },
      }),
      /not a package/,
    );
    assert.deepEqual(await store.listStaging(), []);
  });

  it('promotes by rename, dedupes identical bytes, and undoes a promotion', async () => {
    const { store } = await newStore();
    const a = (await store.stage(Readable.from([Buffer.from('same')]), { maxBytes: 100 })).staged;
    const b = (await store.stage(Readable.from([Buffer.from('same')]), { maxBytes: 100 })).staged;
    const pa = await store.promote(a);
    const pb = await store.promote(b);
    assert.deepEqual([pa.created, pb.created], [true, false]);
    await b.discard();
    assert.deepEqual(await store.listBlobs(), [a.digests.sha256]);
    await pa.undo();
    assert.deepEqual(await store.listBlobs(), []);
    assert.deepEqual(await store.listStaging(), [a.path.split('/').pop()]);
  });

  it('serves byte ranges of a stored blob', async () => {
    const { store } = await newStore();
    const { staged } = await store.stage(Readable.from([Buffer.from('0123456789')]), { maxBytes: 100 });
    await store.promote(staged);
    const part: Buffer[] = [];
    for await (const c of store.open(staged.digests.sha256, { start: 2, end: 5 })) part.push(c as Buffer);
    assert.equal(Buffer.concat(part).toString(), '2345');
  });

  it('sweeps staging files older than the grace period, or all of them', async () => {
    const { store, root } = await newStore();
    writeFileSync(join(root, 'tmp', 'fresh'), 'x');
    writeFileSync(join(root, 'tmp', 'old'), 'x');
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(root, 'tmp', 'old'), hourAgo, hourAgo);
    assert.equal(await store.sweepStaging(3600_000), 1);
    assert.deepEqual(await store.listStaging(), ['fresh']);
    assert.equal(await store.sweepStaging(0), 1);
    assert.deepEqual(await store.listStaging(), []);
  });
});
