import { Readable } from 'node:stream';
import type { Knex } from 'knex';
import type { OwnerRef, Uploader } from '../../auth/decision.js';
import { memoryFile, type BlobStore, type StagedBlob, type StoredFile } from '../../blobs/store.js';
import { saveBlob } from '../../db/blobs.js';
import { findIndexFile, removeIndexFiles, type IndexFileRow } from '../../db/index-files.js';
import {
  findRepositoryId,
  removeRepository,
  withExistingRepositoryLock,
  withRepositoryLock,
  type RepositoryKey,
  type RepositoryLock,
} from '../../db/locks.js';
import {
  findPackageFile,
  findVersionId,
  getPackageFiles,
  listIndexMembers,
  removePackageFiles,
  removeRepositoryFiles,
  removeVersionIfUnused,
  savePackageFile,
  saveVersion,
  type PackageFileRow,
} from '../../db/packages.js';
import {
  findPacmanDb,
  listNamesForArchs,
  listPacmanDbs,
  listUnreferencedVieterFiles,
  listVersionFilesForArch,
  listVieterEntries,
  removePacmanDb,
  removeVieterEntry,
  savePacmanDb,
  saveVieterEntry,
  selectArchFile,
  type ManifestEntry,
  type PacmanDbRow,
} from '../../db/pacman.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { nextLastModifiedMs, publishIndexFile } from '../../indexes/publish.js';
import { findPublishedFile } from '../../indexes/serve.js';
import type { Metrics } from '../../metrics.js';
import { signDetachedStream } from '../../signing/openpgp.js';
import type { OwnerKeys } from '../../signing/owner-keys.js';
import { TRAILER, buildMember, planSplice, type Segment } from './database.js';
import { formatDesc, formatFiles } from './desc.js';
import { packageDir, packageFileName, readPackage, type PacmanPackage } from './package.js';
import type { Surface } from './pkginfo.js';

/** A file to serve, with the headers pacman.md §7 wants for its kind. */
export interface ServedFile extends StoredFile {
  readonly cacheControl: string;
}

export interface PacmanServiceOptions {
  readonly db: Knex;
  readonly blobs: BlobStore;
  readonly ownerKeys: OwnerKeys;
  readonly metrics: Metrics;
  readonly maxUploadBytes: number;
  /** Host of the forge's public URL, for the key's user ID. */
  readonly forgeHost: string;
  readonly defaultVieterArch: string;
  readonly now?: () => number;
}

export interface PublishResult {
  readonly name: string;
  readonly version: string;
  readonly archs: readonly string[];
}

/** What we keep of an upload between the streaming pass and the transaction. */
interface PreparedUpload {
  readonly staged: StagedBlob;
  readonly pkg: PacmanPackage;
  readonly fileName: string;
  readonly dir: string;
  readonly signature: Buffer | null;
  readonly desc: string;
  readonly dbMember: Buffer;
  readonly filesMember: Buffer;
  readonly createdAtMs: number;
}

const KEY_KIND = 'pacman';
const GROUP_SEGMENT = /^[A-Za-z0-9@._+-]+$/;
const REPO_NAME = /^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*$/;
const ARCH = /^[A-Za-z0-9_]+$/;
const PACKAGE_SUFFIX = /\.pkg\.tar\.(zst|xz|gz)$/;
const DB_FILE = /^.+\.(db|files)(\.tar\.gz)?(\.sig)?$/;
const ARCHIVE_CACHE = 'no-cache';

const bytesOf = (s: string) => Buffer.from(s);
const byteOrder = (a: string, b: string) => Buffer.compare(bytesOf(a), bytesOf(b));
const dbPath = (arch: string, kind: 'db' | 'files', sig = false) => `${arch}.${kind}${sig ? '.sig' : ''}`;

/**
 * Pacman repositories behind two APIs (pacman.md): Forgejo's Arch registry (`arch`: groups,
 * many versions, signed) and Vieter's (`vieter`: one file per name and arch-repo, unsigned).
 * Every write runs under its repository's lock and splices only the databases it touches.
 */
export class PacmanService {
  readonly maxUploadBytes: number;
  private readonly db: Knex;
  private readonly blobs: BlobStore;
  private readonly ownerKeys: OwnerKeys;
  private readonly metrics: Metrics;
  private readonly forgeHost: string;
  private readonly defaultVieterArch: string;
  private readonly now: () => number;

