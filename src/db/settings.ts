import type { Knex } from 'knex';

export async function findSetting(db: Knex, name: string): Promise<string | undefined> {
  const row = (await db('settings').where({ name }).first('value')) as { value: string } | undefined;
  return row?.value;
}

/** Insert-if-absent, then read back: racing replicas agree on the first value written. */
export async function saveSettingIfAbsent(db: Knex, name: string, value: string): Promise<string> {
  await db('settings').insert({ name, value }).onConflict('name').ignore();
  return (await findSetting(db, name)) ?? value;
}

export async function saveSetting(db: Knex, name: string, value: string): Promise<void> {
  await db('settings').insert({ name, value }).onConflict('name').merge(['value']);
}
