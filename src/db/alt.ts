import type { Knex } from 'knex';

/** The publish time of one Alt index (group, arch); it outlives the index's files. */
export interface AltIndexRow {
  readonly repositoryId: number;
  readonly arch: string;
  readonly lastModifiedMs: number;
}

export async function findAltIndex(db: Knex, repositoryId: number, arch: string): Promise<AltIndexRow | undefined> {
  const r = (await db('alt_indexes').where({ repository_id: repositoryId, arch }).first('last_modified_ms')) as
    | { last_modified_ms: number | string }
    | undefined;
  return r ? { repositoryId, arch, lastModifiedMs: Number(r.last_modified_ms) } : undefined;
}

export async function saveAltIndex(trx: Knex.Transaction, row: AltIndexRow): Promise<void> {
  await trx('alt_indexes')
    .insert({ repository_id: row.repositoryId, arch: row.arch, last_modified_ms: row.lastModifiedMs })
    .onConflict(['repository_id', 'arch'])
    .merge(['last_modified_ms']);
}

/** Ids of one arch's files in a repository, in upload order: the order of its pkglist. */
export async function listArchFileIds(db: Knex, repositoryId: number, arch: string): Promise<number[]> {
  const rows = (await db('package_files')
    .where({ repository_id: repositoryId, architecture: arch })
    .orderBy('id')
    .select('id')) as { id: number | string }[];
  return rows.map((r) => Number(r.id));
}

/** The stored pkglist entries of some files, in the order of `ids`, a batch at a time. */
export async function* listPkglistEntries(db: Knex, ids: readonly number[], batch = 200): AsyncGenerator<Buffer> {
  for (let i = 0; i < ids.length; i += batch) {
    const slice = ids.slice(i, i + batch);
    const rows = (await db('package_files').whereIn('id', slice).select('id', 'index_member')) as {
      id: number | string;
      index_member: Uint8Array | null;
    }[];
    const byId = new Map(rows.map((r) => [Number(r.id), r.index_member]));
    for (const id of slice) {
      const entry = byId.get(id);
      if (!entry) throw new Error(`package file ${id} has no pkglist entry`);
      yield Buffer.from(entry);
    }
  }
}