  constructor(o: PacmanServiceOptions) {
    this.db = o.db;
    this.blobs = o.blobs;
    this.ownerKeys = o.ownerKeys;
    this.metrics = o.metrics;
    this.maxUploadBytes = o.maxUploadBytes;
    this.forgeHost = o.forgeHost;
    this.defaultVieterArch = o.defaultVieterArch;
    this.now = o.now ?? Date.now;
  }

  // ---------------------------------------------------------------- keys

  private ownerKey(owner: OwnerRef) {
    return this.ownerKeys.get(owner.id, KEY_KIND, {
      name: owner.name,
      comment: 'Arch Package signature only',
      email: `${owner.name}@noreply.${this.forgeHost}`,
    });
  }

  /** The owner's armored public key, made on first need (pacman.md §6.4). */
  async repositoryKey(owner: OwnerRef): Promise<string> {
    return (await this.ownerKey(owner)).publicKey;
  }

  // ---------------------------------------------------------------- shared upload pass

  /** One streaming pass: stage, hash, parse, and (Forgejo) sign; then render every index part. */
  private async prepare(body: Readable, surface: Surface, owner: OwnerRef): Promise<PreparedUpload> {
    const key = surface === 'arch' ? (await this.ownerKey(owner)).signingKey : undefined;
    let signature: Buffer | null = null;
    const { staged, inspected: pkg } = await this.blobs.stage(body, {
      maxBytes: this.maxUploadBytes,
      inspect: (copy) => readPackage(copy, surface),
      alsoTo: key ? [async (copy) => void (signature = await signDetachedStream(key, copy, this.now()))] : [],
    });
    try {
      this.metrics.uploadBytes.inc({ type: surface }, staged.size);
      const createdAtMs = this.now();
      const fileName = packageFileName(pkg.info, pkg.compression);
      const dir = packageDir(pkg.info);
      const desc = formatDesc({
        ...pkg.info,
        fileName,
        csize: staged.size,
        md5: staged.digests.md5,
        sha256: staged.digests.sha256,
        pgpsig: signature ? (signature as Buffer).toString('base64') : undefined,
      });
      const mtimeS = Math.floor(createdAtMs / 1000);
      const dbMember = await buildMember({ dir, desc }, mtimeS);
      const filesMember = await buildMember({ dir, desc, files: formatFiles(pkg.files) }, mtimeS);
      return { staged, pkg, fileName, dir, signature, desc, dbMember, filesMember, createdAtMs };
    } catch (err) {
      await staged.discard();
      throw err;
    }
  }

  /** Stores the blob and the file row inside the lock; the blob goes back if the lock rolls back. */
  private async storeFile(
    lock: RepositoryLock,
    up: PreparedUpload,
    versionId: number | null,
    uploader: Uploader | undefined,
  ): Promise<number> {
    await saveBlob(lock.trx, up.staged, up.createdAtMs);
    const promoted = await this.blobs.promote(up.staged);
    lock.onRollback(promoted.undo);
    return savePackageFile(lock.trx, {
      repositoryId: lock.repositoryId,
      versionId,
      name: up.pkg.info.name,
      version: up.pkg.info.version,
      architecture: up.pkg.info.arch,
      fileName: up.fileName,
      sha256: up.staged.digests.sha256,
      size: up.staged.size,
      signature: up.signature,
      metadata: JSON.stringify({ ...up.pkg.info, files: up.pkg.files.length, compression: up.pkg.compression }),
      indexText: up.desc,
      indexMember: up.dbMember,
      indexMemberFull: up.filesMember,
      uploaderId: uploader?.id ?? null,
      uploaderLogin: uploader?.login ?? null,
      createdAtMs: up.createdAtMs,
    });
  }

  // ---------------------------------------------------------------- database splice

