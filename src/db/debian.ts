import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { isMysql, isRetryableLockError, isUniqueViolation } from './dialect.js';

// ---------------------------------------------------------------- locks (debian.md §5)

/** What the work inside Debian locks gets. */
export interface DebianLock {
  readonly trx: Knex.Transaction;
  /** Compensation for a file change (a promoted blob) if the transaction does not commit. */
  onRollback(undo: () => Promise<void>): void;
}

const hashOf = (text: string) => createHash('sha256').update(text).digest('hex');

/** The lock of one published tree (registry distribution or aptly publish). */
export const treeLockKey = (ownerId: number, prefix: string, distribution: string) =>
  `${ownerId}/tree/${hashOf(`${prefix}\0${distribution}`)}`;

/** The lock of an owner's aptly objects: repos, snapshots, uploads, publish settings. */
export const aptlyLockKey = (ownerId: number) => `${ownerId}/aptly`;

const RETRIES = 5;

/**
 * Runs `work` in one transaction holding the given lock rows (FOR UPDATE, in key order, so two
 * writers never wait on each other crosswise). MySQL deadlocks and lock timeouts rerun it.
 */
export async function withDebianLocks<T>(
  db: Knex,
  keys: readonly string[],
  work: (lock: DebianLock) => Promise<T>,
  nowMs: number = Date.now(),
): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  for (let attempt = 1; ; attempt++) {
    // Outside the transaction, so two first writers cannot deadlock on this insert. Rows this
    // call created go again if the work fails: bad input must leave no trace (STYLE §5).
    const present = new Set(
      sorted.length ? ((await db('deb_locks').whereIn('lock_key', sorted).select('lock_key')) as { lock_key: string }[]).map((r) => r.lock_key) : [],
    );
    const created = sorted.filter((k) => !present.has(k));
    for (const key of created) {
      await db('deb_locks').insert({ lock_key: key, created_at_ms: nowMs }).onConflict('lock_key').ignore();
    }
    const undos: (() => Promise<void>)[] = [];
    try {
      return await db.transaction(async (trx) => {
        // First on purpose: every read after this locking one sees the previous holder's commit.
        const locked = sorted.length ? await trx('deb_locks').whereIn('lock_key', sorted).orderBy('lock_key').forUpdate().select('lock_key') : [];
        if (locked.length !== sorted.length) throw new LockRowGone(); // removed by a failed first writer
        return work({ trx, onRollback: (undo) => void undos.push(undo) });
      });
    } catch (err) {
      for (const undo of undos.reverse()) await undo().catch(() => {});
      if (err instanceof LockRowGone && attempt < RETRIES * 4) continue;
      if (attempt >= RETRIES || !isRetryableLockError(err)) {
        if (created.length) await db('deb_locks').whereIn('lock_key', created).delete().catch(() => {});
        throw err;
      }
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 60 * attempt));
    }
  }
}

class LockRowGone extends Error {}

/** The database server's clock in ms (§5: never a replica's). */
export async function dbNowMs(db: Knex): Promise<number> {
  if (isMysql(db)) {
    const [rows] = (await db.raw('select unix_timestamp(now(3)) * 1000 as ms')) as [{ ms: string | number }[]];
    return Math.floor(Number(rows[0]!.ms));
  }
  const rows = (await db.raw("select cast((julianday('now') - 2440587.5) * 86400000 as integer) as ms")) as { ms: number }[];
  return Number(rows[0]!.ms);
}

// ---------------------------------------------------------------- packages

/** A stored package without its bulky parts. */
export interface DebPackageRow {
  readonly id: number;
  readonly ownerId: number;
  readonly key: string;
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly type: 'deb' | 'udeb';
  readonly fileName: string;
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
  readonly sha512: string;
  readonly sourceName: string;
  readonly section: string;
  readonly createdAtMs: number;
}

