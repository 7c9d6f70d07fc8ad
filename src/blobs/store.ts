import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Digests } from './digests.js';

/** A body written to the staging area, hashed, not yet visible. */
export interface StagedBlob {
  readonly path: string;
  readonly size: number;
  readonly digests: Digests;
  /** Removes the staging file if it is still there; safe to call twice. */
  discard(): Promise<void>;
}

export interface Promotion {
  /** False when the same bytes were already stored. */
  readonly created: boolean;
  /** Puts the file back into staging (the transaction that referenced it rolled back). */
  undo(): Promise<void>;
}

/** Options for staging a body. */
export interface StageOptions<T> {
  readonly maxBytes: number;
  /** Message of the 413 when the body is over `maxBytes`. */
  readonly tooLargeMessage?: string;
  /**
   * Reads a copy of the same bytes while they are written (a tee with backpressure): package
   * parsers run here. Must consume its stream to the end; a rejection aborts the staging.
   */
  readonly inspect?: (copy: Readable) => Promise<T>;
  /** Extra byte-stream consumers of the tee (e.g. a streaming signer). */
  readonly alsoTo?: readonly ((copy: Readable) => Promise<unknown>)[];
}

/** Bytes addressed by SHA-256. No SQL here: rows live in db/blobs.ts. */
export interface BlobStore {
  stage<T = undefined>(body: Readable, options: StageOptions<T>): Promise<{ staged: StagedBlob; inspected: T }>;
  promote(staged: StagedBlob): Promise<Promotion>;
  open(sha256: string, range?: { start: number; end: number }): Readable;
  exists(sha256: string): Promise<boolean>;
  remove(sha256: string): Promise<void>;
  /** Removes staging files older than `olderThanMs` (all when 0). Returns how many. */
  sweepStaging(olderThanMs: number): Promise<number>;
  /** Lists staging file names (tests and snapshots). */
  listStaging(): Promise<string[]>;
  /** Lists every stored sha256 (tests and the sweeper). */
  listBlobs(): Promise<string[]>;
  /** Writes a probe file; for /readyz. */
  checkWritable(): Promise<void>;
}

/** A stored file to answer with: bytes by range, plus what conditional requests need. */
export interface StoredFile {
  readonly size: number;
  readonly sha256: string;
  readonly lastModifiedMs: number;
  open(range?: { start: number; end: number }): Readable;
}

/** Bytes already in memory (a signature, a small text) as a StoredFile. */
export function memoryFile(bytes: Buffer, lastModifiedMs: number): StoredFile {
  return {
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    lastModifiedMs,
    open: (range) => Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]),
  };
}
