import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import type { OwnerRef, Uploader } from '../../auth/decision.js';
import type { BlobStore, StoredFile } from '../../blobs/store.js';
import { compressor } from '../../codecs/compress.js';
import { findAltIndex, listArchFileIds, listPkglistEntries, saveAltIndex } from '../../db/alt.js';
import { saveBlob } from '../../db/blobs.js';
import { removeIndexFiles } from '../../db/index-files.js';
import {
  findRepositoryId,
  withExistingRepositoryLock,
  withRepositoryLock,
  type RepositoryKey,
  type RepositoryLock,
} from '../../db/locks.js';
import { findPackageFile, removePackageFiles, removeVersionIfUnused, savePackageFile, saveVersion } from '../../db/packages.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { nextLastModifiedMs, publishIndexFile } from '../../indexes/publish.js';
import { findPublishedFile } from '../../indexes/serve.js';
import type { Metrics } from '../../metrics.js';
import { checkGroup } from './paths.js';
import { altFileName, altVersion, formatPkglistEntry, pkglistEntryOf } from './pkglist.js';
import { formatRelease, formatReleaseClassic, readSums, sumsOf, type FileSums } from './release.js';
import { formatRepoConfig } from './repo-config.js';
import { readRpm, type RpmPackage } from './rpm.js';

/** A file to serve under its name (Content-Disposition). */
export interface AltFile extends StoredFile {
  readonly name: string;
}

export interface AltServiceOptions {
  readonly db: Knex;
  readonly blobs: BlobStore;
  readonly metrics: Metrics;
  readonly maxUploadBytes: number;
  /** The forge's APP_NAME (alt.md §2.1, §7). */
  readonly appName: string;
  readonly now?: () => number;
}

const TYPE = 'alt';
/** The pkglist's size field has 32 bits (D11): bigger files are refused while streaming. */
const MAX_RPM_BYTES = 2 ** 32 - 1;
/** What the shared tables hold (migrations/…_core.ts), counted in bytes to be safe. */
const MAX_NAME_BYTES = 255;
const MAX_VERSION_BYTES = 255;
const MAX_ARCH_BYTES = 64;

const PKGLIST = 'pkglist.classic';
const PKGLIST_XZ = 'pkglist.classic.xz';
const RELEASE_CLASSIC = 'release.classic';
const RELEASE = 'release';
/** The only names under `{arch}/base/` (alt.md §2.2). */
const INDEX_NAMES: readonly string[] = [PKGLIST, PKGLIST_XZ, RELEASE_CLASSIC, RELEASE];
const indexPath = (arch: string, name: string) => `${arch}/base/${name}`;

/** The 404 body of a missing package or index file, as Forgejo writes it. */
export const FILE_NOT_FOUND = 'package file does not exist';

/** An upload after its streaming pass: parsed, hashed, its pkglist entry rendered. */
interface PreparedUpload {
  readonly fileName: string;
  readonly version: string;
  readonly entry: Buffer;
}

/**
 * ALT Linux apt-rpm repositories (alt.md): one repository row per (owner, group), one index
 * per (group, arch). Each package's pkglist entry is rendered at upload; an index update
 * concatenates the stored entries of that one arch, under the group's lock, and publishes the
 * four files together with one publish time.
 */
export class AltService {
  readonly maxUploadBytes: number;
  private readonly db: Knex;
  private readonly blobs: BlobStore;
  private readonly metrics: Metrics;
  private readonly appName: string;
  private readonly now: () => number;

  constructor(o: AltServiceOptions) {
    this.db = o.db;
    this.blobs = o.blobs;
    this.metrics = o.metrics;
    this.maxUploadBytes = Math.min(o.maxUploadBytes, MAX_RPM_BYTES);
    this.appName = o.appName;
    this.now = o.now ?? Date.now;
  }

  /** 400 `invalid group` for a group no upload may create (D20). */
  checkGroup(group: string): void {
    checkGroup(group);
  }

