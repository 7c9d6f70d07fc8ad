import type { PassThrough } from 'node:stream';
import type { ExtractEvents } from 'tar-stream';

/** One tar entry's body, as tar-stream's extractor hands it out (a streamx Readable). */
export type TarEntry = ExtractEvents['entry'][1];

/** A stream chunk as a Buffer, whatever the stream yields. */
export const chunkBuffer = (chunk: unknown): Buffer =>
  Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);

/**
 * An entry's whole body. Rejects with `cutShort` when the archive is destroyed before the
 * entry ends (its pipeline reports why), and with the entry's own error otherwise.
 */
export async function readTarEntry(entry: TarEntry, cutShort: () => Error): Promise<Buffer> {
  const parts: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    entry.on('data', (part: unknown) => parts.push(chunkBuffer(part)));
    entry.on('end', resolve);
    entry.on('error', reject);
    entry.on('close', () => reject(cutShort())); // after `end` this changes nothing
  });
  return Buffer.concat(parts);
}

/** Reads an entry's body to its end without keeping it. */
export function drainTarEntry(entry: TarEntry): Promise<void> {
  return new Promise((resolve, reject) => {
    entry.on('end', resolve);
    entry.on('error', reject);
    entry.on('close', resolve); // destroyed with the archive: the pipeline reports why
    entry.resume();
  });
}

/** Resolves once `stream` can take more, or has closed (its pipeline then tells why). */
export const whenWritable = (stream: PassThrough): Promise<void> =>
  new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