export type NewDebPackage = Omit<DebPackageRow, 'id'> & {
  /** `[[field, value], …]` in control order. */
  readonly control: readonly (readonly [string, string])[];
  readonly stanzaHead: string;
  readonly stanzaTail: string;
  /** gzip of the path list, one per line. */
  readonly contents: Buffer;
};

const PACKAGE_COLUMNS = [
  'id',
  'owner_id',
  'package_key',
  'name',
  'version',
  'architecture',
  'package_type',
  'file_name',
  'size',
  'md5',
  'sha1',
  'blob_sha256',
  'sha512',
  'source_name',
  'section',
  'created_at_ms',
];

const toPackage = (r: Record<string, unknown>): DebPackageRow => ({
  id: Number(r.id),
  ownerId: Number(r.owner_id),
  key: String(r.package_key),
  name: String(r.name),
  version: String(r.version),
  architecture: String(r.architecture),
  type: r.package_type === 'udeb' ? 'udeb' : 'deb',
  fileName: String(r.file_name),
  size: Number(r.size),
  md5: String(r.md5),
  sha1: String(r.sha1),
  sha256: String(r.blob_sha256),
  sha512: String(r.sha512),
  sourceName: String(r.source_name),
  section: String(r.section),
  createdAtMs: Number(r.created_at_ms),
});

export async function findPackageByKey(db: Knex, ownerId: number, key: string): Promise<DebPackageRow | undefined> {
  const r = (await db('deb_packages').where({ owner_id: ownerId, package_key: key }).first(PACKAGE_COLUMNS)) as
    | Record<string, unknown>
    | undefined;
  return r ? toPackage(r) : undefined;
}

/** Insert-if-absent by (owner, key): the same key is the same bytes under the same name. */
export async function savePackage(trx: Knex.Transaction, p: NewDebPackage): Promise<number> {
  await trx('deb_packages')
    .insert({
      owner_id: p.ownerId,
      package_key: p.key,
      name: p.name,
      version: p.version,
      architecture: p.architecture,
      package_type: p.type,
      file_name: p.fileName,
      size: p.size,
      md5: p.md5,
      sha1: p.sha1,
      blob_sha256: p.sha256,
      sha512: p.sha512,
      source_name: p.sourceName,
      section: p.section,
      control: JSON.stringify(p.control),
      stanza_head: p.stanzaHead,
      stanza_tail: p.stanzaTail,
      contents: p.contents,
      created_at_ms: p.createdAtMs,
    })
    .onConflict(['owner_id', 'package_key'])
    .ignore();
  const found = await findPackageByKey(trx, p.ownerId, p.key);
  if (!found) throw new Error('package row vanished after insert');
  return found.id;
}

export async function getPackages(db: Knex, ids: readonly number[]): Promise<DebPackageRow[]> {
  const out: DebPackageRow[] = [];
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 500) {
    const rows = (await db('deb_packages').whereIn('id', unique.slice(i, i + 500)).select(PACKAGE_COLUMNS)) as Record<string, unknown>[];
    out.push(...rows.map(toPackage));
  }
  return out;
}

/** Every package of an owner (aptly's `GET /api/packages`). */
export async function listOwnerPackages(db: Knex, ownerId: number): Promise<DebPackageRow[]> {
  const rows = (await db('deb_packages').where({ owner_id: ownerId }).select(PACKAGE_COLUMNS)) as Record<string, unknown>[];
  return rows.map(toPackage);
}

/** The stored control fields of some packages, by id. */
export async function loadControls(db: Knex, ids: readonly number[]): Promise<Map<number, [string, string][]>> {
  const out = new Map<number, [string, string][]>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 500) {
    const rows = (await db('deb_packages').whereIn('id', unique.slice(i, i + 500)).select('id', 'control')) as Record<string, unknown>[];
    for (const r of rows) out.set(Number(r.id), JSON.parse(String(r.control)) as [string, string][]);
  }
  return out;
}

