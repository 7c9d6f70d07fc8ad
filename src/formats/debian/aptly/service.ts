import type { Readable } from 'node:stream';
import type { Knex } from 'knex';
import type { OwnerRef } from '../../../auth/decision.js';
import { saveBlob } from '../../../db/blobs.js';
import {
  aptlyLockKey,
  findPackageByKey,
  findPoolFile,
  findPublishByTree,
  findTree,
  getPackages,
  listCurrentTreeFiles,
  listPoolFiles,
  listPrefixPoolPaths,
  listPublishes,
  listPublishMembers,
  listRegistryEntries,
  listTrees,
  loadControls,
  listOwnerPackages,
  removePoolFiles,
  removePublish,
  removeTree,
  replacePublishMembers,
  savePackage,
  savePoolFile,
  savePublish,
  saveTree,
  getTree,
  supersedeTreeFiles,
  treeLockKey,
  updatePublish,
  withDebianLocks,
  type DebianLock,
  type DebPackageRow,
  type NewDebPackage,
  type PublishRow,
  type TreeRow,
} from '../../../db/debian.js';
import {
  countSetPackages,
  findRepo,
  findSnapshot,
  findTask,
  getRepo,
  getSnapshot,
  listRepos,
  listSetPackages,
  listSnapshots,
  listTasks,
  listUploadDirs,
  listUploads,
  removeFinishedTasks,
  removeRepo,
  removeSnapshot,
  removeTask,
  removeUploads,
  replaceSetPackages,
  repoSet,
  saveRepo,
  saveSnapshot,
  saveTask,
  saveUpload,
  snapshotSet,
  updateRepo,
  updateSnapshot,
  updateTask,
  type RepoRow,
  type SnapshotRow,
  type TaskRow,
  type UploadRow,
} from '../../../db/debian-aptly.js';
import { HttpError, badRequest, conflict, notFound } from '../../../errors.js';
import type { SigningKey } from '../../../signing/openpgp.js';
import { compareBytes, isArchitecture } from '../control.js';
import { aptlyPoolPath } from '../indexes.js';
import { displayName, filesHash, shortKey } from '../keys.js';
import {
  formatPublishSettings,
  isPublishPrefix,
  isTreeName,
  parsePublishPrefix,
  parsePublishSettings,
  parsePublishSources,
  publishPath,
  sanitizePath,
  type PublishSettings,
  type PublishSource,
} from '../publish.js';
import { matchesQuery, parseQuery, type QueryPackage } from '../query.js';
import { indexKey } from '../tree.js';
import { compareVersions } from '../version.js';
import type { DebianService } from '../service.js';

/** A status and a JSON body: what a task returns and a sync call answers. */
export interface Outcome {
  readonly status: number;
  readonly body: unknown;
}

/** The `Signing` object of publish calls (debian.md §7.7.2); per call, never stored. */
export interface SigningOptions {
  readonly skip: boolean;
  readonly gpgKeys: readonly string[];
}

/** One uploaded part, as the route hands it over. */
export interface UploadPart {
  readonly fileName: string;
  readonly body: Readable;
}

/** Query options of the package lists (debian.md §7.5). */
export interface ListOptions {
  readonly q?: string;
  readonly details: boolean;
  readonly maximumVersion: boolean;
  readonly withDeps: boolean;
}

export interface PublishCreate {
  readonly sourceKind: string;
  readonly sources: readonly { component: string; name: string }[];
  readonly distribution: string;
  readonly label?: string;
  readonly origin?: string;
  readonly notAutomatic?: string;
  readonly butAutomaticUpgrades?: string;
  readonly architectures?: readonly string[];
  readonly forceOverwrite: boolean;
  readonly skipContents: boolean;
  readonly acquireByHash: boolean;
  readonly signedBy: string;
  readonly multiDist: boolean;
  readonly version: string;
  readonly signing: SigningOptions;
}

export interface PublishUpdate {
  readonly signing: SigningOptions;
  readonly forceOverwrite: boolean;
  readonly skipCleanup: boolean;
  readonly skipContents?: boolean;
  readonly acquireByHash?: boolean;
  readonly multiDist?: boolean;
  readonly signedBy?: string;
  readonly label?: string;
  readonly origin?: string;
  readonly version?: string;
  readonly architectures?: readonly string[];
  readonly snapshots?: readonly { component: string; name: string }[];
}

export interface AptlyServiceOptions {
  readonly debian: DebianService;
  /** `GET /api/version`: the aptly API level copied. */
  readonly apiVersion?: string;
}

const TASK_IDLE = 0;
const TASK_RUNNING = 1;
const TASK_SUCCEEDED = 2;
const TASK_FAILED = 3;
const HEARTBEAT_MS = 5_000;
const WORKER_LOST_MS = 60_000;
const TASK_KEEP_MS = 24 * 3600_000;
const PACKAGE_SUFFIXES = ['.deb', '.udeb', '.ddeb'];

/** Repo and snapshot names: 1–255 characters, no `/`, not `.` or `..` (§7.1). */
export function checkObjectName(name: string): string {
  if (name === '' || name.length > 255 || name.includes('/') || name === '.' || name === '..' || name.includes('\0')) {
    throw badRequest(`invalid name ${name}`);
  }
  return name;
}

/** aptly's verifyPath on upload dirs and files (§7.3). */
export function checkUploadPath(value: string, what: 'dir' | 'file'): string {
  const cleaned = sanitizePath(value);
  if (cleaned === '' || cleaned === '.' || cleaned === '..' || cleaned.includes('/') || cleaned.includes('\0')) throw badRequest(`wrong ${what}`);
  return cleaned;
}

const repoJson = (r: RepoRow) => ({
  Name: r.name,
  Comment: r.comment,
  DefaultDistribution: r.defaultDistribution,
  DefaultComponent: r.defaultComponent,
});

const snapshotJson = (s: SnapshotRow) => ({
  Name: s.name,
  CreatedAt: new Date(s.createdAtMs).toISOString(),
  SourceKind: s.sourceKind,
  Description: s.description,
  Origin: s.origin,
  NotAutomatic: s.notAutomatic,
  ButAutomaticUpgrades: s.butAutomaticUpgrades,
});

const taskJson = (t: TaskRow, nowMs: number) => ({
  Name: t.name,
  ID: t.id,
  State: effectiveState(t, nowMs),
  Resources: [] as string[],
});

/** A running task whose worker went silent for a minute reads as failed (§7.2). */
function effectiveState(t: TaskRow, nowMs: number): number {
  if ((t.state === TASK_RUNNING || t.state === TASK_IDLE) && nowMs - t.heartbeatAtMs > WORKER_LOST_MS) return TASK_FAILED;
  return t.state;
}

const repoNotFound = (name: string) => notFound(`local repo with name ${name} not found`);
const snapshotNotFound = (name: string) => notFound(`snapshot with name ${name} not found`);

/** Keeps one package per short key; `later` wins per name and architecture (snapshot merges). */
function mergeByNameArch(base: readonly DebPackageRow[], later: readonly DebPackageRow[]): DebPackageRow[] {
  const taken = new Set(later.map((p) => `${p.name}\0${p.architecture}`));
  return [...base.filter((p) => !taken.has(`${p.name}\0${p.architecture}`)), ...later];
}

