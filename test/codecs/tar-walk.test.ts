import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { Compression } from '../../src/codecs/sniff.js';
import { drainTarEntry, readTarEntry } from '../../src/codecs/tar-entry.js';
import type { TarEntry } from '../../src/codecs/tar-entry.js';
import { walkCompressedTar } from '../../src/codecs/tar-walk.js';
import type { TarWalkOptions } from '../../src/codecs/tar-walk.js';
import { HttpError, badRequest } from '../../src/errors.js';

const CORRUPT = 'corrupt archive';

async function tarOf(entries: Record<string, string | Buffer>): Promise<Buffer> {
  const tar = pack();
  for (const [name, content] of Object.entries(entries)) tar.entry({ name }, content);
  tar.finalize();
  return buffer(tar);
}

interface Body {
  readonly stream: Readable;
  /** Bytes handed out so far. */
  readonly consumed: () => number;
}

/** Hands out `bytes` in chunks; never destroyed on its own, or failing with `error` at `at`. */
function bodyOf(bytes: Buffer, chunkBytes = 1000, failure?: { at: number; error: Error }): Body {
  let consumed = 0;
  function* chunks() {
    for (let at = 0; at < bytes.length; at += chunkBytes) {
      if (failure && at >= failure.at) throw failure.error;
      const part = bytes.subarray(at, at + chunkBytes);
      consumed += part.length;
      yield part;
    }
  }
  return { stream: Readable.from(chunks(), { autoDestroy: false }), consumed: () => consumed };
}

function assertDrained(body: Body, length: number): void {
  assert.equal(body.consumed(), length, 'the whole body was read');
  assert.equal(body.stream.readableEnded, true, 'the body reached its end');
  assert.equal(body.stream.destroyed, false, 'the body was left open');
}

const textOf = async (entry: TarEntry) =>
  (await readTarEntry(entry, () => badRequest(CORRUPT))).toString();

/** Reads every entry as text and lists `name:text`; the result names the compression. */
function listing(
  seen: string[],
  overrides: Partial<TarWalkOptions<string>> = {},
): TarWalkOptions<string> {
  return {
    accept: (sniffed) => {
      if (sniffed === undefined) throw badRequest('unknown compression');
      return sniffed;
    },
    maxUnpackedBytes: 64 * 1024 * 1024,
    tooLarge: () => badRequest('too large'),
    onEntry: async (header, entry) => {
      const text = await textOf(entry);
      seen.push(`${header.name}:${text.length > 10 ? text.length : text}`);
      return 'continue';
    },
    finish: (compression: Compression) => compression,
    corrupt: CORRUPT,
    ...overrides,
  };
}

async function expect400(body: Body, options: TarWalkOptions<unknown>, message: string) {
  await assert.rejects(walkCompressedTar(body.stream, options), (err: unknown) => {
    assert.ok(err instanceof HttpError, String(err));
    assert.deepEqual([err.status, err.message], [400, message]);
    return true;
  });
}

