import type { Knex } from 'knex';

/** Entry of a database manifest: one package's members, in archive order. */
export interface ManifestEntry {
  readonly name: string;
  readonly dir: string;
  readonly fileId: number;
  readonly dbLen: number;
  readonly filesLen: number;
}

export interface PacmanDbRow {
  readonly id: number;
  readonly repositoryId: number;
  readonly arch: string;
  readonly manifest: readonly ManifestEntry[];
  readonly lastModifiedMs: number;
}

const toDb = (r: Record<string, unknown>): PacmanDbRow => ({
  id: Number(r.id),
  repositoryId: Number(r.repository_id),
  arch: String(r.arch),
  manifest: JSON.parse(String(r.manifest)) as ManifestEntry[],
  lastModifiedMs: Number(r.last_modified_ms),
});

export async function findPacmanDb(db: Knex, repositoryId: number, arch: string): Promise<PacmanDbRow | undefined> {
  const r = (await db('pacman_dbs').where({ repository_id: repositoryId, arch }).first()) as
    | Record<string, unknown>
    | undefined;
  return r ? toDb(r) : undefined;
}

/** Every database of a repository, by arch in byte order. */
export async function listPacmanDbs(db: Knex, repositoryId: number): Promise<PacmanDbRow[]> {
  const rows = (await db('pacman_dbs').where({ repository_id: repositoryId }).select()) as Record<string, unknown>[];
  return rows.map(toDb).sort((a, b) => Buffer.compare(Buffer.from(a.arch), Buffer.from(b.arch)));
}

export async function savePacmanDb(
  trx: Knex.Transaction,
  row: Omit<PacmanDbRow, 'id'> & { id?: number },
): Promise<number> {
  const values = {
    manifest: JSON.stringify(row.manifest),
    last_modified_ms: row.lastModifiedMs,
  };
  if (row.id !== undefined) {
    await trx('pacman_dbs').where({ id: row.id }).update(values);
    return row.id;
  }
  const [id] = await trx('pacman_dbs').insert({ repository_id: row.repositoryId, arch: row.arch, ...values });
  return Number(id);
}

export async function removePacmanDb(trx: Knex.Transaction, id: number): Promise<void> {
  await trx('pacman_vieter_entries').where({ db_id: id }).delete();
  await trx('pacman_dbs').where({ id }).delete();
}

/**
 * Forgejo's selection for one name in database `arch` (pacman.md §4.5): newest-created version
 * with a file for `arch` or `any` in this group; within it the earliest `arch` file beats `any`.
 */
export async function selectArchFile(
  trx: Knex.Transaction,
  repositoryId: number,
  lowerName: string,
  arch: string,
): Promise<number | undefined> {
  const archs = arch === 'any' ? ['any'] : [arch, 'any'];
  const r = (await trx('package_files')
    .where({ repository_id: repositoryId, lower_name: lowerName })
    .whereIn('architecture', archs)
    .orderBy([
      { column: 'version_id', order: 'desc' },
      { column: trx.raw('case when architecture = ? then 0 else 1 end', [arch]) as unknown as string, order: 'asc' },
      { column: 'id', order: 'asc' },
    ])
    .first('id')) as { id: number | string } | undefined;
  return r ? Number(r.id) : undefined;
}

/** Lower-cased names of the files in a repository for some architectures. */
export async function listNamesForArchs(
  trx: Knex.Transaction,
  repositoryId: number,
  archs: readonly string[],
): Promise<string[]> {
  const rows = (await trx('package_files')
    .where({ repository_id: repositoryId })
    .whereIn('architecture', archs)
    .distinct('lower_name')) as { lower_name: string }[];
  return rows.map((r) => r.lower_name);
}

/** Forgejo delete: files of one version in one group whose name ends `-{arch}.pkg.tar.*`. */
export async function listVersionFilesForArch(
  trx: Knex.Transaction,
  repositoryId: number,
  versionId: number,
  arch: string,
): Promise<{ id: number; lowerName: string }[]> {
  const rows = (await trx('package_files')
    .where({ repository_id: repositoryId, version_id: versionId })
    .select('id', 'lower_name', 'lower_file_name')) as { id: number; lower_name: string; lower_file_name: string }[];
  const suffix = `-${arch.toLowerCase()}.pkg.tar.`;
  return rows
    .filter((r) => {
      const at = r.lower_file_name.lastIndexOf(suffix);
      return at >= 0 && !r.lower_file_name.slice(at + suffix.length).includes('/');
    })
    .map((r) => ({ id: Number(r.id), lowerName: r.lower_name }));
}

// Vieter membership

export interface VieterEntryRow {
  readonly dbId: number;
  readonly name: string;
  readonly fileId: number;
}

export async function listVieterEntries(db: Knex, dbIds: readonly number[]): Promise<VieterEntryRow[]> {
  if (dbIds.length === 0) return [];
  const rows = (await db('pacman_vieter_entries').whereIn('db_id', dbIds).select('db_id', 'name', 'file_id')) as Record<
    string,
    unknown
  >[];
  return rows.map((r) => ({ dbId: Number(r.db_id), name: String(r.name), fileId: Number(r.file_id) }));
}

export async function saveVieterEntry(trx: Knex.Transaction, e: VieterEntryRow): Promise<void> {
  await trx('pacman_vieter_entries')
    .insert({ db_id: e.dbId, name: e.name, file_id: e.fileId })
    .onConflict(['db_id', 'name'])
    .merge(['file_id']);
}

export async function removeVieterEntry(trx: Knex.Transaction, dbId: number, name: string): Promise<void> {
  await trx('pacman_vieter_entries').where({ db_id: dbId, name }).delete();
}

/** Files of a repository that no Vieter entry references any more. */
export async function listUnreferencedVieterFiles(trx: Knex.Transaction, repositoryId: number): Promise<number[]> {
  const rows = (await trx('package_files')
    .where({ repository_id: repositoryId })
    .whereNotExists(trx('pacman_vieter_entries').select(trx.raw('1')).whereRaw('pacman_vieter_entries.file_id = package_files.id'))
    .select('id')) as { id: number | string }[];
  return rows.map((r) => Number(r.id));
}
