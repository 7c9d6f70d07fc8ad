import type { Knex } from 'knex';
import type { IndexFileRow } from './index-files.js';

// FreeBSD packages live in the shared `package_files` table (freebsd.md §4):
//   architecture     = the manifest's `abi`, lower-cased (what views and overlap compare)
//   file_name        = `<abi>/<name>-<version>.pkg`, so ABI variants of one version coexist
//                      under the table's unique (repository, lower_file_name)
//   index_text       = the catalogue entry, one line of JSON
//   metadata         = FreeBsdMetadata as JSON
// Catalogue files are `index_files` rows; every row of a repository carries its catalogue time.

/** Package facts the JSON listings show, beyond the shared columns. */
export interface FreeBsdMetadata {
  readonly abi: string;
  readonly origin: string;
  readonly comment: string;
  readonly filename: string;
}

export interface FreeBsdPackageRow {
  readonly id: number;
  readonly name: string;
  readonly version: string;
  readonly abiKey: string;
  readonly size: number;
  readonly sha256: string;
  readonly metadata: FreeBsdMetadata;
  readonly createdAtMs: number;
}

const COLUMNS = ['id', 'name', 'version', 'architecture', 'size', 'blob_sha256', 'metadata', 'created_at_ms'];

const toRow = (r: Record<string, unknown>): FreeBsdPackageRow => ({
  id: Number(r.id),
  name: String(r.name),
  version: String(r.version),
  abiKey: String(r.architecture),
  size: Number(r.size),
  sha256: String(r.blob_sha256),
  metadata: JSON.parse(String(r.metadata)) as FreeBsdMetadata,
  createdAtMs: Number(r.created_at_ms),
});

/** The stored file name of a package: unique per repository, case-insensitively. */
export const freeBsdFileKey = (abiKey: string, fileName: string): string => `${abiKey}/${fileName}`;

/** Every package of a repository, in id order. */
export async function listFreeBsdPackages(db: Knex, repositoryId: number): Promise<FreeBsdPackageRow[]> {
  const rows = (await db('package_files').where({ repository_id: repositoryId }).orderBy('id').select(COLUMNS)) as Record<
    string,
    unknown
  >[];
  return rows.map(toRow);
}

/** Packages of one name in a repository, any case: the overlap check reads these under the lock. */
export async function listFreeBsdPackagesNamed(
  db: Knex,
  repositoryId: number,
  name: string,
): Promise<FreeBsdPackageRow[]> {
  const rows = (await db('package_files')
    .where({ repository_id: repositoryId, lower_name: name.toLowerCase() })
    .orderBy('id')
    .select(COLUMNS)) as Record<string, unknown>[];
  return rows.map(toRow);
}

/** The package stored under one of these file keys (compared case-insensitively), if any. */
export async function findFreeBsdFile(
  db: Knex,
  repositoryId: number,
  fileKeys: readonly string[],
): Promise<FreeBsdPackageRow | undefined> {
  const r = (await db('package_files')
    .where({ repository_id: repositoryId })
    .whereIn(
      'lower_file_name',
      fileKeys.map((k) => k.toLowerCase()),
    )
    .orderBy('id')
    .first(COLUMNS)) as Record<string, unknown> | undefined;
  return r ? toRow(r) : undefined;
}

/** The distinct lower-cased ABIs of a repository's packages. */
export async function listFreeBsdAbis(db: Knex, repositoryId: number): Promise<string[]> {
  const rows = (await db('package_files').where({ repository_id: repositoryId }).distinct('architecture')) as {
    architecture: string;
  }[];
  return rows.map((r) => r.architecture);
}

/**
 * Ids of the packages with one of these ABIs, in catalogue order: name, version, ABI in byte
 * order (binary collation on MySQL, BINARY on SQLite), id last.
 */
