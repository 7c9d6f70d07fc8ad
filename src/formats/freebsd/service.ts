import type { Readable } from 'node:stream';
import type { Knex } from 'knex';
import type { OwnerRef, Uploader } from '../../auth/decision.js';
import type { BlobStore, StoredFile } from '../../blobs/store.js';
import { saveBlob } from '../../db/blobs.js';
import {
  countFreeBsdPackages,
  findFreeBsdFile,
  freeBsdFileKey,
  listCatalogueIds,
  listFreeBsdAbis,
  listFreeBsdPackages,
  listFreeBsdPackagesNamed,
  listFreeBsdRepositories,
  listIndexFilesAt,
  readCatalogueEntries,
  touchIndexFiles,
  type FreeBsdMetadata,
} from '../../db/freebsd.js';
import { findIndexFile, listIndexFiles, removeIndexFiles } from '../../db/index-files.js';
import {
  findRepositoryId,
  removeRepository,
  withExistingRepositoryLock,
  withRepositoryLock,
  type RepositoryKey,
  type RepositoryLock,
} from '../../db/locks.js';
import { removePackageFiles, removeRepositoryFiles, savePackageFile } from '../../db/packages.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { nextLastModifiedMs, publishIndexFile } from '../../indexes/publish.js';
import { findPublishedFile } from '../../indexes/serve.js';
import type { Metrics } from '../../metrics.js';
import { signPkcs1Sha256, type OwnerRsaKeys, type RsaOwnerKey } from '../../signing/rsa.js';
import {
  abiFromKey,
  abisOfClass,
  abisOverlap,
  catalogueClasses,
  classCandidatesOfView,
  classesTouchedBy,
  parseViewAbi,
  type PackageAbi,
} from './abi.js';
import {
  META_CONF,
  catalogueFileOf,
  catalogueMember,
  measureMembers,
  writeCatalogueArchive,
  type CatalogueKind,
} from './catalogue.js';
import { formatEntry, packageFileName } from './manifest.js';
import { readPackage } from './package.js';
import { formatFingerprint } from './signature.js';

/** A file to serve, with its Content-Type (freebsd.md §7.2). */
export interface ServedFile extends StoredFile {
  readonly contentType: string;
}

/** `GET B` (freebsd.md §2.5). */
export interface RepositoryListing {
  readonly name: string;
  readonly packages: number;
  readonly last_modified: string;
}

/** One element of `GET B/{repo}` (freebsd.md §2.5). */
export interface PackageListing {
  readonly name: string;
  readonly version: string;
  readonly abi: string;
  readonly origin: string;
  readonly comment: string;
  readonly filename: string;
  readonly size: number;
  readonly sha256: string;
  readonly uploaded_at: string;
}

export interface FreeBsdServiceOptions {
  readonly db: Knex;
  readonly blobs: BlobStore;
  readonly rsaKeys: OwnerRsaKeys;
  readonly metrics: Metrics;
  readonly maxUploadBytes: number;
  readonly now?: () => number;
}

const TYPE = 'freebsd';
const KEY_KIND = 'freebsd';
// freebsd.md §1: no dots, no colons, so names never collide with ABIs or repository.key.
const REPOSITORY_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** The index file whose row holds the catalogue time; it is served as `meta.conf` and `meta`. */
const META_PATH = 'meta.conf';
const ARCHIVE = (classKey: string, kind: CatalogueKind) => `${classKey}/${kind}.pkg`;
const KINDS: readonly CatalogueKind[] = ['data', 'packagesite'];
const TEXT = 'text/plain; charset=utf-8';
const BINARY = 'application/octet-stream';

const bytesOf = (s: string) => Buffer.from(s, 'utf8');
const byteOrder = (a: string, b: string) => Buffer.compare(bytesOf(a), bytesOf(b));
/** `2026-08-21T10:00:00Z`: whole seconds. */
const isoSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/**
 * FreeBSD pkg repositories (freebsd.md): uploads keep each package's catalogue entry; every
 * change rebuilds, inside the repository's lock, the catalogues of the views it touched, from
 * those stored entries, and moves every catalogue of the repository to a new catalogue time.
 */
export class FreeBsdService {
  readonly maxUploadBytes: number;
  private readonly db: Knex;
  private readonly blobs: BlobStore;
  private readonly rsaKeys: OwnerRsaKeys;
  private readonly metrics: Metrics;
  private readonly now: () => number;

