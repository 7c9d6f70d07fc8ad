/** Container formats a package body can arrive in, named by their file-name suffix. */
export type Compression = 'zst' | 'xz' | 'gz' | 'tar';

/** Bytes `sniffCompression` needs: the ustar magic ends at offset 262. */
export const SNIFF_BYTES = 262;

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const USTAR_MAGIC = Buffer.from('ustar');
const USTAR_OFFSET = 257;

const startsWith = (head: Buffer, magic: Buffer, at = 0): boolean =>
  head.length >= at + magic.length && head.subarray(at, at + magic.length).equals(magic);

/**
 * The compression of a stream from its first bytes (at least SNIFF_BYTES of them, unless the
 * stream is shorter), or undefined when it is none we read (bzip2, lz4, empty…).
 */
export function sniffCompression(head: Buffer): Compression | undefined {
  if (startsWith(head, ZSTD_MAGIC)) return 'zst';
  if (startsWith(head, XZ_MAGIC)) return 'xz';
  if (startsWith(head, GZIP_MAGIC)) return 'gz';
  // Covers POSIX "ustar\0" and GNU "ustar  ": both are plain tar.
  if (startsWith(head, USTAR_MAGIC, USTAR_OFFSET)) return 'tar';
  return undefined;
}