  /**
   * Rewrites one database after some names changed: copies unchanged members as byte ranges of
   * the old archives, appends the new members, and swaps the pointer rows (pacman.md §8).
   * `changes` maps a name to its new file (or undefined to drop it).
   */
  private async updateDatabase(
    lock: RepositoryLock,
    current: PacmanDbRow | undefined,
    arch: string,
    changes: ReadonlyMap<string, number | undefined>,
    sign: boolean,
    owner: OwnerRef,
  ): Promise<number> {
    const started = process.hrtime.bigint();
    const old = current?.manifest ?? [];
    const removed = new Set<number>();
    const addedIds: number[] = [];
    for (const [name, fileId] of changes) {
      const before = old.find((e) => e.name === name);
      if (before?.fileId === fileId) continue;
      if (before) removed.add(before.fileId);
      if (fileId !== undefined) addedIds.push(fileId);
    }
    if (current && removed.size === 0 && addedIds.length === 0) return current.id;

    const members = await listIndexMembers(lock.trx, addedIds);
    const files = await getPackageFiles(lock.trx, addedIds);
    const added: ManifestEntry[] = files.map((f) => {
      const m = members.get(f.id)!;
      return {
        name: f.name.toLowerCase(),
        dir: `${f.name}-${f.version}`,
        fileId: f.id,
        dbLen: m.member.length,
        filesLen: m.full.length,
      };
    });
    const plan = planSplice(old, [...removed], added);
    const nowMs = this.now();
    const lastModifiedMs = nextLastModifiedMs(current?.lastModifiedMs, nowMs);
    const key = sign ? (await this.ownerKey(owner)).signingKey : undefined;

    for (const kind of ['db', 'files'] as const) {
      const oldFile = current ? await findIndexFile(lock.trx, lock.repositoryId, dbPath(arch, kind)) : undefined;
      const segments = kind === 'db' ? plan.db : plan.files;
      const content = this.assemble(segments, oldFile, members, kind);
      let signature: Buffer | undefined;
      await publishIndexFile(lock, this.blobs, {
        path: dbPath(arch, kind),
        content,
        lastModifiedMs,
        nowMs,
        alsoTo: key ? [async (copy) => void (signature = await signDetachedStream(key, copy, nowMs))] : [],
      });
      if (key && signature) {
        await publishIndexFile(lock, this.blobs, {
          path: dbPath(arch, kind, true),
          content: signature,
          lastModifiedMs,
          nowMs,
        });
      }
    }
    const dbId = await savePacmanDb(lock.trx, {
      id: current?.id,
      repositoryId: lock.repositoryId,
      arch,
      manifest: plan.manifest,
      lastModifiedMs,
    });
    this.metrics.indexUpdates.inc({ type: 'pacman' });
    this.metrics.indexUpdateDuration.observe({ type: 'pacman' }, Number(process.hrtime.bigint() - started) / 1e9);
    return dbId;
  }

  /** The archive bytes for a splice plan, streamed: old ranges, new members, then the trailer. */
  private assemble(
    segments: readonly Segment[],
    oldFile: IndexFileRow | undefined,
    members: ReadonlyMap<number, { member: Buffer; full: Buffer }>,
    kind: 'db' | 'files',
  ): Readable {
    const blobs = this.blobs;
    async function* parts(): AsyncGenerator<Buffer> {
      for (const s of segments) {
        if (s.from === 'old') {
          if (!oldFile) throw new Error('splice refers to a missing archive');
          for await (const chunk of blobs.open(oldFile.sha256, { start: s.start, end: s.end - 1 })) {
            yield chunk as Buffer;
          }
        } else {
          const m = members.get(s.fileId);
          if (!m) throw new Error(`no members for file ${s.fileId}`);
          yield kind === 'db' ? m.member : m.full;
        }
      }
      yield TRAILER;
    }
    return Readable.from(parts());
  }

  /** Full rebuild of one database from the stored members: the splice must equal it. */
  async rebuildDatabaseBytes(repositoryId: number, arch: string, kind: 'db' | 'files'): Promise<Buffer> {
    const current = await findPacmanDb(this.db, repositoryId, arch);
    if (!current) throw notFound();
    const members = await listIndexMembers(
      this.db,
      current.manifest.map((e) => e.fileId),
    );
    const parts = current.manifest.map((e) => {
      const m = members.get(e.fileId)!;
      return kind === 'db' ? m.member : m.full;
    });
    return Buffer.concat([...parts, TRAILER]);
  }

  // ---------------------------------------------------------------- Forgejo Arch API

