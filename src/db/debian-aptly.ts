import type { Knex } from 'knex';
import { getPackages, type DebPackageRow } from './debian.js';
import { isUniqueViolation } from './dialect.js';

// aptly's objects (debian.md §7): local repos, snapshots, upload dirs, tasks. Per owner.

// ---------------------------------------------------------------- repos

export interface RepoRow {
  readonly id: number;
  readonly ownerId: number;
  readonly name: string;
  readonly comment: string;
  readonly defaultDistribution: string;
  readonly defaultComponent: string;
  readonly createdAtMs: number;
}

const toRepo = (r: Record<string, unknown>): RepoRow => ({
  id: Number(r.id),
  ownerId: Number(r.owner_id),
  name: String(r.name),
  comment: String(r.comment),
  defaultDistribution: String(r.default_distribution),
  defaultComponent: String(r.default_component),
  createdAtMs: Number(r.created_at_ms),
});

export async function findRepo(db: Knex, ownerId: number, name: string): Promise<RepoRow | undefined> {
  const r = (await db('deb_repos').where({ owner_id: ownerId, name }).first()) as Record<string, unknown> | undefined;
  return r ? toRepo(r) : undefined;
}

export async function getRepo(db: Knex, id: number): Promise<RepoRow | undefined> {
  const r = (await db('deb_repos').where({ id }).first()) as Record<string, unknown> | undefined;
  return r ? toRepo(r) : undefined;
}

export async function listRepos(db: Knex, ownerId: number): Promise<RepoRow[]> {
  const rows = (await db('deb_repos').where({ owner_id: ownerId }).select()) as Record<string, unknown>[];
  return rows.map(toRepo);
}

export async function saveRepo(trx: Knex.Transaction, r: Omit<RepoRow, 'id'>): Promise<number> {
  const [id] = await trx('deb_repos').insert({
    owner_id: r.ownerId,
    name: r.name,
    comment: r.comment,
    default_distribution: r.defaultDistribution,
    default_component: r.defaultComponent,
    created_at_ms: r.createdAtMs,
  });
  return Number(id);
}

export async function updateRepo(trx: Knex.Transaction, id: number, r: Pick<RepoRow, 'name' | 'comment' | 'defaultDistribution' | 'defaultComponent'>): Promise<void> {
  await trx('deb_repos').where({ id }).update({
    name: r.name,
    comment: r.comment,
    default_distribution: r.defaultDistribution,
    default_component: r.defaultComponent,
  });
}

export async function removeRepo(trx: Knex.Transaction, id: number): Promise<void> {
  await trx('deb_repo_packages').where({ repo_id: id }).delete();
  await trx('deb_repos').where({ id }).delete();
}

// ---------------------------------------------------------------- snapshots

export interface SnapshotRow {
  readonly id: number;
  readonly ownerId: number;
  readonly name: string;
  readonly description: string;
  readonly sourceKind: 'local' | 'snapshot';
  /** `[{kind, id}]` */
  readonly sources: readonly { kind: 'local' | 'snapshot'; id: number }[];
  readonly origin: string;
  readonly notAutomatic: string;
  readonly butAutomaticUpgrades: string;
  readonly createdAtMs: number;
}

const toSnapshot = (r: Record<string, unknown>): SnapshotRow => ({
  id: Number(r.id),
  ownerId: Number(r.owner_id),
  name: String(r.name),
  description: String(r.description),
  sourceKind: r.source_kind === 'snapshot' ? 'snapshot' : 'local',
  sources: JSON.parse(String(r.sources)) as { kind: 'local' | 'snapshot'; id: number }[],
  origin: String(r.origin),
  notAutomatic: String(r.not_automatic),
  butAutomaticUpgrades: String(r.but_automatic_upgrades),
  createdAtMs: Number(r.created_at_ms),
});

export async function findSnapshot(db: Knex, ownerId: number, name: string): Promise<SnapshotRow | undefined> {
  const r = (await db('deb_snapshots').where({ owner_id: ownerId, name }).first()) as Record<string, unknown> | undefined;
  return r ? toSnapshot(r) : undefined;
}

export async function getSnapshot(db: Knex, id: number): Promise<SnapshotRow | undefined> {
  const r = (await db('deb_snapshots').where({ id }).first()) as Record<string, unknown> | undefined;
  return r ? toSnapshot(r) : undefined;
}

export async function listSnapshots(db: Knex, ownerId: number): Promise<SnapshotRow[]> {
  const rows = (await db('deb_snapshots').where({ owner_id: ownerId }).select()) as Record<string, unknown>[];
  return rows.map(toSnapshot);
}

