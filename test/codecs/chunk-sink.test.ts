import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { feedBody } from '../../src/codecs/chunk-sink.js';
import type { ChunkSink } from '../../src/codecs/chunk-sink.js';

/** Yields `parts` and records how many were taken; never destroyed on its own. */
function body(parts: readonly (string | Buffer)[], failure?: Error) {
  const state = { taken: 0 };
  const stream = new Readable({
    autoDestroy: false,
    objectMode: true,
    read() {
      if (state.taken === parts.length) {
        if (failure) this.destroy(failure);
        else this.push(null);
        return;
      }
      this.push(parts[state.taken++]);
    },
  });
  return { stream, state };
}

/** Keeps what it is fed; fails on the chunk `failOn`. */
function recorder(failOn?: string) {
  const fed: string[] = [];
  let aborts = 0;
  const sink: ChunkSink<string> = {
    write: async (chunk) => {
      assert.ok(Buffer.isBuffer(chunk));
      if (chunk.toString() === failOn) throw new Error(`bad ${failOn}`);
      fed.push(chunk.toString());
    },
    end: () => fed.join(''),
    abort: () => {
      aborts++;
    },
  };
  return { sink, fed, aborts: () => aborts };
}

const wrap = (err: unknown) => new Error(`mapped: ${(err as Error).message}`);

describe('feedBody', () => {
  it('feeds every chunk as a Buffer and resolves with what end() gives', async () => {
    const { stream, state } = body(['ab', Buffer.from('cd'), 'ef']);
    const { sink, aborts } = recorder();
    assert.equal(await feedBody(stream, sink, wrap), 'abcdef');
    assert.equal(state.taken, 3);
    assert.equal(aborts(), 1, 'abort once at the end');
  });

  it('after a failure, reads the rest unfed, then throws the mapped failure', async () => {
    const { stream, state } = body(['a', 'b', 'c', 'd']);
    const { sink, fed, aborts } = recorder('b');
    await assert.rejects(feedBody(stream, sink, wrap), { message: 'mapped: bad b' });
    assert.deepEqual(fed, ['a']);
    assert.equal(state.taken, 4);
    assert.deepEqual([stream.readableEnded, stream.destroyed], [true, false]);
    assert.equal(aborts(), 2, 'abort at the failure and at the end');
  });

  it('maps a failure of end() too', async () => {
    const { stream } = body(['a']);
    const sink: ChunkSink<never> = {
      write: () => {},
      end: () => {
        throw new Error('no manifest');
      },
    };
    await assert.rejects(feedBody(stream, sink, wrap), { message: 'mapped: no manifest' });
  });

  it('passes an error of the body itself on, unchanged and unmapped', async () => {
    const error = new Error('client went away');
    const { stream } = body(['a', 'b'], error);
    const { sink, aborts } = recorder();
    await assert.rejects(feedBody(stream, sink, wrap), (err: unknown) => err === error);
    assert.equal(aborts(), 1);
  });

  it('stops reading at once when the mapping itself throws', async () => {
    const { stream } = body(['a', 'b', 'c', 'd']);
    const { sink, fed } = recorder('b');
    const rethrow = (err: unknown): Error => {
      throw err;
    };
    await assert.rejects(feedBody(stream, sink, rethrow), { message: 'bad b' });
    assert.deepEqual(fed, ['a']);
    assert.deepEqual([stream.readableEnded, stream.destroyed], [false, false], 'left unread, open');
  });
});