  /** `PUT F/{group…}`: store, sign, and update the group's databases (pacman.md §6.2). */
  async upload(owner: OwnerRef, group: readonly string[], body: Readable, uploader: Uploader | undefined): Promise<void> {
    for (const s of group) if (!GROUP_SEGMENT.test(s)) throw badRequest('invalid group');
    const up = await this.prepare(body, 'arch', owner);
    try {
      const key: RepositoryKey = { type: 'arch', ownerId: owner.id, name: group.join('/') };
      await withRepositoryLock(
        this.db,
        key,
        async (lock) => {
          if (await findPackageFile(lock.trx, lock.repositoryId, up.fileName)) {
            throw conflict('package file already exists');
          }
          const info = up.pkg.info;
          const versionId = await saveVersion(
            lock.trx,
            { ownerId: owner.id, type: 'arch', name: info.name, version: info.version },
            up.createdAtMs,
          );
          await this.storeFile(lock, up, versionId, uploader);
          // The upload's own arch (created if missing); an `any` file reaches every database.
          const dbs = await listPacmanDbs(lock.trx, lock.repositoryId);
          const targets = new Set(info.arch === 'any' ? [...dbs.map((d) => d.arch), 'any'] : [info.arch]);
          await this.refreshArchDbs(lock, dbs, [...targets], [info.name.toLowerCase()], owner);
        },
        this.now,
      );
    } finally {
      await up.staged.discard();
    }
  }

  /** Re-selects some names in some databases of a Forgejo group and splices what changed. */
  private async refreshArchDbs(
    lock: RepositoryLock,
    dbs: readonly PacmanDbRow[],
    archs: readonly string[],
    lowerNames: readonly string[],
    owner: OwnerRef,
  ): Promise<void> {
    for (const arch of [...archs].sort(byteOrder)) {
      const current = dbs.find((d) => d.arch === arch);
      // A new database starts with every name it should list, not just the uploaded one.
      const names = current
        ? lowerNames
        : await listNamesForArchs(lock.trx, lock.repositoryId, arch === 'any' ? ['any'] : [arch, 'any']);
      const changes = new Map<string, number | undefined>();
      for (const name of names) changes.set(name, await selectArchFile(lock.trx, lock.repositoryId, name, arch));
      await this.updateDatabase(lock, current, arch, changes, true, owner);
    }
  }

  /** `DELETE F/{group…}/{name}/{version}/{arch}` (pacman.md §6.5). */
  async deleteVersion(owner: OwnerRef, group: readonly string[], name: string, version: string, arch: string): Promise<void> {
    const versionId = await findVersionId(this.db, { ownerId: owner.id, type: 'arch', name, version });
    if (versionId === undefined) throw notFound('Not Found');
    const key: RepositoryKey = { type: 'arch', ownerId: owner.id, name: group.join('/') };
    if ((await findRepositoryId(this.db, key)) === undefined) throw notFound('Not Found');
    await withExistingRepositoryLock(this.db, key, async (lock) => {
      const files = await listVersionFilesForArch(lock.trx, lock.repositoryId, versionId, arch);
      if (files.length === 0) throw notFound('Not Found');
      await removePackageFiles(
        lock.trx,
        files.map((f) => f.id),
      );
      await removeVersionIfUnused(lock.trx, versionId);
      const dbs = await listPacmanDbs(lock.trx, lock.repositoryId);
      const names = [...new Set(files.map((f) => f.lowerName))];
      await this.refreshArchDbs(
        lock,
        dbs,
        dbs.map((d) => d.arch),
        names,
        owner,
      );
    });
  }

  /** `GET|HEAD F/{group…}/{arch}/{file}` (pacman.md §6.3). */
  async getArchFile(owner: OwnerRef, group: readonly string[], arch: string, file: string): Promise<ServedFile> {
    const repositoryId = await findRepositoryId(this.db, { type: 'arch', ownerId: owner.id, name: group.join('/') });
    if (repositoryId === undefined) throw notFound('');
    const sig = file.endsWith('.sig');
    const base = sig ? file.slice(0, -4) : file;
    if (PACKAGE_SUFFIX.test(base)) {
      if (base.split('-').length < 4) throw notFound('');
      const row = await findPackageFile(this.db, repositoryId, base);
      if (!row) throw notFound('');
      return this.servePackage(row, sig, 'private, max-age=300');
    }
    const m = DB_FILE.exec(file);
    if (m) {
      const kind = m[1] as 'db' | 'files';
      const sigWanted = m[3] !== undefined;
      // A database exists when its archive does; without one for `arch`, the any database.
      const own = await findPublishedFile(this.db, this.blobs, repositoryId, dbPath(arch, kind, sigWanted));
      if (own) return { ...own, cacheControl: ARCHIVE_CACHE };
      if (arch !== 'any' && (await findPublishedFile(this.db, this.blobs, repositoryId, dbPath(arch, 'db')))) {
        throw notFound('');
      }
      return this.serveIndex(repositoryId, dbPath('any', kind, sigWanted));
    }
    throw notFound('');
  }