export async function saveSnapshot(trx: Knex.Transaction, s: Omit<SnapshotRow, 'id'>): Promise<number> {
  const [id] = await trx('deb_snapshots').insert({
    owner_id: s.ownerId,
    name: s.name,
    description: s.description,
    source_kind: s.sourceKind,
    sources: JSON.stringify(s.sources),
    origin: s.origin,
    not_automatic: s.notAutomatic,
    but_automatic_upgrades: s.butAutomaticUpgrades,
    created_at_ms: s.createdAtMs,
  });
  return Number(id);
}

export async function updateSnapshot(trx: Knex.Transaction, id: number, s: Pick<SnapshotRow, 'name' | 'description'>): Promise<void> {
  await trx('deb_snapshots').where({ id }).update({ name: s.name, description: s.description });
}

export async function removeSnapshot(trx: Knex.Transaction, id: number): Promise<void> {
  await trx('deb_snapshot_packages').where({ snapshot_id: id }).delete();
  await trx('deb_snapshots').where({ id }).delete();
}

// ---------------------------------------------------------------- members of repos and snapshots

export type PackageSet = { readonly table: 'deb_repo_packages'; readonly column: 'repo_id'; readonly id: number } | {
  readonly table: 'deb_snapshot_packages';
  readonly column: 'snapshot_id';
  readonly id: number;
};

export const repoSet = (id: number): PackageSet => ({ table: 'deb_repo_packages', column: 'repo_id', id });
export const snapshotSet = (id: number): PackageSet => ({ table: 'deb_snapshot_packages', column: 'snapshot_id', id });

export async function listSetPackages(db: Knex, set: PackageSet): Promise<DebPackageRow[]> {
  const rows = (await db(set.table).where({ [set.column]: set.id }).select('package_id')) as { package_id: number | string }[];
  return getPackages(
    db,
    rows.map((r) => Number(r.package_id)),
  );
}

export async function countSetPackages(db: Knex, set: PackageSet): Promise<number> {
  const r = (await db(set.table).where({ [set.column]: set.id }).count({ n: '*' }).first()) as { n: number | string };
  return Number(r.n);
}

/** Replaces a set's members with exactly these packages (one per short key, §7.4). */
export async function replaceSetPackages(trx: Knex.Transaction, set: PackageSet, packages: readonly DebPackageRow[]): Promise<void> {
  await trx(set.table).where({ [set.column]: set.id }).delete();
  for (let i = 0; i < packages.length; i += 200) {
    const batch = packages.slice(i, i + 200).map((p) => ({
      [set.column]: set.id,
      package_id: p.id,
      name: p.name,
      version: p.version,
      architecture: p.architecture,
    }));
    if (batch.length) await trx(set.table).insert(batch);
  }
}

/** Snapshots whose members include a package of this set (for drops). */
export async function isPackageReferenced(db: Knex, packageId: number): Promise<boolean> {
  for (const [table, column] of [
    ['deb_registry_entries', 'package_id'],
    ['deb_repo_packages', 'package_id'],
    ['deb_snapshot_packages', 'package_id'],
    ['deb_publish_members', 'package_id'],
    ['deb_pool', 'package_id'],
  ] as const) {
    if (await db(table).where(column, packageId).first(column)) return true;
  }
  return false;
}

// ---------------------------------------------------------------- upload dirs (§7.3)

export interface UploadRow {
  readonly id: number;
  readonly dir: string;
  readonly fileName: string;
  readonly sha256: string;
  readonly size: number;
  /** JSON of the parsed package row, or null (not a package, or unreadable). */
  readonly parsed: string | null;
  readonly error: string | null;
}

const toUpload = (r: Record<string, unknown>): UploadRow => ({
  id: Number(r.id),
  dir: String(r.dir),
  fileName: String(r.file_name),
  sha256: String(r.blob_sha256),
  size: Number(r.size),
  parsed: r.parsed === null || r.parsed === undefined ? null : String(r.parsed),
  error: r.error === null || r.error === undefined ? null : String(r.error),
});

export async function listUploadDirs(db: Knex, ownerId: number): Promise<string[]> {
  const rows = (await db('deb_uploads').where({ owner_id: ownerId }).distinct('dir')) as { dir: string }[];
  return rows.map((r) => r.dir);
}

export async function listUploads(db: Knex, ownerId: number, dir: string): Promise<UploadRow[]> {
  const rows = (await db('deb_uploads').where({ owner_id: ownerId, dir }).select()) as Record<string, unknown>[];
  return rows.map(toUpload);
}