/** The stanza parts of some packages, by id (index builds, §5). */
export async function loadStanzas(db: Knex, ids: readonly number[]): Promise<Map<number, { head: string; tail: string }>> {
  const out = new Map<number, { head: string; tail: string }>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 500) {
    const rows = (await db('deb_packages')
      .whereIn('id', unique.slice(i, i + 500))
      .select('id', 'stanza_head', 'stanza_tail')) as Record<string, unknown>[];
    for (const r of rows) out.set(Number(r.id), { head: String(r.stanza_head), tail: String(r.stanza_tail) });
  }
  return out;
}

/** The gzipped path lists of some packages, by id (Contents builds). */
export async function loadContents(db: Knex, ids: readonly number[]): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 200) {
    const rows = (await db('deb_packages').whereIn('id', unique.slice(i, i + 200)).select('id', 'contents')) as Record<string, unknown>[];
    for (const r of rows) out.set(Number(r.id), Buffer.from(r.contents as Uint8Array));
  }
  return out;
}

// ---------------------------------------------------------------- registry entries

export interface RegistryEntryRow {
  readonly id: number;
  readonly distribution: string;
  readonly component: string;
  readonly packageId: number;
  readonly createdAtMs: number;
}

export interface RegistryCoordinates {
  readonly ownerId: number;
  readonly distribution: string;
  readonly component: string;
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
}

const entryWhere = (c: RegistryCoordinates) => ({
  owner_id: c.ownerId,
  distribution: c.distribution,
  component: c.component,
  name: c.name,
  version: c.version,
  architecture: c.architecture,
});

export async function findRegistryEntry(db: Knex, c: RegistryCoordinates): Promise<RegistryEntryRow | undefined> {
  const r = (await db('deb_registry_entries').where(entryWhere(c)).first()) as Record<string, unknown> | undefined;
  return r
    ? {
        id: Number(r.id),
        distribution: String(r.distribution),
        component: String(r.component),
        packageId: Number(r.package_id),
        createdAtMs: Number(r.created_at_ms),
      }
    : undefined;
}