  constructor(o: FreeBsdServiceOptions) {
    this.db = o.db;
    this.blobs = o.blobs;
    this.rsaKeys = o.rsaKeys;
    this.metrics = o.metrics;
    this.maxUploadBytes = o.maxUploadBytes;
    this.now = o.now ?? Date.now;
  }

  // ---------------------------------------------------------------- keys (freebsd.md §6.3, §6.4)

  private ownerKey(owner: OwnerRef): Promise<RsaOwnerKey> {
    return this.rsaKeys.get(owner.id, KEY_KIND, owner.name);
  }

  /** `B/repository.key`: the owner's PEM public key, made on first need. */
  async repositoryKey(owner: OwnerRef): Promise<string> {
    return (await this.ownerKey(owner)).publicKeyPem;
  }

  /** `B/repository.fingerprint`: what pkg's fingerprints mode keeps in `trusted/`. */
  async repositoryFingerprint(owner: OwnerRef): Promise<string> {
    return formatFingerprint(await this.repositoryKey(owner));
  }

  // ---------------------------------------------------------------- writes

  private repositoryKeyOf(owner: OwnerRef, repo: string): RepositoryKey {
    return { type: TYPE, ownerId: owner.id, name: repo };
  }

  /** Check 2 of freebsd.md §2.3, before the body is read. */
  checkRepositoryName(repo: string): void {
    if (!REPOSITORY_NAME.test(repo)) throw badRequest('invalid repository name');
  }

  /** `PUT B/{repo}/upload` (freebsd.md §2.3): validate while streaming, then store and rebuild. */
  async addPackage(owner: OwnerRef, repo: string, body: Readable, uploader: Uploader | undefined): Promise<void> {
    this.checkRepositoryName(repo);
    const { staged, inspected: pkg } = await this.blobs.stage(body, {
      maxBytes: this.maxUploadBytes,
      inspect: (copy) => readPackage(copy),
    });
    try {
      this.metrics.uploadBytes.inc({ type: TYPE }, staged.size);
      const m = pkg.manifest;
      const fileName = packageFileName(m);
      const entry = formatEntry(m, { sha256: staged.digests.sha256, size: staged.size });
      const metadata: FreeBsdMetadata = { abi: m.abi, origin: m.origin, comment: m.comment, filename: fileName };
      // Made (or read) before the lock: key generation is slow and needs no lock.
      const key = await this.ownerKey(owner);
      await withRepositoryLock(
        this.db,
        this.repositoryKeyOf(owner, repo),
        async (lock) => {
          const nowMs = this.now();
          // freebsd.md §2.4, §8: decided under the lock, since no unique key expresses overlap.
          const sameName = await listFreeBsdPackagesNamed(lock.trx, lock.repositoryId, m.name);
          const lowerVersion = m.version.toLowerCase();
          const clash = sameName.some(
            (p) => p.version.toLowerCase() === lowerVersion && abisOverlap(abiFromKey(p.abiKey), m.abiKey),
          );
          if (clash) throw conflict('package already exists');
          await saveBlob(lock.trx, staged, nowMs);
          const promoted = await this.blobs.promote(staged);
          lock.onRollback(promoted.undo);
          await savePackageFile(lock.trx, {
            repositoryId: lock.repositoryId,
            versionId: null,
            name: m.name,
            version: m.version,
            architecture: m.abiKey.key,
            fileName: freeBsdFileKey(m.abiKey.key, fileName),
            sha256: staged.digests.sha256,
            size: staged.size,
            signature: null,
            metadata: JSON.stringify(metadata),
            indexText: entry,
            indexMember: null,
            indexMemberFull: null,
            uploaderId: uploader?.id ?? null,
            uploaderLogin: uploader?.login ?? null,
            createdAtMs: nowMs,
          });
          await this.rebuild(lock, [m.abiKey], key, nowMs);
        },
        this.now,
      );
    } finally {
      await staged.discard();
    }
  }

  /** `DELETE B/{repo}`: the repository, its packages and catalogues (blobs go to the sweeper). */
  async removeRepository(owner: OwnerRef, repo: string): Promise<void> {
    await withExistingRepositoryLock(this.db, this.repositoryKeyOf(owner, repo), async (lock) => {
      await removeIndexFiles(lock.trx, lock.repositoryId);
      await removeRepositoryFiles(lock.trx, lock.repositoryId);
      await removeRepository(lock.trx, lock.repositoryId);
    });
  }