export async function listCatalogueIds(db: Knex, repositoryId: number, abiKeys: readonly string[]): Promise<number[]> {
  const rows = (await db('package_files')
    .where({ repository_id: repositoryId })
    .whereIn('architecture', abiKeys)
    .orderBy([
      { column: 'name', order: 'asc' },
      { column: 'version', order: 'asc' },
      { column: 'architecture', order: 'asc' },
      { column: 'id', order: 'asc' },
    ])
    .select('id')) as { id: number | string }[];
  return rows.map((r) => Number(r.id));
}

const ENTRY_BATCH = 500;

/** The stored catalogue entries of these packages, in the given order, read in batches. */
export async function* readCatalogueEntries(db: Knex, ids: readonly number[]): AsyncGenerator<string> {
  for (let i = 0; i < ids.length; i += ENTRY_BATCH) {
    const batch = ids.slice(i, i + ENTRY_BATCH);
    const rows = (await db('package_files').whereIn('id', batch).select('id', 'index_text')) as {
      id: number | string;
      index_text: string;
    }[];
    const byId = new Map(rows.map((r) => [Number(r.id), String(r.index_text)]));
    for (const id of batch) {
      const entry = byId.get(id);
      if (entry === undefined) throw new Error(`catalogue entry ${id} vanished`);
      yield entry;
    }
  }
}

/** Sets the catalogue time of every generated file of a repository (freebsd.md §7.1). */
export async function touchIndexFiles(trx: Knex.Transaction, repositoryId: number, lastModifiedMs: number): Promise<void> {
  await trx('index_files').where({ repository_id: repositoryId }).update({ last_modified_ms: lastModifiedMs });
}

/** Packages per repository of one owner and type, in one query. */
export async function countFreeBsdPackages(
  db: Knex,
  repositoryIds: readonly number[],
): Promise<Map<number, number>> {
  if (repositoryIds.length === 0) return new Map();
  const rows = (await db('package_files')
    .whereIn('repository_id', repositoryIds)
    .groupBy('repository_id')
    .select('repository_id')
    .count({ n: '*' })) as { repository_id: number | string; n: number | string }[];
  return new Map(rows.map((r) => [Number(r.repository_id), Number(r.n)]));
}

export interface FreeBsdRepositoryRow {
  readonly id: number;
  readonly name: string;
  /** The catalogue time: `meta.conf`'s row; absent until the first change committed. */
  readonly lastModifiedMs: number | undefined;
}

/** An owner's repositories of a type with their catalogue times, by name in byte order. */
export async function listFreeBsdRepositories(
  db: Knex,
  type: string,
  ownerId: number,
  metaPath: string,
): Promise<FreeBsdRepositoryRow[]> {
  const rows = (await db('repositories as r')
    .leftJoin('index_files as i', function () {
      this.on('i.repository_id', '=', 'r.id').andOn('i.path', '=', db.raw('?', [metaPath]));
    })
    .where({ 'r.type': type, 'r.owner_id': ownerId })
    .orderBy('r.name')
    .select('r.id', 'r.name', 'i.last_modified_ms')) as {
    id: number | string;
    name: string;
    last_modified_ms: number | string | null;
  }[];
  return rows.map((r) => ({
    id: Number(r.id),
    name: String(r.name),
    lastModifiedMs: r.last_modified_ms === null ? undefined : Number(r.last_modified_ms),
  }));
}

/** The generated files at some paths of a repository, read in one statement (one snapshot). */
export async function listIndexFilesAt(db: Knex, repositoryId: number, paths: readonly string[]): Promise<IndexFileRow[]> {
  const rows = (await db('index_files').where({ repository_id: repositoryId }).whereIn('path', paths)) as Record<
    string,
    unknown
  >[];
  return rows.map((r) => ({
    repositoryId: Number(r.repository_id),
    path: String(r.path),
    sha256: String(r.blob_sha256),
    size: Number(r.size),
    lastModifiedMs: Number(r.last_modified_ms),
  }));
}