  private servePackage(row: PackageFileRow, sig: boolean, cacheControl: string): ServedFile {
    if (sig) {
      if (!row.signature) throw notFound('');
      return { ...memoryFile(row.signature, row.createdAtMs), cacheControl: ARCHIVE_CACHE };
    }
    return {
      size: row.size,
      sha256: row.sha256,
      lastModifiedMs: row.createdAtMs,
      open: (range) => this.blobs.open(row.sha256, range),
      cacheControl,
    };
  }

  private async serveIndex(repositoryId: number, path: string): Promise<ServedFile> {
    const f = await findPublishedFile(this.db, this.blobs, repositoryId, path);
    if (!f) throw notFound('');
    return { ...f, cacheControl: ARCHIVE_CACHE };
  }

  // ---------------------------------------------------------------- Vieter API

  /** Vieter's repo names: the pkgname pattern, at most 128 characters, `api` reserved. */
  checkVieterRepo(repo: string): void {
    if (repo.toLowerCase() === 'api') {
      throw badRequest("'api' is a reserved keyword & cannot be used as a repository name.");
    }
    if (!REPO_NAME.test(repo) || repo.length > 128) throw badRequest('invalid repository name');
  }

  /** `POST V/{repo}/publish` (pacman.md §5.3). */
  async publish(owner: OwnerRef, repo: string, body: Readable, uploader: Uploader | undefined): Promise<PublishResult> {
    this.checkVieterRepo(repo);
    const up = await this.prepare(body, 'vieter', owner);
    try {
      const key: RepositoryKey = { type: 'vieter', ownerId: owner.id, name: repo };
      return await withRepositoryLock(
        this.db,
        key,
        async (lock) => {
          const info = up.pkg.info;
          const lowerName = info.name.toLowerCase();
          let dbs = await listPacmanDbs(lock.trx, lock.repositoryId);
          const targets =
            info.arch === 'any'
              ? [...dbs.map((d) => d.arch), ...(dbs.some((d) => d.arch === this.defaultVieterArch) ? [] : [this.defaultVieterArch])]
              : [info.arch];
          for (const arch of targets) {
            if (!dbs.some((d) => d.arch === arch)) await this.createVieterDb(lock, dbs, arch, owner);
          }
          dbs = await listPacmanDbs(lock.trx, lock.repositoryId);

          // Same filename again (a republish): the old record goes; its entries are all replaced.
          const previous = await findPackageFile(lock.trx, lock.repositoryId, up.fileName);
          if (previous) {
            await removePackageFiles(lock.trx, [previous.id]);
          }
          const fileId = await this.storeFile(lock, up, null, uploader);
          for (const arch of targets) {
            const current = dbs.find((d) => d.arch === arch)!;
            await saveVieterEntry(lock.trx, { dbId: current.id, name: lowerName, fileId });
            await this.updateDatabase(lock, current, arch, new Map([[lowerName, fileId]]), false, owner);
          }
          await this.releaseVieterFiles(lock);
          return { name: info.name, version: info.version, archs: targets };
        },
        this.now,
      );
    } finally {
      await up.staged.discard();
    }
  }

  /** A new arch-repo starts with the repo's `any` entries, latest upload per name (V7). */
  private async createVieterDb(
    lock: RepositoryLock,
    dbs: readonly PacmanDbRow[],
    arch: string,
    owner: OwnerRef,
  ): Promise<void> {
    const entries = await listVieterEntries(
      lock.trx,
      dbs.map((d) => d.id),
    );
    const files = await getPackageFiles(lock.trx, [...new Set(entries.map((e) => e.fileId))]);
    const newestAny = new Map<string, PackageFileRow>();
    for (const f of files) {
      if (f.architecture !== 'any') continue;
      const seen = newestAny.get(f.name.toLowerCase());
      if (!seen || f.createdAtMs > seen.createdAtMs || (f.createdAtMs === seen.createdAtMs && f.id > seen.id)) {
        newestAny.set(f.name.toLowerCase(), f);
      }
    }
    const changes = new Map([...newestAny].map(([name, f]) => [name, f.id] as const));
    const dbId = await this.updateDatabase(lock, undefined, arch, changes, false, owner);
    for (const [name, fileId] of changes) await saveVieterEntry(lock.trx, { dbId, name, fileId });
  }

  /** Removes file records no entry references any more; their blobs go to the sweeper. */
  private async releaseVieterFiles(lock: RepositoryLock): Promise<void> {
    await removePackageFiles(lock.trx, await listUnreferencedVieterFiles(lock.trx, lock.repositoryId));
  }