/** Inserts an entry; false when (D, C, name, version, A) is taken. */
export async function saveRegistryEntry(
  trx: Knex.Transaction,
  c: RegistryCoordinates,
  packageId: number,
  nowMs: number,
): Promise<boolean> {
  try {
    await trx('deb_registry_entries').insert({ ...entryWhere(c), package_id: packageId, created_at_ms: nowMs });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

export async function removeRegistryEntry(trx: Knex.Transaction, id: number): Promise<void> {
  await trx('deb_registry_entries').where({ id }).delete();
}

/** A registry distribution's entries with their packages (the members of its tree). */
export async function listRegistryEntries(
  db: Knex,
  ownerId: number,
  distribution: string,
): Promise<{ component: string; createdAtMs: number; pkg: DebPackageRow }[]> {
  const rows = (await db('deb_registry_entries as e')
    .join('deb_packages as p', 'p.id', 'e.package_id')
    .where({ 'e.owner_id': ownerId, 'e.distribution': distribution })
    .select(
      'e.component as entry_component',
      'e.created_at_ms as entry_created_at_ms',
      ...PACKAGE_COLUMNS.map((c) => `p.${c}`),
    )) as Record<string, unknown>[];
  return rows.map((r) => ({ component: String(r.entry_component), createdAtMs: Number(r.entry_created_at_ms), pkg: toPackage(r) }));
}

/** Registry distributions of an owner (they are trees at prefix `.`). */
export async function listRegistryDistributions(db: Knex, ownerId: number): Promise<string[]> {
  const rows = (await db('deb_registry_entries').where({ owner_id: ownerId }).distinct('distribution')) as { distribution: string }[];
  return rows.map((r) => r.distribution);
}

// ---------------------------------------------------------------- trees

export interface TreeRow {
  readonly id: number;
  readonly ownerId: number;
  readonly prefix: string;
  readonly distribution: string;
  readonly kind: 'registry' | 'aptly';
  /** T of the last build; 0 before the first. */
  readonly builtAtMs: number;
  readonly signed: boolean;
}

const toTree = (r: Record<string, unknown>): TreeRow => ({
  id: Number(r.id),
  ownerId: Number(r.owner_id),
  prefix: String(r.prefix),
  distribution: String(r.distribution),
  kind: r.kind === 'aptly' ? 'aptly' : 'registry',
  builtAtMs: Number(r.built_at_ms),
  signed: Boolean(Number(r.signed)),
});

export async function findTree(db: Knex, ownerId: number, prefix: string, distribution: string): Promise<TreeRow | undefined> {
  const r = (await db('deb_trees').where({ owner_id: ownerId, prefix, distribution }).first()) as Record<string, unknown> | undefined;
  return r ? toTree(r) : undefined;
}

export async function getTree(db: Knex, id: number): Promise<TreeRow | undefined> {
  const r = (await db('deb_trees').where({ id }).first()) as Record<string, unknown> | undefined;
  return r ? toTree(r) : undefined;
}

/** Trees of an owner, of one prefix or all, by prefix then distribution. */
export async function listTrees(db: Knex, ownerId: number, prefix?: string): Promise<TreeRow[]> {
  const q = db('deb_trees').where({ owner_id: ownerId });
  if (prefix !== undefined) q.where({ prefix });
  const rows = (await q.select()) as Record<string, unknown>[];
  return rows.map(toTree);
}

/** Creates the tree row if absent (inside its lock) and returns it. */
export async function saveTree(
  trx: Knex.Transaction,
  t: { ownerId: number; prefix: string; distribution: string; kind: 'registry' | 'aptly' },
  nowMs: number,
): Promise<TreeRow> {
  await trx('deb_trees')
    .insert({ owner_id: t.ownerId, prefix: t.prefix, distribution: t.distribution, kind: t.kind, built_at_ms: 0, signed: false, created_at_ms: nowMs })
    .onConflict(['owner_id', 'prefix', 'distribution'])
    .ignore();
  const row = await findTree(trx, t.ownerId, t.prefix, t.distribution);
  if (!row) throw new Error('tree row vanished after insert');
  return row;
}

export async function updateTree(trx: Knex.Transaction, id: number, values: { kind?: 'registry' | 'aptly'; builtAtMs?: number; signed?: boolean }): Promise<void> {
  const update: Record<string, unknown> = {};
  if (values.kind !== undefined) update.kind = values.kind;
  if (values.builtAtMs !== undefined) update.built_at_ms = values.builtAtMs;
  if (values.signed !== undefined) update.signed = values.signed;
  await trx('deb_trees').where({ id }).update(update);
}

export async function removeTree(trx: Knex.Transaction, id: number): Promise<void> {
  await trx('deb_tree_files').where({ tree_id: id }).delete();
  await trx('deb_index_states').where({ tree_id: id }).delete();
  await trx('deb_trees').where({ id }).delete();
}

/** A generated file of a tree, with all four hashes. */
export interface TreeFileRow {
  readonly id: number;
  readonly treeId: number;
  readonly path: string;
  readonly dir: string;
  readonly sha256: string;
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha512: string;
  readonly lastModifiedMs: number;
  readonly supersededAtMs: number | null;
}

const toTreeFile = (r: Record<string, unknown>): TreeFileRow => ({
  id: Number(r.id),
  treeId: Number(r.tree_id),
  path: String(r.path),
  dir: String(r.dir),
  sha256: String(r.blob_sha256),
  size: Number(r.size),
  md5: String(r.md5),
  sha1: String(r.sha1),
  sha512: String(r.sha512),
  lastModifiedMs: Number(r.last_modified_ms),
  supersededAtMs: r.superseded_at_ms === null || r.superseded_at_ms === undefined ? null : Number(r.superseded_at_ms),
});

const treeFiles = (db: Knex) =>
  db('deb_tree_files as f')
    .join('blobs as b', 'b.sha256', 'f.blob_sha256')
    .select('f.id', 'f.tree_id', 'f.path', 'f.dir', 'f.blob_sha256', 'f.size', 'f.last_modified_ms', 'f.superseded_at_ms', 'b.md5', 'b.sha1', 'b.sha512');

/** The current files of a tree, by path. */
export async function listCurrentTreeFiles(db: Knex, treeId: number): Promise<TreeFileRow[]> {
  const rows = (await treeFiles(db).where('f.tree_id', treeId).whereNull('f.superseded_at_ms').orderBy('f.path')) as Record<string, unknown>[];
  return rows.map(toTreeFile);
}

export async function findCurrentTreeFile(db: Knex, treeId: number, path: string): Promise<TreeFileRow | undefined> {
  const r = (await treeFiles(db).where({ 'f.tree_id': treeId, 'f.path': path }).whereNull('f.superseded_at_ms').first()) as
    | Record<string, unknown>
    | undefined;
  return r ? toTreeFile(r) : undefined;
}

/** Current files of one directory and those superseded since `sinceMs` (by-hash, F6). */
export async function listTreeFilesInDir(db: Knex, treeId: number, dir: string, sinceMs: number): Promise<TreeFileRow[]> {
  const rows = (await treeFiles(db)
    .where({ 'f.tree_id': treeId, 'f.dir': dir })
    .where((q) => q.whereNull('f.superseded_at_ms').orWhere('f.superseded_at_ms', '>=', sinceMs))
    .orderBy('f.id', 'desc')) as Record<string, unknown>[];
  return rows.map(toTreeFile);
}

export async function saveTreeFile(
  trx: Knex.Transaction,
  f: { treeId: number; path: string; dir: string; sha256: string; size: number; lastModifiedMs: number },
): Promise<void> {
  await trx('deb_tree_files').insert({
    tree_id: f.treeId,
    path: f.path,
    dir: f.dir,
    blob_sha256: f.sha256,
    size: f.size,
    last_modified_ms: f.lastModifiedMs,
    superseded_at_ms: null,
  });
}

export async function supersedeTreeFiles(trx: Knex.Transaction, ids: readonly number[], atMs: number): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    await trx('deb_tree_files').whereIn('id', ids.slice(i, i + 500)).update({ superseded_at_ms: atMs });
  }
}

