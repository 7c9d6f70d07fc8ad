import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface Digests {
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
  readonly sha512: string;
  readonly blake2b: string;
}

const ALGORITHMS = { md5: 'md5', sha1: 'sha1', sha256: 'sha256', sha512: 'sha512', blake2b: 'blake2b512' } as const;

/** A pass-through that counts bytes and computes every digest the formats need, in one pass. */
export class MultiHash extends Transform {
  size = 0;
  private readonly hashes: Record<keyof Digests, Hash>;

  constructor() {
    super();
    this.hashes = {
      md5: createHash(ALGORITHMS.md5),
      sha1: createHash(ALGORITHMS.sha1),
      sha256: createHash(ALGORITHMS.sha256),
      sha512: createHash(ALGORITHMS.sha512),
      blake2b: createHash(ALGORITHMS.blake2b),
    };
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    for (const h of Object.values(this.hashes)) h.update(chunk);
    done(null, chunk);
  }

  digests(): Digests {
    return {
      md5: this.hashes.md5.digest('hex'),
      sha1: this.hashes.sha1.digest('hex'),
      sha256: this.hashes.sha256.digest('hex'),
      sha512: this.hashes.sha512.digest('hex'),
      blake2b: this.hashes.blake2b.digest('hex'),
    };
  }
}