  /**
   * `DELETE B/{repo}/{name}/{version}[/{abi}]`: every ABI variant of the version, or the one
   * whose stored `abi` equals `abi` case-insensitively (no glob matching). Names and versions
   * compare case-insensitively, as the stored file names do.
   */
  async removeVersion(owner: OwnerRef, repo: string, name: string, version: string, abi?: string): Promise<void> {
    await this.repositoryId(owner, repo); // a 404 here must not make the owner a key
    const key = await this.ownerKey(owner);
    await withExistingRepositoryLock(this.db, this.repositoryKeyOf(owner, repo), async (lock) => {
      const lowerVersion = version.toLowerCase();
      const lowerAbi = abi?.toLowerCase();
      const doomed = (await listFreeBsdPackagesNamed(lock.trx, lock.repositoryId, name)).filter(
        (p) => p.version.toLowerCase() === lowerVersion && (lowerAbi === undefined || p.abiKey === lowerAbi),
      );
      if (doomed.length === 0) throw notFound('');
      await removePackageFiles(
        lock.trx,
        doomed.map((p) => p.id),
      );
      await this.rebuild(
        lock,
        doomed.map((p) => abiFromKey(p.abiKey)),
        key,
        this.now(),
      );
    });
  }

  // ---------------------------------------------------------------- catalogues (freebsd.md §5, §7.1)

  /**
   * After packages of `changed` ABIs came or went: a new catalogue time for the whole repository,
   * new archives for the catalogue classes the change touched (and for new classes), none for
   * classes that no longer exist. Runs in the lock's transaction: readers switch atomically.
   */
  private async rebuild(
    lock: RepositoryLock,
    changed: readonly PackageAbi[],
    key: RsaOwnerKey,
    nowMs: number,
  ): Promise<void> {
    const started = process.hrtime.bigint();
    const { trx, repositoryId } = lock;
    const previous = await findIndexFile(trx, repositoryId, META_PATH);
    const lastModifiedMs = nextLastModifiedMs(previous?.lastModifiedMs, nowMs);

    const classes = catalogueClasses(new Set(await listFreeBsdAbis(trx, repositoryId)));
    const dataSuffix = ARCHIVE('', 'data'); // `/data.pkg`: one per class
    const existing = new Set(
      (await listIndexFiles(trx, repositoryId))
        .filter((f) => f.path.endsWith(dataSuffix))
        .map((f) => f.path.slice(0, -dataSuffix.length)),
    );
    const build = new Set(classes.filter((c) => !existing.has(c)));
    for (const abi of changed) for (const c of classesTouchedBy(abi, classes)) build.add(c);
    const gone = [...existing].filter((c) => !classes.includes(c));
    if (gone.length) {
      await removeIndexFiles(trx, repositoryId, gone.flatMap((c) => KINDS.map((k) => ARCHIVE(c, k))));
    }

    for (const classKey of [...build].sort(byteOrder)) {
      await this.buildClass(lock, classKey, key, lastModifiedMs, nowMs);
    }
    const meta = { path: META_PATH, content: bytesOf(META_CONF), lastModifiedMs, nowMs };
    await publishIndexFile(lock, this.blobs, meta);
    // freebsd.md §7.1: every catalogue file of every view carries the catalogue time. Untouched
    // classes keep their bytes (members dated when they were built): pkg ignores member times,
    // and rebuilding every view on every change would cost views × entries.
    await touchIndexFiles(trx, repositoryId, lastModifiedMs);
    this.metrics.indexUpdates.inc({ type: TYPE });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.indexUpdateDuration.observe({ type: TYPE }, seconds);
  }

  /** Both archives of one catalogue class, streamed from the stored entries (freebsd.md §5.9). */
  private async buildClass(
    lock: RepositoryLock,
    classKey: string,
    key: RsaOwnerKey,
    lastModifiedMs: number,
    nowMs: number,
  ): Promise<void> {
    const ids = await listCatalogueIds(lock.trx, lock.repositoryId, abisOfClass(classKey));
    const entries = () => readCatalogueEntries(lock.trx, ids);
    const digests = await measureMembers(entries());
    for (const kind of KINDS) {
      const archive = writeCatalogueArchive({
        kind,
        content: () => catalogueMember(kind, entries()),
        size: digests[kind].size,
        sha256: digests[kind].sha256,
        sign: (digestHex) => signPkcs1Sha256(key.privateKey, Buffer.from(digestHex, 'ascii')),
        publicKeyPem: key.publicKeyPem,
        mtimeS: Math.floor(lastModifiedMs / 1000),
      });
      const path = ARCHIVE(classKey, kind);
      await publishIndexFile(lock, this.blobs, { path, content: archive, lastModifiedMs, nowMs });
    }
  }