  private vieterLock<T>(owner: OwnerRef, repo: string, work: (lock: RepositoryLock) => Promise<T>): Promise<T> {
    return withExistingRepositoryLock(this.db, { type: 'vieter', ownerId: owner.id, name: repo }, work);
  }

  /** `DELETE V/{repo}/{arch}/{pkgname}`: that arch-repo's entry only; the arch-repo stays. */
  async removeVieterPackage(owner: OwnerRef, repo: string, arch: string, name: string): Promise<void> {
    await this.vieterLock(owner, repo, async (lock) => {
      const current = await findPacmanDb(lock.trx, lock.repositoryId, arch);
      if (!current) throw notFound('');
      const lowerName = name.toLowerCase();
      if (!current.manifest.some((e) => e.name === lowerName)) throw notFound('');
      await removeVieterEntry(lock.trx, current.id, lowerName);
      await this.updateDatabase(lock, current, arch, new Map([[lowerName, undefined]]), false, owner);
      await this.releaseVieterFiles(lock);
    });
  }

  /** `DELETE V/{repo}/{arch}`: the arch-repo and its databases. */
  async removeVieterArch(owner: OwnerRef, repo: string, arch: string): Promise<void> {
    await this.vieterLock(owner, repo, async (lock) => {
      const current = await findPacmanDb(lock.trx, lock.repositoryId, arch);
      if (!current) throw notFound('');
      await removePacmanDb(lock.trx, current.id);
      await removeIndexFiles(lock.trx, lock.repositoryId, [dbPath(arch, 'db'), dbPath(arch, 'files')]);
      await this.releaseVieterFiles(lock);
    });
  }

  /** `DELETE V/{repo}`: every arch-repo, file record and the repo itself. */
  async removeVieterRepo(owner: OwnerRef, repo: string): Promise<void> {
    await this.vieterLock(owner, repo, async (lock) => {
      for (const d of await listPacmanDbs(lock.trx, lock.repositoryId)) await removePacmanDb(lock.trx, d.id);
      await removeIndexFiles(lock.trx, lock.repositoryId);
      await removeRepositoryFiles(lock.trx, lock.repositoryId);
      await removeRepository(lock.trx, lock.repositoryId);
    });
  }

  /** `GET|HEAD V/{repo}/{arch}/{filename}` (pacman.md §5.2): a database, a package, or a desc. */
  async getVieterFile(
    owner: OwnerRef,
    repo: string,
    arch: string,
    filename: string,
  ): Promise<ServedFile | { desc: string }> {
    if (!ARCH.test(arch)) throw notFound('');
    const repositoryId = await findRepositoryId(this.db, { type: 'vieter', ownerId: owner.id, name: repo });
    if (repositoryId === undefined) throw notFound('');
    const archives: Record<string, 'db' | 'files'> = {
      [`${repo}.db`]: 'db',
      [`${repo}.db.tar.gz`]: 'db',
      [`${repo}.files`]: 'files',
      [`${repo}.files.tar.gz`]: 'files',
    };
    const kind = archives[filename];
    // The hot path (pacman -Sy) reads no manifest: an arch-repo exists when its archive does.
    if (kind) return this.serveIndex(repositoryId, dbPath(arch, kind));
    const current = await findPacmanDb(this.db, repositoryId, arch);
    if (!current) throw notFound('');
    if (filename.includes('.pkg')) {
      if (filename.endsWith('.sig')) throw notFound('');
      // Exactly that name, and only if this arch-repo lists it (an `any` file may be elsewhere).
      const row = await findPackageFile(this.db, repositoryId, filename);
      if (!row || row.fileName !== filename || !current.manifest.some((e) => e.fileId === row.id)) {
        throw notFound('');
      }
      return this.servePackage(row, false, 'no-cache');
    }
    // Vieter's build scripts probe `name-pkgver-pkgrel` without the epoch.
    const stripEpoch = (dir: string) => dir.replace(/-(\d+):/, '-');
    const entry =
      current.manifest.find((e) => e.dir === filename) ??
      (filename.includes(':') ? undefined : current.manifest.find((e) => stripEpoch(e.dir) === filename));
    if (!entry) throw notFound('');
    const [row] = await getPackageFiles(this.db, [entry.fileId]);
    if (!row) throw notFound('');
    return { desc: row.indexText };
  }
}
