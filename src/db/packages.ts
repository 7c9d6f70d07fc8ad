import type { Knex } from 'knex';

/** One uploaded file and everything its indexes need, rendered at upload time. */
export interface PackageFileRow {
  readonly id: number;
  readonly repositoryId: number;
  readonly versionId: number | null;
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly fileName: string;
  readonly sha256: string;
  readonly size: number;
  readonly signature: Buffer | null;
  readonly metadata: string;
  readonly indexText: string;
  readonly uploaderId: number | null;
  readonly uploaderLogin: string | null;
  readonly createdAtMs: number;
}

export type NewPackageFile = Omit<PackageFileRow, 'id'> & {
  readonly indexMember: Buffer | null;
  readonly indexMemberFull: Buffer | null;
};

// The members can be large; they are read only when an index is spliced.
const ROW_COLUMNS = [
  'id',
  'repository_id',
  'version_id',
  'name',
  'version',
  'architecture',
  'file_name',
  'blob_sha256',
  'size',
  'signature',
  'metadata',
  'index_text',
  'uploader_id',
  'uploader_login',
  'created_at_ms',
];

const toRow = (r: Record<string, unknown>): PackageFileRow => ({
  id: Number(r.id),
  repositoryId: Number(r.repository_id),
  versionId: r.version_id === null || r.version_id === undefined ? null : Number(r.version_id),
  name: String(r.name),
  version: String(r.version),
  architecture: String(r.architecture),
  fileName: String(r.file_name),
  sha256: String(r.blob_sha256),
  size: Number(r.size),
  signature: r.signature ? Buffer.from(r.signature as Uint8Array) : null,
  metadata: String(r.metadata),
  indexText: String(r.index_text),
  uploaderId: r.uploader_id === null || r.uploader_id === undefined ? null : Number(r.uploader_id),
  uploaderLogin: r.uploader_login === null || r.uploader_login === undefined ? null : String(r.uploader_login),
  createdAtMs: Number(r.created_at_ms),
});

/** Case-insensitive file lookup within one repository. */
export async function findPackageFile(
  db: Knex,
  repositoryId: number,
  fileName: string,
): Promise<PackageFileRow | undefined> {
  const r = (await db('package_files')
    .where({ repository_id: repositoryId, lower_file_name: fileName.toLowerCase() })
    .first(ROW_COLUMNS)) as Record<string, unknown> | undefined;
  return r ? toRow(r) : undefined;
}

export async function getPackageFiles(db: Knex, ids: readonly number[]): Promise<PackageFileRow[]> {
  if (ids.length === 0) return [];
  const rows = (await db('package_files').whereIn('id', ids).select(ROW_COLUMNS)) as Record<string, unknown>[];
  return rows.map(toRow);
}

export async function listPackageFiles(db: Knex, repositoryId: number): Promise<PackageFileRow[]> {
  const rows = (await db('package_files').where({ repository_id: repositoryId }).orderBy('id').select(ROW_COLUMNS)) as Record<
    string,
    unknown
  >[];
  return rows.map(toRow);
}

/** The ready-made index members of some files, by id. */
export async function listIndexMembers(
  db: Knex,
  ids: readonly number[],
): Promise<Map<number, { member: Buffer; full: Buffer }>> {
  const out = new Map<number, { member: Buffer; full: Buffer }>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await db('package_files')
      .whereIn('id', ids.slice(i, i + 500))
      .select('id', 'index_member', 'index_member_full')) as Record<string, unknown>[];
    for (const r of rows) {
      out.set(Number(r.id), {
        member: Buffer.from((r.index_member as Uint8Array | null) ?? []),
        full: Buffer.from((r.index_member_full as Uint8Array | null) ?? []),
      });
    }
  }
  return out;
}

export async function savePackageFile(trx: Knex.Transaction, f: NewPackageFile): Promise<number> {
  const [id] = await trx('package_files').insert({
    repository_id: f.repositoryId,
    version_id: f.versionId,
    name: f.name,
    lower_name: f.name.toLowerCase(),
    version: f.version,
    architecture: f.architecture,
    file_name: f.fileName,
    lower_file_name: f.fileName.toLowerCase(),
    blob_sha256: f.sha256,
    size: f.size,
    signature: f.signature,
    metadata: f.metadata,
    index_text: f.indexText,
    index_member: f.indexMember,
    index_member_full: f.indexMemberFull,
    uploader_id: f.uploaderId,
    uploader_login: f.uploaderLogin,
    created_at_ms: f.createdAtMs,
  });
  return Number(id);
}

export async function removePackageFiles(trx: Knex.Transaction, ids: readonly number[]): Promise<void> {
  if (ids.length) await trx('package_files').whereIn('id', ids).delete();
}

export async function removeRepositoryFiles(trx: Knex.Transaction, repositoryId: number): Promise<void> {
  await trx('package_files').where({ repository_id: repositoryId }).delete();
}

export interface VersionKey {
  readonly ownerId: number;
  readonly type: string;
  readonly name: string;
  readonly version: string;
}

const versionWhere = (k: VersionKey) => ({
  owner_id: k.ownerId,
  type: k.type,
  lower_name: k.name.toLowerCase(),
  lower_version: k.version.toLowerCase(),
});

export async function findVersionId(db: Knex, key: VersionKey): Promise<number | undefined> {
  const r = (await db('package_versions').where(versionWhere(key)).first('id')) as { id: number | string } | undefined;
  return r ? Number(r.id) : undefined;
}

/**
 * Versions are shared by all repositories of an owner: insert-if-absent, then lock it, so a
 * concurrent delete of its last file elsewhere either finishes first (we insert anew) or waits.
 */
export async function saveVersion(trx: Knex.Transaction, key: VersionKey, nowMs: number): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await trx('package_versions')
      .insert({ ...versionWhere(key), created_at_ms: nowMs })
      .onConflict(['owner_id', 'type', 'lower_name', 'lower_version'])
      .ignore();
    const r = (await trx('package_versions').where(versionWhere(key)).forUpdate().first('id')) as
      | { id: number | string }
      | undefined;
    if (r) return Number(r.id);
  }
  throw new Error('package version could not be created');
}

/** Deletes the version once no file of any repository uses it. Locks it first. */
export async function removeVersionIfUnused(trx: Knex.Transaction, versionId: number): Promise<void> {
  await trx('package_versions').where({ id: versionId }).forUpdate().first('id');
  const used = await trx('package_files').where({ version_id: versionId }).first('id');
  if (!used) await trx('package_versions').where({ id: versionId }).delete();
}