/** Drops history older than `beforeMs`; the sweeper then removes the blobs. */
export async function purgeSupersededTreeFiles(trx: Knex.Transaction, treeId: number, beforeMs: number): Promise<void> {
  await trx('deb_tree_files').where({ tree_id: treeId }).where('superseded_at_ms', '<', beforeMs).delete();
}

// ---------------------------------------------------------------- dirty counters (§5)

export interface IndexStateRow {
  readonly component: string;
  readonly architecture: string;
  readonly want: number;
  readonly built: number;
}

/** Marks one index dirty; returns the ticket a build must reach. */
export async function bumpIndexWant(trx: Knex.Transaction, treeId: number, component: string, architecture: string): Promise<number> {
  const where = { tree_id: treeId, component, architecture };
  await trx('deb_index_states').insert({ ...where, want: 0, built: 0 }).onConflict(['tree_id', 'component', 'architecture']).ignore();
  await trx('deb_index_states').where(where).increment('want', 1);
  const r = (await trx('deb_index_states').where(where).first('want')) as { want: number | string };
  return Number(r.want);
}

export async function listIndexStates(db: Knex, treeId: number): Promise<IndexStateRow[]> {
  const rows = (await db('deb_index_states').where({ tree_id: treeId }).select()) as Record<string, unknown>[];
  return rows.map((r) => ({ component: String(r.component), architecture: String(r.architecture), want: Number(r.want), built: Number(r.built) }));
}