/** Lets the event loop turn `n` times: no clock involved. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('walkCompressedTar', () => {
  it('hands every entry over in order, plain or compressed, whatever the chunking', async () => {
    const tar = await tarOf({ a: 'first', b: 'x'.repeat(100_000), c: 'third' });
    for (const [bytes, compression] of [
      [tar, 'tar'],
      [gzipSync(tar), 'gz'],
    ] as const) {
      for (const chunkBytes of [1, 261, 262, 65536]) {
        const seen: string[] = [];
        const body = bodyOf(bytes, chunkBytes);
        assert.equal(await walkCompressedTar(body.stream, listing(seen)), compression);
        assert.deepEqual(seen, ['a:first', 'b:100000', 'c:third']);
        assertDrained(body, bytes.length);
      }
    }
  });

  it('reads no further ahead than its buffers while an entry handler is slow', async () => {
    const bytes = await tarOf({ a: randomBytes(4 * 1024 * 1024), b: 'after' });
    const body = bodyOf(bytes, 64 * 1024);
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let entered = () => {};
    const inA = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const seen: string[] = [];
    const walk = walkCompressedTar(
      body.stream,
      listing(seen, {
        onEntry: async (header, entry) => {
          if (header.name === 'a') {
            entered();
            await gate;
            await drainTarEntry(entry);
          } else {
            seen.push(`${header.name}:${await textOf(entry)}`);
          }
          return 'continue';
        },
      }),
    );
    await inA;
    await turns(50);
    const ahead = body.consumed();
    assert.ok(ahead < 1024 * 1024, `read ${ahead} bytes ahead of a stalled entry`);
    open();
    assert.equal(await walk, 'tar');
    assert.deepEqual(seen, ['b:after']);
    assertDrained(body, bytes.length);
  });

  it('stops decompressing on "stop" but still drains the body', async () => {
    // Incompressible, so the body is long; unpacking it would pass maxUnpackedBytes.
    const bytes = gzipSync(await tarOf({ '+A': 'manifest', big: randomBytes(512 * 1024) }));
    const body = bodyOf(bytes, 1000);
    const seen: string[] = [];
    const result = await walkCompressedTar(
      body.stream,
      listing(seen, {
        maxUnpackedBytes: 64 * 1024,
        onEntry: async (header, entry) => {
          seen.push(`${header.name}:${await textOf(entry)}`);
          return 'stop';
        },
      }),
    );
    assert.equal(result, 'gz');
    assert.deepEqual(seen, ['+A:manifest']);
    assertDrained(body, bytes.length);
  });

  it('answers 400 past maxUnpackedBytes, with the tooLarge error', async () => {
    const bytes = gzipSync(await tarOf({ zeros: Buffer.alloc(1024 * 1024) }));
    const body = bodyOf(bytes);
    await expect400(body, listing([], { maxUnpackedBytes: 64 * 1024 }), 'too large');
    assertDrained(body, bytes.length);
  });

  it('answers 400 with the corrupt message to corrupt and truncated archives', async () => {
    const tar = await tarOf({ a: randomBytes(200_000), b: 'end' });
    const gz = gzipSync(tar);
    const garbage = Buffer.concat([gz.subarray(0, 10), Buffer.alloc(4000, 0xff)]);
    for (const bytes of [garbage, gz.subarray(0, gz.length >> 1), tar.subarray(0, 5000)]) {
      const body = bodyOf(bytes);
      await expect400(body, listing([]), CORRUPT);
      assertDrained(body, bytes.length);
    }
  });

  it('lets accept refuse the head with its own 400, and sees a short body whole', async () => {
    let head: Buffer | undefined;
    const refuse = listing([], {
      accept: (sniffed, h) => {
        head = h;
        throw badRequest(`refused ${String(sniffed)}`);
      },
    });
    const short = bodyOf(Buffer.from('abc'), 1);
    await expect400(short, refuse, 'refused undefined');
    assert.deepEqual(head, Buffer.from('abc'));
    const bytes = await tarOf({ a: randomBytes(10_000) });
    const body = bodyOf(bytes, 100);
    await expect400(body, refuse, 'refused tar');
    assertDrained(body, bytes.length);
  });

  it('passes 400s of onEntry and finish on; other errors become the corrupt 400', async () => {
    const bytes = await tarOf({ a: 'x', b: randomBytes(100_000) });
    const failing = (err: Error) =>
      listing([], {
        onEntry: async () => {
          throw err;
        },
      });
    let body = bodyOf(bytes);
    await expect400(body, failing(badRequest('invalid path')), 'invalid path');
    assertDrained(body, bytes.length);
    body = bodyOf(bytes);
    await expect400(body, failing(new TypeError('a bug')), CORRUPT);
    assertDrained(body, bytes.length);
    body = bodyOf(bytes);
    const finish = () => {
      throw badRequest('no manifest');
    };
    await expect400(body, listing([], { finish }), 'no manifest');
    assertDrained(body, bytes.length);
  });

  it('passes an error of the body itself on, unchanged', async () => {
    const bytes = gzipSync(await tarOf({ a: randomBytes(100_000) }));
    const error = new Error('client went away');
    const body = bodyOf(bytes, 1000, { at: 20_000, error });
    const walk = walkCompressedTar(body.stream, listing([]));
    await assert.rejects(walk, (err: unknown) => err === error);
  });
});
