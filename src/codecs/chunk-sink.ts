import type { Readable } from 'node:stream';
import { chunkBuffer } from './tar-entry.js';

/** A streaming parser fed a body chunk by chunk. */
export interface ChunkSink<T> {
  write(chunk: Buffer): Promise<void> | void;
  /** After the last chunk: what the parser learned. */
  end(): Promise<T> | T;
  /** Lets go of decoders and pipelines; called after a failure and once more at the end. */
  abort?(): void;
}

/**
 * Feeds `body` to `sink` and resolves with what `sink.end()` gives. After a failure the rest of
 * `body` is still read to its end, unfed, since the caller tees the same bytes into the blob
 * store and hashes them; then the failure, mapped by `asFailure`, is thrown. Errors of `end()`
 * are mapped too. An error of `body` itself passes as is, and `body` is never destroyed.
 */
export async function feedBody<T>(
  body: Readable,
  sink: ChunkSink<T>,
  asFailure: (err: unknown) => Error,
): Promise<T> {
  let failure: Error | undefined;
  try {
    for await (const chunk of body.iterator({ destroyOnReturn: false })) {
      if (failure) continue; // drain: the caller's other branches still need the bytes
      try {
        await sink.write(chunkBuffer(chunk));
      } catch (err) {
        failure = asFailure(err);
        sink.abort?.();
      }
    }
    if (failure) throw failure;
    try {
      return await sink.end();
    } catch (err) {
      throw asFailure(err);
    }
  } finally {
    sink.abort?.();
  }
}
