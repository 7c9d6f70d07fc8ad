import type { Duplex } from 'node:stream';
import { createGzip } from 'node:zlib';
import lzma from 'lzma-native';

/**
 * Compressors for generated index files (Packages.xz, pkglist.classic.xz, ...). Output depends
 * on the input only (gzip: mtime 0, no name; xz: fixed preset and CRC64), so a full rebuild
 * reproduces the stored bytes.
 */
export function compressor(kind: 'gz' | 'xz'): Duplex {
  if (kind === 'gz') return createGzip({ level: 9 });
  return lzma.createCompressor({ preset: 6, check: lzma.CHECK_CRC64, threads: 1 });
}

/** Compresses bytes already in memory. */
export async function compressBytes(kind: 'gz' | 'xz', data: Uint8Array): Promise<Buffer> {
  const c = compressor(kind);
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    c.on('data', (chunk: Buffer) => chunks.push(chunk));
    c.on('end', resolve);
    c.on('error', reject);
  });
  c.end(data);
  await done;
  return Buffer.concat(chunks);
}
