import type { Knex } from 'knex';

/** Standalone mode: owners are local names with local ids. */
export async function findLocalOwnerId(db: Knex, lowerName: string): Promise<number | undefined> {
  const row = (await db('local_owners').where({ lower_name: lowerName }).first('id')) as
    | { id: number | string }
    | undefined;
  return row ? Number(row.id) : undefined;
}

export async function saveLocalOwner(db: Knex, lowerName: string, nowMs: number): Promise<number> {
  await db('local_owners').insert({ lower_name: lowerName, created_at_ms: nowMs }).onConflict('lower_name').ignore();
  const id = await findLocalOwnerId(db, lowerName);
  if (id === undefined) throw new Error('local owner vanished after insert');
  return id;
}
