import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import type { ZlibOptions } from 'node:zlib';

// zlib's own gzip header has mtime 0 and no file name, so a member depends on its input only.
const OPTIONS: ZlibOptions = { level: 9 };
const gzipAsync = promisify(gzip);

/** One deterministic gzip member (mtime 0, no name) holding `data`. */
export async function gzipMember(data: Uint8Array): Promise<Buffer> {
  return gzipAsync(data, OPTIONS);
}

/** gzipMember for small constants built at load time. */
export function gzipMemberSync(data: Uint8Array): Buffer {
  return gzipSync(data, OPTIONS);
}