/** Adds a package to a list keyed by short key; a different package there is a conflict. */
function addToList(list: Map<string, DebPackageRow>, p: DebPackageRow): void {
  const sk = shortKey(p);
  const existing = list.get(sk);
  if (existing && existing.key !== p.key) throw badRequest(`package already exists and is different: ${displayName(p)}`);
  list.set(sk, p);
}

/** aptly's REST API over the Debian store (debian.md §7). */
export class AptlyService {
  private readonly debian: DebianService;
  private readonly db: Knex;
  readonly apiVersion: string;

  constructor(o: AptlyServiceOptions) {
    this.debian = o.debian;
    this.db = o.debian.db;
    this.apiVersion = o.apiVersion ?? '1.6.3';
  }

  get maxUploadBytes(): number {
    return this.debian.maxUploadBytes;
  }

  private now(): number {
    return this.debian.now();
  }

  private locked<T>(owner: OwnerRef, trees: readonly string[], work: (lock: DebianLock) => Promise<T>): Promise<T> {
    return withDebianLocks(this.db, [aptlyLockKey(owner.id), ...trees], work, this.now());
  }

  /** `GET /api/ready`: the database answers (§7.8). */
  async ready(): Promise<boolean> {
    try {
      await this.db.raw('select 1');
      return true;
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- tasks (§7.2)

  /**
   * Runs an operation now (sync: its outcome is the answer) or as a task (async: 202 and the
   * task, the outcome kept in the task row). Failures carry their status either way.
   */
  async run(owner: OwnerRef, name: string, async: boolean, op: () => Promise<Outcome>, detail?: () => unknown): Promise<Outcome> {
    if (!async) return op();
    const nowMs = this.now();
    const id = await saveTask(this.db, { ownerId: owner.id, name, state: TASK_RUNNING, nowMs });
    const task = (await findTask(this.db, owner.id, id))!;
    void this.execute(id, name, op, detail);
    return { status: 202, body: taskJson(task, nowMs) };
  }

  private async execute(id: number, name: string, op: () => Promise<Outcome>, detail?: () => unknown): Promise<void> {
    const beat = setInterval(() => {
      updateTask(this.db, id, { heartbeatAtMs: this.now() }).catch(() => {});
    }, HEARTBEAT_MS);
    beat.unref();
    try {
      const outcome = await op();
      await updateTask(this.db, id, {
        state: TASK_SUCCEEDED,
        code: outcome.status,
        value: JSON.stringify(outcome.body ?? null),
        output: `${name}\nTask succeeded\n`,
        detail: JSON.stringify(detail?.() ?? {}),
        finishedAtMs: this.now(),
      });
    } catch (err) {
      const known = err instanceof HttpError;
      await updateTask(this.db, id, {
        state: TASK_FAILED,
        code: known ? err.status : 500,
        value: null,
        output: `${name}\nTask failed with error: ${known ? err.message : 'internal error'}\n`,
        finishedAtMs: this.now(),
      }).catch(() => {});
    } finally {
      clearInterval(beat);
    }
  }

  async listTasks(owner: OwnerRef): Promise<unknown[]> {
    const nowMs = this.now();
    await removeFinishedTasks(this.db, owner.id, nowMs - TASK_KEEP_MS);
    return (await listTasks(this.db, owner.id, nowMs - TASK_KEEP_MS)).map((t) => taskJson(t, nowMs));
  }

  private async task(owner: OwnerRef, rawId: string, status = 404): Promise<TaskRow> {
    const id = Number(rawId);
    const t = Number.isSafeInteger(id) && id > 0 ? await findTask(this.db, owner.id, id) : undefined;
    if (!t) throw new HttpError(status, `could not find task with id ${rawId}`);
    return t;
  }

  async showTask(owner: OwnerRef, id: string): Promise<unknown> {
    return taskJson(await this.task(owner, id), this.now());
  }

  /** Blocks until the task is done, polling the database (any replica may run it). */
  async waitTask(owner: OwnerRef, id: string): Promise<unknown> {
    for (;;) {
      const t = await this.task(owner, id, 400);
      const state = effectiveState(t, this.now());
      if (state === TASK_SUCCEEDED || state === TASK_FAILED) return taskJson(t, this.now());
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async waitAllTasks(owner: OwnerRef): Promise<void> {
    for (;;) {
      const nowMs = this.now();
      const open = (await listTasks(this.db, owner.id, nowMs)).filter((t) => {
        const s = effectiveState(t, nowMs);
        return s === TASK_IDLE || s === TASK_RUNNING;
      });
      if (open.length === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async taskOutput(owner: OwnerRef, id: string): Promise<string> {
    const t = await this.task(owner, id);
    if (effectiveState(t, this.now()) === TASK_FAILED && t.state !== TASK_FAILED) return `${t.name}\nTask failed with error: worker lost\n`;
    return t.output;
  }

  async taskDetail(owner: OwnerRef, id: string): Promise<unknown> {
    return JSON.parse((await this.task(owner, id)).detail) as unknown;
  }

  async taskReturnValue(owner: OwnerRef, id: string): Promise<unknown> {
    const t = await this.task(owner, id);
    const state = effectiveState(t, this.now());
    if (state === TASK_FAILED && t.state !== TASK_FAILED) return { Code: 500, Value: null };
    return { Code: t.code ?? 0, Value: t.value === null ? null : (JSON.parse(t.value) as unknown) };
  }

  async deleteTask(owner: OwnerRef, id: string): Promise<unknown> {
    const t = await this.task(owner, id, 400);
    const state = effectiveState(t, this.now());
    if (state === TASK_RUNNING || state === TASK_IDLE) throw badRequest(`task ${id} is still running`);
    await removeTask(this.db, t.id);
    return taskJson(t, this.now());
  }

  async clearTasks(owner: OwnerRef): Promise<void> {
    await removeFinishedTasks(this.db, owner.id);
  }

  // ---------------------------------------------------------------- files (§7.3)

  /** Stores one uploaded file as `dir/file`, replacing; a `.deb` is parsed on arrival. */
  async storeUpload(owner: OwnerRef, dir: string, part: UploadPart): Promise<string> {
    const fileName = checkUploadPath(part.fileName.split(/[\\/]/).pop() ?? '', 'file');
    const isPackage = PACKAGE_SUFFIXES.some((s) => fileName.endsWith(s));
    const { staged, info } = isPackage ? await this.debian.stageDeb(part.body) : { staged: await this.debian.stagePlain(part.body), info: undefined };
    try {
      const nowMs = this.now();
      let parsed: string | null = null;
      let error: string | null = null;
      if (info instanceof HttpError) error = info.message;
      else if (info) {
        const type = fileName.endsWith('.udeb') ? 'udeb' : 'deb';
        const row = this.debian.packageRow(owner.id, staged, info, fileName, type, nowMs);
        parsed = JSON.stringify({ ...row, contents: row.contents.toString('base64') });
      }
      await this.locked(owner, [], async (lock) => {
        await saveBlob(lock.trx, staged, nowMs);
        const promoted = await this.debian.blobs.promote(staged);
        lock.onRollback(promoted.undo);
        await saveUpload(lock.trx, owner.id, { dir, fileName, sha256: staged.digests.sha256, size: staged.size, parsed, error }, nowMs);
      });
      return `${dir}/${fileName}`;
    } finally {
      await staged.discard();
    }
  }

  async listUploadDirs(owner: OwnerRef): Promise<string[]> {
    return (await listUploadDirs(this.db, owner.id)).sort(compareBytes);
  }

  async listUploadFiles(owner: OwnerRef, dir: string): Promise<string[]> {
    const files = await listUploads(this.db, owner.id, dir);
    if (files.length === 0) throw notFound(`upload directory ${dir} not found`);
    return files.map((f) => f.fileName).sort(compareBytes);
  }

  async deleteUploads(owner: OwnerRef, dir: string, file?: string): Promise<void> {
    const existing = await listUploads(this.db, owner.id, dir);
    if (!existing.some((f) => file === undefined || f.fileName === file)) return; // missing is fine, and changes nothing
    await this.locked(owner, [], (lock) => removeUploads(lock.trx, owner.id, dir, file === undefined ? undefined : [file]));
  }

  // ---------------------------------------------------------------- repos (§7.4)

  private async repo(db: Knex, owner: OwnerRef, name: string): Promise<RepoRow> {
    const r = await findRepo(db, owner.id, name);
    if (!r) throw repoNotFound(name);
    return r;
  }

  async listRepos(owner: OwnerRef): Promise<unknown[]> {
    const repos = (await listRepos(this.db, owner.id)).sort((a, b) => compareBytes(a.name, b.name));
    return Promise.all(repos.map(async (r) => ({ ...repoJson(r), NumPackages: await countSetPackages(this.db, repoSet(r.id)) })));
  }

  async showRepo(owner: OwnerRef, name: string): Promise<unknown> {
    return repoJson(await this.repo(this.db, owner, name));
  }

  async createRepo(owner: OwnerRef, b: { name: string; comment: string; defaultDistribution: string; defaultComponent: string; fromSnapshot: string }): Promise<Outcome> {
    checkObjectName(b.name);
    if (b.fromSnapshot !== '' && !(await findSnapshot(this.db, owner.id, b.fromSnapshot))) {
      throw notFound(`source snapshot not found: snapshot with name ${b.fromSnapshot} not found`);
    }
    if (await findRepo(this.db, owner.id, b.name)) throw conflict(`local repo with name ${b.name} already exists`);
    return this.locked(owner, [], async (lock) => {
      if (await findRepo(lock.trx, owner.id, b.name)) throw conflict(`local repo with name ${b.name} already exists`);
      const row = {
        ownerId: owner.id,
        name: b.name,
        comment: b.comment,
        defaultDistribution: b.defaultDistribution,
        defaultComponent: b.defaultComponent,
        createdAtMs: this.now(),
      };
      const id = await saveRepo(lock.trx, row);
      if (b.fromSnapshot !== '') {
        const snap = await findSnapshot(lock.trx, owner.id, b.fromSnapshot);
        if (!snap) throw notFound(`source snapshot not found: snapshot with name ${b.fromSnapshot} not found`);
        await replaceSetPackages(lock.trx, repoSet(id), await listSetPackages(lock.trx, snapshotSet(snap.id)));
      }
      return { status: 201, body: repoJson({ id, ...row }) };
    });
  }

  async editRepo(owner: OwnerRef, name: string, b: { name?: string; comment?: string; defaultDistribution?: string; defaultComponent?: string }): Promise<Outcome> {
    await this.repo(this.db, owner, name);
    if (b.name !== undefined) checkObjectName(b.name);
    const renameTaken = async (db: Knex) => b.name !== undefined && b.name !== name && (await findRepo(db, owner.id, b.name)) !== undefined;
    if (await renameTaken(this.db)) throw conflict(`unable to rename: local repo "${b.name}" already exists`);
    return this.locked(owner, [], async (lock) => {
      const r = await this.repo(lock.trx, owner, name);
      if (await renameTaken(lock.trx)) throw conflict(`unable to rename: local repo "${b.name}" already exists`);
      const next = {
        name: b.name ?? r.name,
        comment: b.comment ?? r.comment,
        defaultDistribution: b.defaultDistribution ?? r.defaultDistribution,
        defaultComponent: b.defaultComponent ?? r.defaultComponent,
      };
      await updateRepo(lock.trx, r.id, next);
      return { status: 200, body: repoJson({ ...r, ...next }) };
    });
  }

  async dropRepo(owner: OwnerRef, name: string, force: boolean): Promise<Outcome> {
    await this.repo(this.db, owner, name);
    return this.locked(owner, [], async (lock) => {
      const r = await this.repo(lock.trx, owner, name);
      const publishes = await listPublishes(lock.trx, owner.id);
      const published = publishes.some((p) => p.sourceKind === 'local' && parsePublishSources(p.sources).some((s) => s.id === r.id));
      if (published) throw conflict('unable to drop, local repo is published');
      if (!force) {
        const snaps = await listSnapshots(lock.trx, owner.id);
        if (snaps.some((s) => s.sources.some((src) => src.kind === 'local' && src.id === r.id))) {
          throw conflict('unable to drop, local repo has snapshots, use ?force=1 to override');
        }
      }
      await removeRepo(lock.trx, r.id);
      return { status: 200, body: {} };
    });
  }

  /** `POST|DELETE /api/repos/{n}/packages {"PackageRefs":[…]}`. */
  async changeRepoPackages(owner: OwnerRef, name: string, refs: readonly string[], add: boolean): Promise<Outcome> {
    await this.repo(this.db, owner, name);
    return this.locked(owner, [], async (lock) => {
      const r = await this.repo(lock.trx, owner, name);
      const list = new Map((await listSetPackages(lock.trx, repoSet(r.id))).map((p) => [shortKey(p), p]));
      for (const ref of refs) {
        const p = await findPackageByKey(lock.trx, owner.id, ref);
        if (!p) throw notFound(`packages ${ref}: key not found`);
        if (add) addToList(list, p);
        else if (list.get(shortKey(p))?.key === p.key) list.delete(shortKey(p));
      }
      await replaceSetPackages(lock.trx, repoSet(r.id), [...list.values()]);
      return { status: 200, body: repoJson(r) };
    });
  }

  /** `POST /api/repos/{n}/file/{dir}[/{file}]`: adds parsed uploads; always 200 with a report. */
  async addUploadsToRepo(owner: OwnerRef, name: string, dir: string, file: string | undefined, o: { forceReplace: boolean; noRemove: boolean }): Promise<Outcome> {
    await this.repo(this.db, owner, name);
    return this.locked(owner, [], async (lock) => {
      const r = await this.repo(lock.trx, owner, name);
      const warnings: string[] = [];
      const added: string[] = [];
      const removed: string[] = [];
      const failed: string[] = [];
      const processed: string[] = [];
      const uploads = await listUploads(lock.trx, owner.id, dir);
      let candidates: UploadRow[];
      if (file === undefined) {
        if (uploads.length === 0) {
          warnings.push(`Unable to process ${dir}: upload directory not found`);
          failed.push(dir);
        }
        candidates = uploads.filter((u) => [...PACKAGE_SUFFIXES, '.dsc'].some((s) => u.fileName.endsWith(s)));
        processed.push(...uploads.filter((u) => u.fileName.endsWith('.buildinfo')).map((u) => u.fileName));
      } else {
        const one = uploads.find((u) => u.fileName === file);
        candidates = [];
        if (!one) {
          warnings.push(`Unable to process ${dir}/${file}: file not found`);
          failed.push(`${dir}/${file}`);
        } else if ([...PACKAGE_SUFFIXES, '.dsc'].some((s) => file.endsWith(s))) candidates = [one];
        else if (file.endsWith('.buildinfo')) processed.push(file);
        else {
          warnings.push(`Unknown file extension: ${dir}/${file}`);
          failed.push(`${dir}/${file}`);
        }
      }
      candidates.sort((a, b) => compareBytes(a.fileName, b.fileName));

      const list = new Map((await listSetPackages(lock.trx, repoSet(r.id))).map((p) => [shortKey(p), p]));
      for (const u of candidates) {
        const path = `${dir}/${u.fileName}`;
        if (u.fileName.endsWith('.dsc')) {
          warnings.push(`Unable to read file ${path}: source packages are not supported`);
          failed.push(path);
          continue;
        }
        if (u.parsed === null) {
          warnings.push(`Unable to read file ${path}: ${u.error ?? 'not a package'}`);
          failed.push(path);
          continue;
        }
        const raw = JSON.parse(u.parsed) as NewDebPackage & { contents: string };
        const row: NewDebPackage = { ...raw, contents: Buffer.from(raw.contents, 'base64'), createdAtMs: this.now() };
        const id = await savePackage(lock.trx, row);
        const [p] = await getPackages(lock.trx, [id]);
        if (!p) throw new Error('package vanished');
        const sk = shortKey(p);
        const existing = list.get(sk);
        if (o.forceReplace && existing) {
          removed.push(`${displayName(existing)} removed due to conflict with package being added`);
          list.delete(sk);
        } else if (existing && existing.key !== p.key) {
          warnings.push(`Unable to add package: package already exists and is different: ${displayName(p)}`);
          failed.push(path);
          continue;
        }
        list.set(sk, p);
        added.push(`${displayName(p)} added`);
        processed.push(u.fileName);
      }
      await replaceSetPackages(lock.trx, repoSet(r.id), [...list.values()]);
      if (!o.noRemove && processed.length) await removeUploads(lock.trx, owner.id, dir, [...new Set(processed)]);
      return { status: 200, body: { FailedFiles: failed, Report: { Warnings: warnings, Added: added, Removed: removed } } };
    });
  }

  // ---------------------------------------------------------------- package lists (§7.5)

  /** Keys or details of a set of packages, filtered by the query options. */
  private async packageList(packages: readonly DebPackageRow[], o: ListOptions): Promise<unknown[]> {
    if (o.withDeps) throw badRequest('withDeps is not supported');
    const query = o.q ? parseQuery(o.q) : undefined;
    const controls = query || o.details ? await loadControls(this.db, packages.map((p) => p.id)) : new Map<number, [string, string][]>();
    let selected = [...packages];
    if (query) {
      selected = selected.filter((p) => {
        const fields = new Map(controls.get(p.id) ?? []);
        const qp: QueryPackage = { name: p.name, version: p.version, architecture: p.architecture, type: p.type, source: fields.get('Source') ?? '', fields };
        return matchesQuery(query, qp);
      });
    }
    if (o.maximumVersion) {
      const best = new Map<string, string>();
      for (const p of selected) {
        const v = best.get(p.name);
        if (v === undefined || compareVersions(p.version, v) > 0) best.set(p.name, p.version);
      }
      selected = selected.filter((p) => compareVersions(p.version, best.get(p.name)!) === 0);
    }
    selected.sort((a, b) => compareBytes(a.key, b.key));
    if (!o.details) return selected.map((p) => p.key);
    return selected.map((p) => packageDetails(p, controls.get(p.id) ?? []));
  }

  async repoPackages(owner: OwnerRef, name: string, o: ListOptions): Promise<unknown[]> {
    const r = await this.repo(this.db, owner, name);
    return this.packageList(await listSetPackages(this.db, repoSet(r.id)), o);
  }

  async snapshotPackages(owner: OwnerRef, name: string, o: ListOptions): Promise<unknown[]> {
    const s = await this.snapshot(this.db, owner, name);
    return this.packageList(await listSetPackages(this.db, snapshotSet(s.id)), o);
  }

  async allPackages(owner: OwnerRef, o: ListOptions): Promise<unknown[]> {
    return this.packageList(await listOwnerPackages(this.db, owner.id), o);
  }

  async showPackage(owner: OwnerRef, key: string): Promise<unknown> {
    const p = await findPackageByKey(this.db, owner.id, key);
    if (!p) throw notFound(`key not found`);
    const controls = await loadControls(this.db, [p.id]);
    return packageDetails(p, controls.get(p.id) ?? []);
  }

  // ---------------------------------------------------------------- snapshots (§7.6)

  private async snapshot(db: Knex, owner: OwnerRef, name: string): Promise<SnapshotRow> {
    const s = await findSnapshot(db, owner.id, name);
    if (!s) throw snapshotNotFound(name);
    return s;
  }

  async listSnapshots(owner: OwnerRef, sort: string): Promise<unknown[]> {
    if (sort !== '' && sort !== 'name' && sort !== 'time') throw badRequest('invalid sort method');
    const snaps = await listSnapshots(this.db, owner.id);
    snaps.sort((a, b) => (sort === 'time' ? a.createdAtMs - b.createdAtMs || a.id - b.id : compareBytes(a.name, b.name)));
    return Promise.all(snaps.map(async (s) => ({ ...snapshotJson(s), NumPackages: await countSetPackages(this.db, snapshotSet(s.id)) })));
  }

  async showSnapshot(owner: OwnerRef, name: string): Promise<unknown> {
    return snapshotJson(await this.snapshot(this.db, owner, name));
  }

  async snapshotRepo(owner: OwnerRef, repoName: string, b: { name: string; description: string }): Promise<Outcome> {
    checkObjectName(b.name);
    await this.repo(this.db, owner, repoName);
    return this.locked(owner, [], async (lock) => {
      const r = await this.repo(lock.trx, owner, repoName);
      if (await findSnapshot(lock.trx, owner.id, b.name)) throw badRequest(`snapshot with name ${b.name} already exists`);
      const row: Omit<SnapshotRow, 'id'> = {
        ownerId: owner.id,
        name: b.name,
        description: b.description || `Snapshot from local repo [${r.name}]${r.comment ? `: ${r.comment}` : ''}`,
        sourceKind: 'local',
        sources: [{ kind: 'local', id: r.id }],
        origin: '',
        notAutomatic: '',
        butAutomaticUpgrades: '',
        createdAtMs: this.now(),
      };
      const id = await saveSnapshot(lock.trx, row);
      await replaceSetPackages(lock.trx, snapshotSet(id), await listSetPackages(lock.trx, repoSet(r.id)));
      return { status: 201, body: snapshotJson({ id, ...row }) };
    });
  }

  async createSnapshot(owner: OwnerRef, b: { name: string; description: string; sourceSnapshots: readonly string[]; packageRefs: readonly string[] }): Promise<Outcome> {
    checkObjectName(b.name);
    for (const s of b.sourceSnapshots) await this.snapshot(this.db, owner, s);
    return this.locked(owner, [], async (lock) => {
      const sources: SnapshotRow[] = [];
      for (const s of b.sourceSnapshots) sources.push(await this.snapshot(lock.trx, owner, s));
      let packages: DebPackageRow[] = [];
      for (const s of sources) packages = mergeByNameArch(packages, await listSetPackages(lock.trx, snapshotSet(s.id)));
      if (b.packageRefs.length) {
        const list = new Map<string, DebPackageRow>();
        for (const ref of b.packageRefs) {
          const p = await findPackageByKey(lock.trx, owner.id, ref);
          if (!p) throw notFound(`package ${ref}: key not found`);
          addToList(list, p);
        }
        packages = mergeByNameArch(packages, [...list.values()]);
      }
      if (await findSnapshot(lock.trx, owner.id, b.name)) throw badRequest(`snapshot with name ${b.name} already exists`);
      const row: Omit<SnapshotRow, 'id'> = {
        ownerId: owner.id,
        name: b.name,
        description: b.description || (b.sourceSnapshots.length + b.packageRefs.length === 0 ? 'Created as empty' : ''),
        sourceKind: 'snapshot',
        sources: sources.map((s) => ({ kind: 'snapshot', id: s.id })),
        origin: '',
        notAutomatic: '',
        butAutomaticUpgrades: '',
        createdAtMs: this.now(),
      };
      const id = await saveSnapshot(lock.trx, row);
      await replaceSetPackages(lock.trx, snapshotSet(id), packages);
      return { status: 201, body: snapshotJson({ id, ...row }) };
    });
  }

  async editSnapshot(owner: OwnerRef, name: string, b: { name?: string; description?: string }): Promise<Outcome> {
    await this.snapshot(this.db, owner, name);
    if (b.name !== undefined && b.name !== '') checkObjectName(b.name);
    const taken = async (db: Knex) => b.name !== undefined && b.name !== '' && b.name !== name && (await findSnapshot(db, owner.id, b.name)) !== undefined;
    if (await taken(this.db)) throw conflict(`unable to rename: snapshot ${b.name} already exists`);
    return this.locked(owner, [], async (lock) => {
      const s = await this.snapshot(lock.trx, owner, name);
      if (await taken(lock.trx)) throw conflict(`unable to rename: snapshot ${b.name} already exists`);
      const next = { name: b.name || s.name, description: b.description || s.description };
      await updateSnapshot(lock.trx, s.id, next);
      return { status: 200, body: snapshotJson({ ...s, ...next }) };
    });
  }

  async dropSnapshot(owner: OwnerRef, name: string, force: boolean): Promise<Outcome> {
    await this.snapshot(this.db, owner, name);
    return this.locked(owner, [], async (lock) => {
      const s = await this.snapshot(lock.trx, owner, name);
      const publishes = await listPublishes(lock.trx, owner.id);
      if (publishes.some((p) => p.sourceKind === 'snapshot' && parsePublishSources(p.sources).some((src) => src.id === s.id))) {
        throw conflict('unable to drop: snapshot is published');
      }
      if (!force) {
        const snaps = await listSnapshots(lock.trx, owner.id);
        if (snaps.some((o) => o.sources.some((src) => src.kind === 'snapshot' && src.id === s.id))) {
          throw conflict("won't delete snapshot that was used as source for other snapshots, use ?force=1 to override");
        }
      }
      await removeSnapshot(lock.trx, s.id);
      return { status: 200, body: {} };
    });
  }

  // ---------------------------------------------------------------- publish (§7.7)

  /** The owner key, checked against `Signing.GpgKey` (A2), fetched before any lock. */
  async signingKeyFor(owner: OwnerRef, signing: SigningOptions): Promise<SigningKey | undefined> {
    if (signing.skip) return undefined;
    const fingerprint = (await this.debian.keyFingerprint(owner)).toUpperCase();
    for (const raw of signing.gpgKeys) {
      const id = raw.trim().replace(/^0x/i, '').toUpperCase();
      if (id === '') continue;
      const known = /^[0-9A-F]+$/.test(id) && [40, 16, 8].includes(id.length) && fingerprint.endsWith(id);
      if (!known) throw badRequest(`unable to initialize GPG signer: unknown key ${raw.trim()}`);
    }
    return this.debian.signingKey(owner);
  }

  private async publishJson(db: Knex, tree: TreeRow, p: PublishRow): Promise<Record<string, unknown>> {
    const s = parsePublishSettings(p.settings);
    const sources = await Promise.all(
      parsePublishSources(p.sources).map(async (src) => ({
        Component: src.component,
        Name: (p.sourceKind === 'local' ? (await getRepo(db, src.id))?.name : (await getSnapshot(db, src.id))?.name) ?? '',
      })),
    );
    sources.sort((a, b) => compareBytes(a.Component, b.Component));
    return {
      AcquireByHash: s.acquireByHash,
      Architectures: [...s.architectures],
      ButAutomaticUpgrades: s.butAutomaticUpgrades,
      Codename: '',
      Distribution: tree.distribution,
      Label: s.label,
      MultiDist: s.multiDist,
      NotAutomatic: s.notAutomatic,
      Origin: s.origin,
      Path: publishPath(tree.prefix, tree.distribution),
      Prefix: tree.prefix,
      SignedBy: s.signedBy,
      SkipContents: s.skipContents,
      SourceKind: p.sourceKind,
      Sources: sources,
      Storage: '',
      Suite: '',
      Version: s.version,
    };
  }

  async listPublishes(owner: OwnerRef): Promise<unknown[]> {
    const trees = (await listTrees(this.db, owner.id)).filter((t) => t.kind === 'aptly');
    trees.sort((a, b) => compareBytes(a.prefix, b.prefix) || compareBytes(a.distribution, b.distribution));
    const out: unknown[] = [];
    for (const t of trees) {
      const p = await findPublishByTree(this.db, t.id);
      if (p) out.push(await this.publishJson(this.db, t, p));
    }
    return out;
  }

  private async publish(db: Knex, owner: OwnerRef, prefix: string, distribution: string, verb: string): Promise<{ tree: TreeRow; publish: PublishRow }> {
    const tree = await findTree(db, owner.id, prefix, distribution);
    const publish = tree && tree.kind === 'aptly' ? await findPublishByTree(db, tree.id) : undefined;
    if (!tree || !publish) throw notFound(`unable to ${verb}: published repo with storage:prefix/distribution ${prefix}/${distribution} not found`);
    return { tree, publish };
  }

  async showPublish(owner: OwnerRef, prefix: string, distribution: string): Promise<unknown> {
    const { tree, publish } = await this.publish(this.db, owner, prefix, distribution, 'show');
    return this.publishJson(this.db, tree, publish);
  }

  /** Lock keys of a publish: its tree, and at the root every registry tree it could overlap. */
  private publishLocks(owner: OwnerRef, prefix: string, distribution: string): string[] {
    const keys = [treeLockKey(owner.id, prefix, distribution)];
    const segments = distribution.split('/');
    for (let i = 1; i < segments.length; i++) keys.push(treeLockKey(owner.id, prefix, segments.slice(0, i).join('/')));
    return keys;
  }

  /** Follows snapshots back to their local repos, collecting default D and C (§7.7.4). */
  private async rootDefaults(db: Knex, kind: 'local' | 'snapshot', id: number): Promise<{ distributions: string[]; components: string[] }> {
    const distributions: string[] = [];
    const components: string[] = [];
    const queue: { kind: 'local' | 'snapshot'; id: number }[] = [{ kind, id }];
    const seen = new Set<string>();
    while (queue.length) {
      const head = queue.shift()!;
      const k = `${head.kind}:${head.id}`;
      if (seen.has(k)) continue;
      seen.add(k);
      if (head.kind === 'local') {
        const r = await getRepo(db, head.id);
        if (r?.defaultDistribution) distributions.push(r.defaultDistribution);
        if (r?.defaultComponent) components.push(r.defaultComponent);
      } else {
        const s = await getSnapshot(db, head.id);
        if (s) queue.push(...s.sources);
      }
    }
    return { distributions, components };
  }

  /** The members of each component: a local repo's current packages, or a snapshot's. */
  private async sourcePackages(db: Knex, kind: 'local' | 'snapshot', id: number): Promise<DebPackageRow[]> {
    return listSetPackages(db, kind === 'local' ? repoSet(id) : snapshotSet(id));
  }

  /**
   * Computes members and pool paths, checks the pool (row 10), stores members and pool rows,
   * and builds the tree. Returns the (C, A) keys whose members changed.
   */
  private async applyMembers(
    lock: DebianLock,
    owner: OwnerRef,
    tree: TreeRow,
    publishId: number,
    kind: 'local' | 'snapshot',
    sources: readonly PublishSource[],
    settings: PublishSettings,
    forceOverwrite: boolean,
    verb: string,
  ): Promise<{ changed: Set<string>; count: number }> {
    const trx = lock.trx;
    const before = await listPublishMembers(trx, publishId);
    const wanted: { component: string; pkg: DebPackageRow; poolPath: string }[] = [];
    for (const src of sources) {
      for (const pkg of await this.sourcePackages(trx, kind, src.id)) {
        const poolPath = aptlyPoolPath({
          component: src.component,
          source: pkg.sourceName,
          fileName: pkg.fileName,
          multiDistDistribution: settings.multiDist ? tree.distribution : undefined,
        });
        wanted.push({ component: src.component, pkg, poolPath });
      }
    }
    // Row 10: a pool path holding other bytes, from another publish or within this one.
    const claimed = new Map<string, DebPackageRow>();
    for (const m of wanted) {
      const other = claimed.get(m.poolPath);
      const existing = other ?? (await this.poolPackage(trx, owner, tree.prefix, m.poolPath));
      if (existing && existing.sha256 !== m.pkg.sha256 && !forceOverwrite) {
        throw badRequest(`unable to ${verb}: unable to process packages: error linking file to ${m.poolPath}: file already exists and is different`);
      }
      claimed.set(m.poolPath, m.pkg);
    }
    for (const [path, pkg] of claimed) await savePoolFile(trx, owner.id, { prefix: tree.prefix, path, packageId: pkg.id });

    const changed = new Set<string>();
    const sig = (m: { component: string; pkg: DebPackageRow; poolPath: string }) => `${m.component}\0${m.pkg.id}\0${m.poolPath}`;
    const beforeSigs = new Set(before.map(sig));
    const wantedSigs = new Set(wanted.map(sig));
    for (const m of before) if (!wantedSigs.has(sig(m))) changed.add(indexKey(m.component, m.pkg.architecture));
    for (const m of wanted) if (!beforeSigs.has(sig(m))) changed.add(indexKey(m.component, m.pkg.architecture));
    const components = new Set([...before.map((m) => m.component), ...sources.map((s) => s.component)]);
    for (const component of components) {
      await replacePublishMembers(
        trx,
        publishId,
        component,
        wanted.filter((m) => m.component === component).map((m) => ({ packageId: m.pkg.id, poolPath: m.poolPath })),
      );
    }
    return { changed, count: wanted.length };
  }

  private async poolPackage(trx: Knex, owner: OwnerRef, prefix: string, path: string): Promise<DebPackageRow | undefined> {
    const row = await findPoolFile(trx, owner.id, prefix, path);
    if (!row) return undefined;
    return (await getPackages(trx, [row.packageId]))[0];
  }

  /** Pool rows of a prefix that no publish member references any more (unless SkipCleanup). */
  private async cleanupPool(trx: Knex.Transaction, owner: OwnerRef, prefix: string): Promise<void> {
    const used = await listPrefixPoolPaths(trx, owner.id, prefix);
    const stale = (await listPoolFiles(trx, owner.id, prefix)).filter((r) => !used.has(r.path)).map((r) => r.path);
    await removePoolFiles(trx, owner.id, prefix, stale);
  }

  private checkArchitectures(archs: readonly string[], verb: string): string[] {
    for (const a of archs) if (!isArchitecture(a, true)) throw badRequest(`unable to ${verb}: invalid architecture ${a}`);
    return [...new Set(archs)].sort(compareBytes);
  }

  /** `POST /api/publish[/{prefix}]` (debian.md §7.7.4), rows checked in the spec's order. */
  async createPublish(owner: OwnerRef, decodedPrefix: string, b: PublishCreate, detail: { total: number }): Promise<Outcome> {
    const key = await this.signingKeyFor(owner, b.signing); // row 2
    if (b.sources.length === 0) throw badRequest('unable to publish: sources are empty'); // row 3
    if (b.sourceKind !== 'local' && b.sourceKind !== 'snapshot') throw badRequest('unknown SourceKind'); // row 4
    const kind: 'local' | 'snapshot' = b.sourceKind;
    // Row 5.
    const resolved: { component: string; id: number }[] = [];
    for (const s of b.sources) {
      const found = kind === 'local' ? await findRepo(this.db, owner.id, s.name) : await findSnapshot(this.db, owner.id, s.name);
      if (!found) throw notFound(`unable to publish: ${kind === 'local' ? 'local repo' : 'snapshot'} with name ${s.name} not found`);
      resolved.push({ component: s.component, id: found.id });
    }
    // Row 6.
    const prefix = parsePublishPrefix(decodedPrefix);
    if (!isPublishPrefix(prefix)) throw badRequest(`unable to publish: invalid prefix ${prefix}`);
    // Row 7: guess components and the distribution.
    const collectedDists: string[] = [];
    for (const s of resolved) {
      const roots = await this.rootDefaults(this.db, kind, s.id);
      if (b.distribution === '') collectedDists.push(...roots.distributions);
      if (s.component === '') {
        const comps = [...new Set(roots.components)];
        if (comps.length === 1) s.component = comps[0]!;
        else if (resolved.length === 1) s.component = 'main';
        else throw badRequest(`unable to publish: unable to figure out component name for [${b.sources[resolved.indexOf(s)]!.name}]`);
      }
    }
    const seenComponents = new Set<string>();
    for (const s of resolved) {
      if (seenComponents.has(s.component)) throw badRequest(`unable to publish: duplicate component name: ${s.component}`);
      seenComponents.add(s.component);
      if (!isTreeName(s.component)) throw badRequest(`unable to publish: invalid component ${s.component}`);
    }
    let distribution = sanitizePath(b.distribution);
    if (distribution === '') {
      const dists = [...new Set(collectedDists)];
      if (dists.length !== 1) throw badRequest('unable to publish: unable to guess distribution name, please specify explicitly');
      distribution = dists[0]!;
    }
    if (!isTreeName(distribution)) throw badRequest(`unable to publish: invalid distribution ${distribution}`);
    const explicitArchs = b.architectures && b.architectures.length ? this.checkArchitectures(b.architectures, 'publish') : undefined;

    return this.locked(owner, this.publishLocks(owner, prefix, distribution), async (lock) => {
      const trx = lock.trx;
      // Row 8: the (prefix, D) and any overlapping distribution of the prefix.
      const taken = async (t: TreeRow) =>
        t.kind === 'aptly' ? (await findPublishByTree(trx, t.id)) !== undefined : (await listRegistryEntries(trx, owner.id, t.distribution)).length > 0;
      for (const t of await listTrees(trx, owner.id, prefix)) {
        const overlaps = t.distribution === distribution || t.distribution.startsWith(`${distribution}/`) || distribution.startsWith(`${t.distribution}/`);
        if (overlaps && (await taken(t))) throw badRequest(`prefix/distribution already used by another published repo: ${publishPath(t.prefix, t.distribution)}`);
      }
      // Snapshots pass on Origin, NotAutomatic, ButAutomaticUpgrades when all agree.
      const inherited = { origin: '', notAutomatic: '', butAutomaticUpgrades: '' };
      if (kind === 'snapshot') {
        const snaps = await Promise.all(resolved.map(async (s) => (await getSnapshot(trx, s.id))!));
        const agreed = (pick: (s: SnapshotRow) => string) => {
          const values = [...new Set(snaps.map(pick))];
          return values.length === 1 ? values[0]! : '';
        };
        inherited.origin = agreed((s) => s.origin);
        inherited.notAutomatic = agreed((s) => s.notAutomatic);
        inherited.butAutomaticUpgrades = agreed((s) => s.butAutomaticUpgrades);
      }
      let architectures = explicitArchs;
      if (!architectures) {
        const archs = new Set<string>();
        for (const s of resolved) for (const p of await this.sourcePackages(trx, kind, s.id)) if (p.architecture !== 'all') archs.add(p.architecture);
        architectures = [...archs].sort(compareBytes);
      }
      if (architectures.length === 0) throw badRequest('unable to publish: unable to figure out list of architectures, please supply explicit list'); // row 9

      const settings: PublishSettings = {
        origin: b.origin || inherited.origin,
        label: b.label ?? '',
        notAutomatic: b.notAutomatic || inherited.notAutomatic,
        butAutomaticUpgrades: b.butAutomaticUpgrades || inherited.butAutomaticUpgrades,
        architectures,
        acquireByHash: b.acquireByHash,
        signedBy: b.signedBy,
        multiDist: b.multiDist,
        version: b.version,
        skipContents: b.skipContents,
      };
      const nowMs = this.now();
      let tree = await saveTree(trx, { ownerId: owner.id, prefix, distribution, kind: 'aptly' }, nowMs);
      if (tree.kind !== 'aptly') {
        // An emptied registry distribution at the root: the publish takes it over.
        await removeTree(trx, tree.id);
        tree = await saveTree(trx, { ownerId: owner.id, prefix, distribution, kind: 'aptly' }, nowMs);
      }
      const sources = resolved.map((s) => ({ component: s.component, id: s.id }));
      const publishId = await savePublish(trx, {
        treeId: tree.id,
        ownerId: owner.id,
        sourceKind: kind,
        settings: formatPublishSettings(settings),
        sources: JSON.stringify(sources),
        staged: null,
        createdAtMs: nowMs,
      });
      const { count } = await this.applyMembers(lock, owner, tree, publishId, kind, sources, settings, b.forceOverwrite, 'publish'); // row 10
      detail.total = count;
      await this.debian.buildTree(lock, tree, 'all', key);
      const publish = (await findPublishByTree(trx, tree.id))!;
      return { status: 201, body: await this.publishJson(trx, (await getTree(trx, tree.id))!, publish) };
    });
  }

  /**
   * `PUT …/{D}` and `POST …/{D}/update` (debian.md §7.7.5): new settings, current sources (or
   * the staged ones), members diffed per component, dirty indexes rebuilt.
   */
  async updatePublish(owner: OwnerRef, prefix: string, distribution: string, b: PublishUpdate, applyStaged: boolean, detail: { total: number }): Promise<Outcome> {
    const found = await this.publish(this.db, owner, prefix, distribution, 'update');
    if (b.snapshots && found.publish.sourceKind === 'local') throw badRequest("snapshots shouldn't be given when updating local repo");
    for (const s of b.snapshots ?? []) if (!(await findSnapshot(this.db, owner.id, s.name))) throw snapshotNotFound(s.name);
    const key = await this.signingKeyFor(owner, b.signing);
    const archs = b.architectures ? this.checkArchitectures(b.architectures, 'update') : undefined;
    if (archs && archs.length === 0) throw badRequest('unable to update: unable to figure out list of architectures, please supply explicit list');

    return this.locked(owner, this.publishLocks(owner, prefix, distribution), async (lock) => {
      const trx = lock.trx;
      const { tree, publish } = await this.publish(trx, owner, prefix, distribution, 'update');
      const old = parsePublishSettings(publish.settings);
      const settings: PublishSettings = {
        ...old,
        skipContents: b.skipContents ?? old.skipContents,
        acquireByHash: b.acquireByHash ?? old.acquireByHash,
        multiDist: b.multiDist ?? old.multiDist,
        signedBy: b.signedBy ?? old.signedBy,
        label: b.label ?? old.label,
        origin: b.origin ?? old.origin,
        version: b.version ?? old.version,
        architectures: archs ?? old.architectures,
      };
      let sources = parsePublishSources(publish.sources);
      const staged = publish.staged === null ? undefined : (JSON.parse(publish.staged) as Record<string, string>);
      if (staged && (applyStaged || !b.snapshots)) {
        const next: PublishSource[] = [];
        for (const [component, name] of Object.entries(staged).sort(([a], [c]) => compareBytes(a, c))) {
          const src = publish.sourceKind === 'local' ? await findRepo(trx, owner.id, name) : await findSnapshot(trx, owner.id, name);
          if (!src) throw notFound(`unable to update: ${publish.sourceKind === 'local' ? 'local repo' : 'snapshot'} with name ${name} not found`);
          next.push({ component, id: src.id });
        }
        sources = next;
      }
      for (const s of b.snapshots ?? []) {
        const snap = await findSnapshot(trx, owner.id, s.name);
        if (!snap) throw snapshotNotFound(s.name);
        sources = [...sources.filter((x) => x.component !== s.component), { component: s.component, id: snap.id }];
      }
      sources.sort((a, c) => compareBytes(a.component, c.component));
      const { changed, count } = await this.applyMembers(lock, owner, tree, publish.id, publish.sourceKind, sources, settings, b.forceOverwrite, 'update');
      detail.total = count;
      await updatePublish(trx, publish.id, { settings: formatPublishSettings(settings), sources: JSON.stringify(sources), staged: null });
      const settingsChanged = formatPublishSettings(settings) !== formatPublishSettings(old) || JSON.stringify(sources.map((s) => s.component)) !== JSON.stringify(parsePublishSources(publish.sources).map((s) => s.component).sort(compareBytes));
      await this.debian.buildTree(lock, tree, settingsChanged ? 'all' : changed, key);
      if (!b.skipCleanup) await this.cleanupPool(trx, owner, prefix);
      return { status: 200, body: await this.publishJson(trx, (await getTree(trx, tree.id))!, (await findPublishByTree(trx, tree.id))!) };
    });
  }

  /** `DELETE /api/publish/{p}/{D}`: its files and members go; pool rows unless SkipCleanup. */
  async dropPublish(owner: OwnerRef, prefix: string, distribution: string, skipCleanup: boolean): Promise<Outcome> {
    await this.publish(this.db, owner, prefix, distribution, 'drop');
    return this.locked(owner, this.publishLocks(owner, prefix, distribution), async (lock) => {
      const { tree, publish } = await this.publish(lock.trx, owner, prefix, distribution, 'drop');
      const files = await listCurrentTreeFiles(lock.trx, tree.id);
      await supersedeTreeFiles(lock.trx, files.map((f) => f.id), this.now());
      await removePublish(lock.trx, publish.id);
      await removeTree(lock.trx, tree.id);
      if (!skipCleanup) await this.cleanupPool(lock.trx, owner, prefix);
      return { status: 200, body: {} };
    });
  }

  // ---------------------------------------------------------------- staged sources (§7.7.6)

  private stagedOf(p: PublishRow, names: Map<number, string>): Record<string, string> {
    if (p.staged !== null) return JSON.parse(p.staged) as Record<string, string>;
    return Object.fromEntries(parsePublishSources(p.sources).map((s) => [s.component, names.get(s.id) ?? '']));
  }

  private async sourceNames(db: Knex, p: PublishRow): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const s of parsePublishSources(p.sources)) {
      const name = p.sourceKind === 'local' ? (await getRepo(db, s.id))?.name : (await getSnapshot(db, s.id))?.name;
      out.set(s.id, name ?? '');
    }
    return out;
  }

  private static sortedSources(staged: Record<string, string>) {
    return Object.entries(staged)
      .sort(([a], [b]) => compareBytes(a, b))
      .map(([Component, Name]) => ({ Component, Name }));
  }

  async listStaged(owner: OwnerRef, prefix: string, distribution: string): Promise<unknown> {
    const { publish } = await this.publish(this.db, owner, prefix, distribution, 'show');
    if (publish.staged === null) throw notFound('unable to show: No source changes exist');
    return AptlyService.sortedSources(JSON.parse(publish.staged) as Record<string, string>);
  }

  /** Runs a change of the staged sources under the owner's lock. */
  private async changeStaged(
    owner: OwnerRef,
    prefix: string,
    distribution: string,
    verb: string,
    change: (staged: Record<string, string>) => Outcome | Promise<Outcome>,
    clear = false,
  ): Promise<Outcome> {
    await this.publish(this.db, owner, prefix, distribution, verb);
    return this.locked(owner, [], async (lock) => {
      const { publish } = await this.publish(lock.trx, owner, prefix, distribution, verb);
      const staged = this.stagedOf(publish, await this.sourceNames(lock.trx, publish));
      const outcome = await change(staged);
      await updatePublish(lock.trx, publish.id, { staged: clear ? null : JSON.stringify(staged) });
      return outcome;
    });
  }

  addStaged(owner: OwnerRef, prefix: string, distribution: string, component: string, name: string): Promise<Outcome> {
    return this.changeStaged(owner, prefix, distribution, 'create', (staged) => {
      if (component in staged) throw badRequest(`unable to create: Component '${component}' already exists`);
      staged[component] = name;
      return { status: 201, body: {} };
    });
  }

  setStaged(owner: OwnerRef, prefix: string, distribution: string, list: readonly { component: string; name: string }[]): Promise<Outcome> {
    return this.changeStaged(owner, prefix, distribution, 'update', (staged) => {
      for (const k of Object.keys(staged)) delete staged[k];
      for (const s of list) staged[s.component] = s.name;
      return { status: 200, body: AptlyService.sortedSources(staged) };
    });
  }

  dropStaged(owner: OwnerRef, prefix: string, distribution: string): Promise<Outcome> {
    return this.changeStaged(owner, prefix, distribution, 'delete', () => ({ status: 200, body: {} }), true);
  }

  updateStaged(owner: OwnerRef, prefix: string, distribution: string, component: string, b: { component?: string; name: string }): Promise<Outcome> {
    return this.changeStaged(owner, prefix, distribution, 'update', (staged) => {
      if (!(component in staged)) throw notFound(`unable to update: Component '${component}' does not exist`);
      const target = b.component || component;
      delete staged[component];
      staged[target] = b.name;
      return { status: 200, body: {} };
    });
  }

  removeStaged(owner: OwnerRef, prefix: string, distribution: string, component: string): Promise<Outcome> {
    return this.changeStaged(owner, prefix, distribution, 'delete', (staged) => {
      if (!(component in staged)) throw notFound(`unable to delete: Component '${component}' does not exist`);
      delete staged[component];
      return { status: 200, body: {} };
    });
  }
}

/** `format=details`: the stored control fields plus aptly's file and key fields (§7.5). */
export function packageDetails(p: DebPackageRow, control: readonly (readonly [string, string])[]): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(control);
  out.Package = p.name;
  out.Version = p.version;
  out.Architecture = p.architecture;
  out.Filename = p.fileName;
  out.Size = String(p.size);
  out.MD5sum = p.md5;
  out.SHA1 = p.sha1;
  out.SHA256 = p.sha256;
  out.SHA512 = p.sha512;
  out.FilesHash = filesHash(p);
  out.Key = p.key;
  out.ShortKey = shortKey(p);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => compareBytes(a, b)));
}
