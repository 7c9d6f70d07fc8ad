import type { Knex } from 'knex';
import type { Digests } from '../blobs/digests.js';

export interface BlobRow {
  readonly sha256: string;
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha512: string;
  readonly blake2b: string;
}

/** Every column that references a blob; the sweeper keeps what any of them names. */
const BLOB_REFERENCES: readonly (readonly [table: string, column: string])[] = [
  ['package_files', 'blob_sha256'],
  ['index_files', 'blob_sha256'],
  ['deb_packages', 'blob_sha256'],
  ['deb_uploads', 'blob_sha256'],
  ['deb_tree_files', 'blob_sha256'],
];

/**
 * Inserts the blob row, or touches it. Either way the row is now locked by this transaction,
 * so a concurrent upload of the same bytes waits for our outcome (and the sweeper too).
 */
export async function saveBlob(
  trx: Knex.Transaction,
  blob: { size: number; digests: Digests },
  nowMs: number,
): Promise<void> {
  const d = blob.digests;
  await trx('blobs')
    .insert({
      sha256: d.sha256,
      size: blob.size,
      md5: d.md5,
      sha1: d.sha1,
      sha512: d.sha512,
      blake2b: d.blake2b,
      created_at_ms: nowMs,
      last_used_at_ms: nowMs,
    })
    .onConflict('sha256')
    .merge({ last_used_at_ms: nowMs });
}

export async function findBlob(db: Knex, sha256: string): Promise<BlobRow | undefined> {
  const row = (await db('blobs').where({ sha256 }).first()) as Record<string, unknown> | undefined;
  return row ? toBlobRow(row) : undefined;
}

const toBlobRow = (r: Record<string, unknown>): BlobRow => ({
  sha256: String(r.sha256),
  size: Number(r.size),
  md5: String(r.md5),
  sha1: String(r.sha1),
  sha512: String(r.sha512),
  blake2b: String(r.blake2b),
});

/** Blob rows no column references, untouched since `cutoffMs`. */
export async function listUnreferencedBlobs(db: Knex, cutoffMs: number, limit = 500): Promise<string[]> {
  let q = db('blobs').where('last_used_at_ms', '<', cutoffMs);
  for (const [table, column] of BLOB_REFERENCES) {
    q = q.whereNotExists(db(table).select(db.raw('1')).whereRaw(`??.?? = blobs.sha256`, [table, column]));
  }
  const rows = (await q.limit(limit).select('sha256')) as { sha256: string }[];
  return rows.map((r) => r.sha256);
}

/**
 * Deletes the row if it is still unreferenced and old, holding its lock while `removeFile` runs:
 * an upload of the same bytes waits and then stores the file again.
 */
export async function removeBlobIfUnreferenced(
  db: Knex,
  sha256: string,
  cutoffMs: number,
  removeFile: () => Promise<void>,
): Promise<boolean> {
  return db.transaction(async (trx) => {
    const row = await trx('blobs').where({ sha256 }).where('last_used_at_ms', '<', cutoffMs).forUpdate().first('sha256');
    if (!row) return false;
    for (const [table, column] of BLOB_REFERENCES) {
      if (await trx(table).where(column, sha256).first(column)) return false;
    }
    await removeFile();
    await trx('blobs').where({ sha256 }).delete();
    return true;
  });
}

export async function listBlobShas(db: Knex): Promise<string[]> {
  const rows = (await db('blobs').orderBy('sha256').select('sha256')) as { sha256: string }[];
  return rows.map((r) => r.sha256);
}