  /**
   * `GET {G}.repo`: the dnf-style config text, `parts` as written in the URL (alt.md §2.1);
   * `rootUrl` is the forge's ROOT_URL, Stowage's public base URL.
   */
  repoConfig(owner: OwnerRef, parts: readonly string[], rootUrl: URL): string {
    return formatRepoConfig({ owner: owner.name, appName: this.appName, rootUrl: rootUrl.href, parts });
  }

  // ---------------------------------------------------------------- upload

  /** `PUT alt[/{group}]/upload` (alt.md §2.3): 400 bad package, 409 same file name in the group. */
  async addPackage(owner: OwnerRef, group: string, body: Readable, uploader: Uploader | undefined): Promise<void> {
    checkGroup(group);
    const { staged, inspected: pkg } = await this.blobs.stage(body, {
      maxBytes: this.maxUploadBytes,
      inspect: (copy) => readRpm(copy),
    });
    try {
      this.metrics.uploadBytes.inc({ type: TYPE }, staged.size);
      const up = prepare(pkg, staged);
      const createdAtMs = this.now();
      const m = pkg.metadata;
      const key: RepositoryKey = { type: TYPE, ownerId: owner.id, name: group };
      await withRepositoryLock(
        this.db,
        key,
        async (lock) => {
          if (await findPackageFile(lock.trx, lock.repositoryId, up.fileName)) {
            throw conflict('package file already exists');
          }
          const versionId = await saveVersion(
            lock.trx,
            { ownerId: owner.id, type: TYPE, name: m.name, version: up.version },
            createdAtMs,
          );
          await saveBlob(lock.trx, staged, createdAtMs);
          const promoted = await this.blobs.promote(staged);
          lock.onRollback(promoted.undo);
          await savePackageFile(lock.trx, {
            repositoryId: lock.repositoryId,
            versionId,
            name: m.name,
            version: up.version,
            architecture: m.arch,
            fileName: up.fileName,
            sha256: staged.digests.sha256,
            size: staged.size,
            signature: null,
            metadata: JSON.stringify({
              ...m,
              md5: staged.digests.md5,
              blake2b: staged.digests.blake2b,
              payloadSize: pkg.payloadSize ?? null,
            }),
            indexText: '',
            indexMember: up.entry,
            indexMemberFull: null,
            uploaderId: uploader?.id ?? null,
            uploaderLogin: uploader?.login ?? null,
            createdAtMs,
          });
          await this.publishIndex(lock, m.arch);
        },
        this.now,
      );
    } finally {
      await staged.discard();
    }
  }

  // ---------------------------------------------------------------- download and delete

  /** `GET|HEAD {G}.repo/{dir}/RPMS.{comp}/{file}`: by stored file name, never re-split (D7). */
  async getPackage(owner: OwnerRef, group: string, fileName: string): Promise<AltFile> {
    const repositoryId = await findRepositoryId(this.db, { type: TYPE, ownerId: owner.id, name: group });
    const row = repositoryId === undefined ? undefined : await findPackageFile(this.db, repositoryId, fileName);
    if (!row) throw notFound(FILE_NOT_FOUND);
    return {
      name: row.fileName,
      size: row.size,
      sha256: row.sha256,
      lastModifiedMs: row.createdAtMs,
      open: (range) => this.blobs.open(row.sha256, range),
    };
  }

  /** `DELETE {G}.repo/{dir}/RPMS.{comp}/{file}` (alt.md §2.5): the file, then its one index. */
  async removePackage(owner: OwnerRef, group: string, fileName: string): Promise<void> {
    const key: RepositoryKey = { type: TYPE, ownerId: owner.id, name: group };
    const repositoryId = await findRepositoryId(this.db, key);
    if (repositoryId === undefined || !(await findPackageFile(this.db, repositoryId, fileName))) {
      throw notFound(FILE_NOT_FOUND);
    }
    await withExistingRepositoryLock(this.db, key, async (lock) => {
      const row = await findPackageFile(lock.trx, lock.repositoryId, fileName);
      if (!row) throw notFound(FILE_NOT_FOUND); // a concurrent delete came first
      await removePackageFiles(lock.trx, [row.id]);
      if (row.versionId !== null) await removeVersionIfUnused(lock.trx, row.versionId);
      await this.publishIndex(lock, row.architecture);
    });
  }