/** Stores or replaces `dir/file`. */
export async function saveUpload(
  trx: Knex.Transaction,
  ownerId: number,
  u: Omit<UploadRow, 'id'>,
  nowMs: number,
): Promise<void> {
  const row = {
    owner_id: ownerId,
    dir: u.dir,
    file_name: u.fileName,
    blob_sha256: u.sha256,
    size: u.size,
    parsed: u.parsed,
    error: u.error,
    created_at_ms: nowMs,
  };
  try {
    await trx('deb_uploads').insert(row);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    await trx('deb_uploads').where({ owner_id: ownerId, dir: u.dir, file_name: u.fileName }).update(row);
  }
}

export async function removeUploads(trx: Knex.Transaction, ownerId: number, dir: string, fileNames?: readonly string[]): Promise<void> {
  const q = trx('deb_uploads').where({ owner_id: ownerId, dir });
  await (fileNames ? q.whereIn('file_name', fileNames) : q).delete();
}

// ---------------------------------------------------------------- tasks (§7.2)

export interface TaskRow {
  readonly id: number;
  readonly ownerId: number;
  readonly name: string;
  readonly state: number;
  readonly code: number | null;
  readonly value: string | null;
  readonly output: string;
  readonly detail: string;
  readonly heartbeatAtMs: number;
  readonly createdAtMs: number;
  readonly finishedAtMs: number | null;
}

const toTask = (r: Record<string, unknown>): TaskRow => ({
  id: Number(r.id),
  ownerId: Number(r.owner_id),
  name: String(r.name),
  state: Number(r.state),
  code: r.code === null || r.code === undefined ? null : Number(r.code),
  value: r.value === null || r.value === undefined ? null : String(r.value),
  output: String(r.output),
  detail: String(r.detail),
  heartbeatAtMs: Number(r.heartbeat_at_ms),
  createdAtMs: Number(r.created_at_ms),
  finishedAtMs: r.finished_at_ms === null || r.finished_at_ms === undefined ? null : Number(r.finished_at_ms),
});

export async function saveTask(db: Knex, t: { ownerId: number; name: string; state: number; nowMs: number }): Promise<number> {
  const [id] = await db('deb_tasks').insert({
    owner_id: t.ownerId,
    name: t.name,
    state: t.state,
    output: '',
    detail: '{}',
    heartbeat_at_ms: t.nowMs,
    created_at_ms: t.nowMs,
  });
  return Number(id);
}

export async function findTask(db: Knex, ownerId: number, id: number): Promise<TaskRow | undefined> {
  const r = (await db('deb_tasks').where({ owner_id: ownerId, id }).first()) as Record<string, unknown> | undefined;
  return r ? toTask(r) : undefined;
}

export async function listTasks(db: Knex, ownerId: number, sinceMs: number): Promise<TaskRow[]> {
  const rows = (await db('deb_tasks')
    .where({ owner_id: ownerId })
    .where((q) => q.whereNull('finished_at_ms').orWhere('finished_at_ms', '>=', sinceMs))
    .orderBy('id')) as Record<string, unknown>[];
  return rows.map(toTask);
}

export async function updateTask(
  db: Knex,
  id: number,
  values: Partial<{ state: number; code: number | null; value: string | null; output: string; detail: string; heartbeatAtMs: number; finishedAtMs: number }>,
): Promise<void> {
  const update: Record<string, unknown> = {};
  if (values.state !== undefined) update.state = values.state;
  if (values.code !== undefined) update.code = values.code;
  if (values.value !== undefined) update.value = values.value;
  if (values.output !== undefined) update.output = values.output;
  if (values.detail !== undefined) update.detail = values.detail;
  if (values.heartbeatAtMs !== undefined) update.heartbeat_at_ms = values.heartbeatAtMs;
  if (values.finishedAtMs !== undefined) update.finished_at_ms = values.finishedAtMs;
  await db('deb_tasks').where({ id }).update(update);
}

export async function removeTask(db: Knex, id: number): Promise<void> {
  await db('deb_tasks').where({ id }).delete();
}

/** Drops finished tasks of an owner (`tasks-clear`) or older than `beforeMs`. */
export async function removeFinishedTasks(db: Knex, ownerId: number, beforeMs?: number): Promise<void> {
  const q = db('deb_tasks').where({ owner_id: ownerId }).whereNotNull('finished_at_ms');
  if (beforeMs !== undefined) q.where('finished_at_ms', '<', beforeMs);
  await q.delete();
}