  // ---------------------------------------------------------------- reads

  private async repositoryId(owner: OwnerRef, repo: string): Promise<number> {
    if (!REPOSITORY_NAME.test(repo)) throw notFound('');
    const id = await findRepositoryId(this.db, this.repositoryKeyOf(owner, repo));
    if (id === undefined) throw notFound('');
    return id;
  }

  /** `GET B`: repositories with at least one committed change, by name. */
  async listRepositories(owner: OwnerRef): Promise<RepositoryListing[]> {
    const rows = (await listFreeBsdRepositories(this.db, TYPE, owner.id, META_PATH)).filter(
      (r) => r.lastModifiedMs !== undefined,
    );
    const counts = await countFreeBsdPackages(
      this.db,
      rows.map((r) => r.id),
    );
    return rows
      .map((r) => ({ name: r.name, packages: counts.get(r.id) ?? 0, last_modified: isoSeconds(r.lastModifiedMs!) }))
      .sort((a, b) => byteOrder(a.name, b.name));
  }

  /** `GET B/{repo}`: its packages by name, version and abi. */
  async listPackages(owner: OwnerRef, repo: string): Promise<PackageListing[]> {
    const rows = await listFreeBsdPackages(this.db, await this.repositoryId(owner, repo));
    return rows
      .map((p) => ({
        name: p.name,
        version: p.version,
        abi: p.metadata.abi,
        origin: p.metadata.origin,
        comment: p.metadata.comment,
        filename: p.metadata.filename,
        size: p.size,
        sha256: p.sha256,
        uploaded_at: isoSeconds(p.createdAtMs),
      }))
      .sort((a, b) => byteOrder(a.name, b.name) || byteOrder(a.version, b.version) || byteOrder(a.abi, b.abi));
  }

  /** `GET B/{repo}/{ABI}/{file}` (freebsd.md §5.7): a catalogue file of the view, or 404. */
  async getCatalogueFile(owner: OwnerRef, repo: string, abi: string, name: string): Promise<ServedFile> {
    const view = parseViewAbi(abi);
    const file = catalogueFileOf(name);
    if (view === undefined || file === undefined) throw notFound('');
    const repositoryId = await this.repositoryId(owner, repo);
    if (file.kind === 'meta') {
      const meta = await findPublishedFile(this.db, this.blobs, repositoryId, META_PATH);
      if (!meta) throw notFound('');
      return { ...meta, contentType: TEXT };
    }
    // The most specific class that exists serves the view; one query, so one snapshot.
    const candidates = classCandidatesOfView(view).map((c) => ARCHIVE(c, file.kind));
    const rows = await listIndexFilesAt(this.db, repositoryId, candidates);
    const found = candidates.map((path) => rows.find((r) => r.path === path)).find((r) => r !== undefined);
    if (!found) throw notFound('');
    return this.blobFile(found, found.lastModifiedMs);
  }

  /** `GET B/{repo}/{ABI}/All/{filename}` (freebsd.md §7.3): the package whose abi matches the view. */
  async getPackageFile(owner: OwnerRef, repo: string, abi: string, filename: string): Promise<ServedFile> {
    const view = parseViewAbi(abi);
    if (view === undefined) throw notFound('');
    const repositoryId = await this.repositoryId(owner, repo);
    const row = await findFreeBsdFile(
      this.db,
      repositoryId,
      classCandidatesOfView(view).map((k) => freeBsdFileKey(k, filename)),
    );
    if (!row) throw notFound('');
    return this.blobFile(row, row.createdAtMs);
  }

  private blobFile(blob: { sha256: string; size: number }, lastModifiedMs: number): ServedFile {
    return {
      size: blob.size,
      sha256: blob.sha256,
      lastModifiedMs,
      open: (range) => this.blobs.open(blob.sha256, range),
      contentType: BINARY,
    };
  }
}