  // ---------------------------------------------------------------- indexes

  /** `GET|HEAD {G}.repo/{arch}/base/{name}`: a published index file, name case-insensitive. */
  async getIndexFile(owner: OwnerRef, group: string, arch: string, name: string): Promise<AltFile> {
    const lower = name.toLowerCase();
    const repositoryId = INDEX_NAMES.includes(lower)
      ? await findRepositoryId(this.db, { type: TYPE, ownerId: owner.id, name: group })
      : undefined;
    const file = repositoryId === undefined ? undefined : await findPublishedFile(this.db, this.blobs, repositoryId, indexPath(arch, lower));
    if (!file) throw notFound(FILE_NOT_FOUND);
    return { ...file, name: lower };
  }

  /**
   * Republishes the index of one arch from the stored entries (alt.md §8.3): the pkglist is their
   * concatenation in upload order, streamed from the database; the .xz is compressed from the
   * pkglist just stored; the release texts list the sums of those bytes. All four get one
   * publish time T. No entries: the four files go (404), and T is kept.
   */
  private async publishIndex(lock: RepositoryLock, arch: string): Promise<void> {
    const started = process.hrtime.bigint();
    const paths = INDEX_NAMES.map((n) => indexPath(arch, n));
    const ids = await listArchFileIds(lock.trx, lock.repositoryId, arch);
    if (ids.length === 0) {
      await removeIndexFiles(lock.trx, lock.repositoryId, paths);
      return;
    }
    const nowMs = this.now();
    const previous = await findAltIndex(lock.trx, lock.repositoryId, arch);
    const lastModifiedMs = nextLastModifiedMs(previous?.lastModifiedMs, nowMs);
    const publish = async (name: string, content: Buffer | Readable): Promise<FileSums & { sha256: string }> => {
      let sums: FileSums | undefined;
      const published = await publishIndexFile(lock, this.blobs, {
        path: indexPath(arch, name),
        content,
        lastModifiedMs,
        nowMs,
        alsoTo: [async (copy) => void (sums = await readSums(copy))],
      });
      if (!sums) throw new Error(`no sums for ${name}`);
      return { ...sums, sha256: published.sha256 };
    };

    const pkglist = await publish(PKGLIST, Readable.from(listPkglistEntries(lock.trx, ids)));
    const xz = compressor('xz');
    // A read error reaches the compressor, and through it the publish.
    pipeline(this.blobs.open(pkglist.sha256), xz).catch(() => {});
    const pkglistXz = await publish(PKGLIST_XZ, xz);
    const release = { appName: this.appName, arch, timeS: lastModifiedMs / 1000 };
    const classicText = Buffer.from(formatReleaseClassic(release));
    await publish(RELEASE_CLASSIC, classicText);
    await publish(RELEASE, Buffer.from(formatRelease(release, [pkglist, pkglistXz, sumsOf(classicText)])));
    await saveAltIndex(lock.trx, { repositoryId: lock.repositoryId, arch, lastModifiedMs });
    this.metrics.indexUpdates.inc({ type: TYPE });
    this.metrics.indexUpdateDuration.observe({ type: TYPE }, Number(process.hrtime.bigint() - started) / 1e9);
  }
}

/** The derived names and the pkglist entry, with the limits of the shared tables checked. */
function prepare(pkg: RpmPackage, staged: { size: number; digests: { md5: string; blake2b: string } }): PreparedUpload {
  const m = pkg.metadata;
  const version = altVersion(m);
  const fileName = altFileName(m);
  if (Buffer.byteLength(m.name) > MAX_NAME_BYTES) throw badRequest('RPM NAME is too long');
  if (Buffer.byteLength(version) > MAX_VERSION_BYTES) throw badRequest('RPM version is too long');
  if (Buffer.byteLength(m.arch) > MAX_ARCH_BYTES) throw badRequest('RPM ARCH is too long');
  const entry = formatPkglistEntry(
    pkglistEntryOf(pkg.header, {
      fileName,
      size: staged.size,
      md5: staged.digests.md5,
      blake2b: staged.digests.blake2b,
    }),
  );
  return { fileName, version, entry };
}
