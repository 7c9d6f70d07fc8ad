import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes bytes through and fails with `tooMany()` once more than `maxBytes` went by: upload
 * size limits, and the bound on what a small compression bomb may unpack to.
 */
export function byteLimit(maxBytes: number, tooMany: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) done(tooMany());
      else done(null, chunk);
    },
  });
}
