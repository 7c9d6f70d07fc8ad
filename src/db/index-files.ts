import type { Knex } from 'knex';

export interface IndexFileRow {
  readonly repositoryId: number;
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly lastModifiedMs: number;
}

const toRow = (r: Record<string, unknown>): IndexFileRow => ({
  repositoryId: Number(r.repository_id),
  path: String(r.path),
  sha256: String(r.blob_sha256),
  size: Number(r.size),
  lastModifiedMs: Number(r.last_modified_ms),
});

export async function findIndexFile(
  db: Knex,
  repositoryId: number,
  path: string,
): Promise<IndexFileRow | undefined> {
  const row = (await db('index_files').where({ repository_id: repositoryId, path }).first()) as
    | Record<string, unknown>
    | undefined;
  return row ? toRow(row) : undefined;
}

export async function listIndexFiles(db: Knex, repositoryId: number): Promise<IndexFileRow[]> {
  const rows = (await db('index_files').where({ repository_id: repositoryId }).orderBy('path')) as Record<
    string,
    unknown
  >[];
  return rows.map(toRow);
}

/** Points `path` at a new blob: readers see the old file or the new one, never a mix. */
export async function saveIndexFile(trx: Knex.Transaction, row: IndexFileRow): Promise<void> {
  await trx('index_files')
    .insert({
      repository_id: row.repositoryId,
      path: row.path,
      blob_sha256: row.sha256,
      size: row.size,
      last_modified_ms: row.lastModifiedMs,
    })
    .onConflict(['repository_id', 'path'])
    .merge(['blob_sha256', 'size', 'last_modified_ms']);
}

export async function removeIndexFiles(
  trx: Knex.Transaction,
  repositoryId: number,
  paths?: readonly string[],
): Promise<void> {
  const q = trx('index_files').where({ repository_id: repositoryId });
  await (paths ? q.whereIn('path', paths) : q).delete();
}