export async function markIndexesBuilt(trx: Knex.Transaction, treeId: number, states: readonly IndexStateRow[]): Promise<void> {
  for (const s of states) {
    if (s.built >= s.want) continue;
    await trx('deb_index_states').where({ tree_id: treeId, component: s.component, architecture: s.architecture }).update({ built: s.want });
  }
}

// ---------------------------------------------------------------- aptly pool (§4.1)

export const poolPathKey = (prefix: string, path: string) => hashOf(`${prefix}\0${path}`);

export interface PoolRow {
  readonly prefix: string;
  readonly path: string;
  readonly packageId: number;
}

export async function findPoolFile(db: Knex, ownerId: number, prefix: string, path: string): Promise<PoolRow | undefined> {
  const r = (await db('deb_pool').where({ owner_id: ownerId, path_key: poolPathKey(prefix, path) }).first()) as
    | Record<string, unknown>
    | undefined;
  return r ? { prefix: String(r.prefix), path: String(r.path), packageId: Number(r.package_id) } : undefined;
}

export async function listPoolFiles(db: Knex, ownerId: number, prefix: string): Promise<PoolRow[]> {
  const rows = (await db('deb_pool').where({ owner_id: ownerId, prefix }).select()) as Record<string, unknown>[];
  return rows.map((r) => ({ prefix: String(r.prefix), path: String(r.path), packageId: Number(r.package_id) }));
}

export async function savePoolFile(trx: Knex.Transaction, ownerId: number, row: PoolRow): Promise<void> {
  await trx('deb_pool')
    .insert({ owner_id: ownerId, path_key: poolPathKey(row.prefix, row.path), prefix: row.prefix, path: row.path, package_id: row.packageId })
    .onConflict(['owner_id', 'path_key'])
    .merge(['package_id']);
}

export async function removePoolFiles(trx: Knex.Transaction, ownerId: number, prefix: string, paths: readonly string[]): Promise<void> {
  const keys = paths.map((p) => poolPathKey(prefix, p));
  for (let i = 0; i < keys.length; i += 500) {
    await trx('deb_pool').where({ owner_id: ownerId }).whereIn('path_key', keys.slice(i, i + 500)).delete();
  }
}

// ---------------------------------------------------------------- aptly publishes (§7.7)

export interface PublishRow {
  readonly id: number;
  readonly treeId: number;
  readonly ownerId: number;
  readonly sourceKind: 'local' | 'snapshot';
  /** JSON of the publish settings. */
  readonly settings: string;
  /** JSON `[{component, id}]`: repo or snapshot ids. */
  readonly sources: string;
  /** JSON `{component: name}` of staged sources, or null. */
  readonly staged: string | null;
  readonly createdAtMs: number;
}

const toPublish = (r: Record<string, unknown>): PublishRow => ({
  id: Number(r.id),
  treeId: Number(r.tree_id),
  ownerId: Number(r.owner_id),
  sourceKind: r.source_kind === 'snapshot' ? 'snapshot' : 'local',
  settings: String(r.settings),
  sources: String(r.sources),
  staged: r.staged === null || r.staged === undefined ? null : String(r.staged),
  createdAtMs: Number(r.created_at_ms),
});

export async function findPublishByTree(db: Knex, treeId: number): Promise<PublishRow | undefined> {
  const r = (await db('deb_publishes').where({ tree_id: treeId }).first()) as Record<string, unknown> | undefined;
  return r ? toPublish(r) : undefined;
}

export async function listPublishes(db: Knex, ownerId: number): Promise<PublishRow[]> {
  const rows = (await db('deb_publishes').where({ owner_id: ownerId }).orderBy('id')) as Record<string, unknown>[];
  return rows.map(toPublish);
}

