import type { Knex } from 'knex';
import type { BlobStore, StoredFile } from '../blobs/store.js';
import { findIndexFile } from '../db/index-files.js';

/** A published index file of a repository, ready for sendFile, or undefined. */
export async function findPublishedFile(
  db: Knex,
  blobs: BlobStore,
  repositoryId: number,
  path: string,
): Promise<StoredFile | undefined> {
  const f = await findIndexFile(db, repositoryId, path);
  if (!f) return undefined;
  return {
    size: f.size,
    sha256: f.sha256,
    lastModifiedMs: f.lastModifiedMs,
    open: (range) => blobs.open(f.sha256, range),
  };
}
