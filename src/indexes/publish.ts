import { Readable } from 'node:stream';
import type { BlobStore } from '../blobs/store.js';
import { saveBlob } from '../db/blobs.js';
import { saveIndexFile } from '../db/index-files.js';
import type { RepositoryLock } from '../db/locks.js';

/** No index file comes close; the limit only guards against a runaway generator. */
const MAX_INDEX_BYTES = 64 * 1024 ** 3;

export interface PublishedFile {
  readonly sha256: string;
  readonly size: number;
}

/**
 * Stores `content` as a blob and points `path` of the locked repository at it. Runs inside the
 * repository lock; if the transaction does not commit, the blob file goes back and is removed.
 */
export async function publishIndexFile(
  lock: RepositoryLock,
  blobs: BlobStore,
  file: {
    path: string;
    content: Buffer | Readable;
    lastModifiedMs: number;
    nowMs: number;
    /** Readers of the same bytes while they are stored (a streaming signer). */
    alsoTo?: readonly ((copy: Readable) => Promise<unknown>)[];
  },
): Promise<PublishedFile> {
  const body = Buffer.isBuffer(file.content) ? Readable.from([file.content]) : file.content;
  const { staged } = await blobs.stage(body, { maxBytes: MAX_INDEX_BYTES, alsoTo: file.alsoTo ?? [] });
  try {
    await saveBlob(lock.trx, staged, file.nowMs);
    const promoted = await blobs.promote(staged);
    lock.onRollback(async () => {
      await promoted.undo();
      await staged.discard();
    });
    await saveIndexFile(lock.trx, {
      repositoryId: lock.repositoryId,
      path: file.path,
      sha256: staged.digests.sha256,
      size: staged.size,
      lastModifiedMs: file.lastModifiedMs,
    });
    return { sha256: staged.digests.sha256, size: staged.size };
  } finally {
    await staged.discard(); // a no-op once promoted
  }
}

/** `max(now, previous + 1 s)` in whole seconds: clients compare Last-Modified at 1 s resolution. */
export function nextLastModifiedMs(previousMs: number | undefined, nowMs: number): number {
  const now = Math.floor(nowMs / 1000) * 1000;
  return previousMs === undefined ? now : Math.max(now, Math.floor(previousMs / 1000) * 1000 + 1000);
}