export async function savePublish(trx: Knex.Transaction, p: Omit<PublishRow, 'id'>): Promise<number> {
  const [id] = await trx('deb_publishes').insert({
    tree_id: p.treeId,
    owner_id: p.ownerId,
    source_kind: p.sourceKind,
    settings: p.settings,
    sources: p.sources,
    staged: p.staged,
    created_at_ms: p.createdAtMs,
  });
  return Number(id);
}

export async function updatePublish(
  trx: Knex.Transaction,
  id: number,
  values: { settings?: string; sources?: string; staged?: string | null },
): Promise<void> {
  await trx('deb_publishes').where({ id }).update(values);
}

export async function removePublish(trx: Knex.Transaction, id: number): Promise<void> {
  await trx('deb_publish_members').where({ publish_id: id }).delete();
  await trx('deb_publishes').where({ id }).delete();
}

export interface PublishMemberRow {
  readonly component: string;
  readonly poolPath: string;
  readonly pkg: DebPackageRow;
}

export async function listPublishMembers(db: Knex, publishId: number): Promise<PublishMemberRow[]> {
  const rows = (await db('deb_publish_members as m')
    .join('deb_packages as p', 'p.id', 'm.package_id')
    .where('m.publish_id', publishId)
    .select('m.component as member_component', 'm.pool_path as member_pool_path', ...PACKAGE_COLUMNS.map((c) => `p.${c}`))) as Record<
    string,
    unknown
  >[];
  return rows.map((r) => ({ component: String(r.member_component), poolPath: String(r.member_pool_path), pkg: toPackage(r) }));
}

/** Replaces one component's members of a publish. */
export async function replacePublishMembers(
  trx: Knex.Transaction,
  publishId: number,
  component: string,
  members: readonly { packageId: number; poolPath: string }[],
): Promise<void> {
  await trx('deb_publish_members').where({ publish_id: publishId, component }).delete();
  for (let i = 0; i < members.length; i += 200) {
    const batch = members.slice(i, i + 200).map((m) => ({ publish_id: publishId, component, package_id: m.packageId, pool_path: m.poolPath }));
    if (batch.length) await trx('deb_publish_members').insert(batch);
  }
}

/** Pool paths any publish of a prefix still uses (cleanup keeps them). */
export async function listPrefixPoolPaths(db: Knex, ownerId: number, prefix: string): Promise<Set<string>> {
  const rows = (await db('deb_publish_members as m')
    .join('deb_publishes as p', 'p.id', 'm.publish_id')
    .join('deb_trees as t', 't.id', 'p.tree_id')
    .where({ 't.owner_id': ownerId, 't.prefix': prefix })
    .distinct('m.pool_path')) as { pool_path: string }[];
  return new Set(rows.map((r) => r.pool_path));
}

// ---------------------------------------------------------------- sweeping (§2)

/**
 * Deletes packages older than `cutoffMs` that nothing references (a registry entry, a repo, a
 * snapshot, a publish, a pool row); their blobs are then the core sweeper's. One statement per
 * batch, so a writer that references a row concurrently either wins or sees it gone.
 */
export async function removeUnreferencedPackages(db: Knex, cutoffMs: number): Promise<number> {
  const referenced = (table: string) =>
    db(table).select(db.raw('1')).whereRaw('??.package_id = deb_packages.id', [table]);
  let q = db('deb_packages').where('created_at_ms', '<', cutoffMs);
  for (const table of ['deb_registry_entries', 'deb_repo_packages', 'deb_snapshot_packages', 'deb_publish_members', 'deb_pool']) {
    q = q.whereNotExists(referenced(table));
  }
  return Number(await q.delete());
}

/** Drops by-hash history older than `beforeMs` in every tree (builds purge their own too). */
export async function purgeAllSupersededTreeFiles(db: Knex, beforeMs: number): Promise<number> {
  return Number(await db('deb_tree_files').where('superseded_at_ms', '<', beforeMs).delete());
}
