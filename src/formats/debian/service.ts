import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Knex } from 'knex';
import type { OwnerRef, Uploader } from '../../auth/decision.js';
import type { BlobStore, StagedBlob, StoredFile } from '../../blobs/store.js';
import { compressBytes } from '../../codecs/compress.js';
import { saveBlob } from '../../db/blobs.js';
import {
  bumpIndexWant,
  dbNowMs,
  findCurrentTreeFile,
  findPoolFile,
  findPublishByTree,
  findRegistryEntry,
  findTree,
  getPackages,
  listCurrentTreeFiles,
  listIndexStates,
  listPublishMembers,
  listRegistryEntries,
  listTreeFilesInDir,
  listTrees,
  loadContents,
  loadStanzas,
  markIndexesBuilt,
  purgeAllSupersededTreeFiles,
  purgeSupersededTreeFiles,
  removeRegistryEntry,
  removeUnreferencedPackages,
  saveRegistryEntry,
  saveTree,
  saveTreeFile,
  savePackage,
  supersedeTreeFiles,
  treeLockKey,
  updateTree,
  withDebianLocks,
  type DebianLock,
  type DebPackageRow,
  type NewDebPackage,
  type RegistryCoordinates,
  type TreeFileRow,
  type TreeRow,
} from '../../db/debian.js';
import { conflict, HttpError, badRequest, notFound } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import { clearsign, signArmoredDetached } from '../../signing/clearsign.js';
import type { OwnerKeys } from '../../signing/owner-keys.js';
import type { SigningKey } from '../../signing/openpgp.js';
import { renderStanzaParts, sourceName, type DebControl } from './control.js';
import { readDeb, type DebInfo } from './deb.js';
import {
  buildContents,
  buildPackages,
  contentsLocation,
  formatRelease,
  registryFileName,
  registryPoolPath,
  validUntilMs,
  type ReleaseFile,
} from './indexes.js';
import { packageKey } from './keys.js';
import { defaultOriginLabel, parsePublishSettings, parsePublishSources } from './publish.js';
import {
  dirOf,
  indexKey,
  isDirty,
  planPath,
  planTree,
  registryArchitectures,
  registryComponents,
  releaseArchitectures,
  type TreeMember,
  type TreeShape,
} from './tree.js';

/** A file to serve, with the headers debian.md §4.9 wants for it. */
export interface ServedFile extends StoredFile {
  readonly contentType: string;
  readonly cacheControl: string;
}

export interface DebianServiceOptions {
  readonly db: Knex;
  readonly blobs: BlobStore;
  readonly ownerKeys: OwnerKeys;
  readonly metrics: Metrics;
  readonly maxUploadBytes: number;
  /** The forge's APP_NAME: Origin and Label of registry Releases. */
  readonly appName: string;
  readonly now?: () => number;
}

/** A `.deb` staged and read, before anything is written (or the reason it is no package). */
export interface StagedDeb {
  readonly staged: StagedBlob;
  readonly info: DebInfo | HttpError;
}

/** One (C, A) index a write changed and the ticket its build must reach (§5). */
export interface BuildTicket {
  readonly component: string;
  readonly architecture: string;
  readonly ticket: number;
}

/** What a build writes: new bytes, or a current file carried by reference. */
interface RenderedFile {
  readonly path: string;
  readonly bytes?: Buffer;
  readonly carried?: TreeFileRow;
  readonly facts: Omit<ReleaseFile, 'path'>;
}

const KEY_KIND = 'debian';
const DEB_TYPE = 'application/vnd.debian.binary-package';
const TREE_TYPE = 'application/octet-stream';
const HISTORY_MS = 3600_000;
const MAX_INDEX_BYTES = 16 * 1024 ** 3;
const BY_HASH = /^(?:(.*)\/)?by-hash\/([^/]+)\/([0-9a-fA-F]+)$/;
const ALGORITHMS: Readonly<Record<string, 'md5' | 'sha1' | 'sha256' | 'sha512'>> = {
  md5sum: 'md5',
  md5: 'md5',
  sha1: 'sha1',
  sha256: 'sha256',
  sha512: 'sha512',
};
// debian.md §1: registry distributions and components.
const REGISTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9.+~-]*$/;

const factsOf = (bytes: Buffer): Omit<ReleaseFile, 'path'> => ({
  size: bytes.length,
  md5: createHash('md5').update(bytes).digest('hex'),
  sha1: createHash('sha1').update(bytes).digest('hex'),
  sha256: createHash('sha256').update(bytes).digest('hex'),
  sha512: createHash('sha512').update(bytes).digest('hex'),
});

/** `max(now, previous + 1 s)` in whole seconds (§5: Date and Last-Modified strictly increase). */
export const nextBuildTimeMs = (previousMs: number, nowMs: number): number =>
  Math.max(Math.floor(nowMs / 1000) * 1000, previousMs > 0 ? Math.floor(previousMs / 1000) * 1000 + 1000 : 0);

/** Registry D and C (debian.md §6 row 1): trimmed, then §1 names of at most 100 characters. */
export function checkRegistryTarget(distribution: string, component: string): { distribution: string; component: string } {
  const d = distribution.trim();
  const c = component.trim();
  if (!REGISTRY_NAME.test(d) || !REGISTRY_NAME.test(c) || d.length > 100 || c.length > 100 || d === 'by-hash' || c === 'by-hash') {
    throw badRequest('invalid distribution or component');
  }
  return { distribution: d, component: c };
}

/**
 * The Debian package store and its published trees (debian.md): Forgejo's registry routes
 * write here directly; the aptly service writes publishes and asks for builds. Every tree is
 * built incrementally under its lock and swapped in one transaction.
 */
export class DebianService {
  readonly maxUploadBytes: number;
  readonly db: Knex;
  readonly blobs: BlobStore;
  private readonly ownerKeys: OwnerKeys;
  private readonly metrics: Metrics;
  private readonly appName: string;
  readonly now: () => number;

  constructor(o: DebianServiceOptions) {
    this.db = o.db;
    this.blobs = o.blobs;
    this.ownerKeys = o.ownerKeys;
    this.metrics = o.metrics;
    this.maxUploadBytes = o.maxUploadBytes;
    this.appName = o.appName;
    this.now = o.now ?? Date.now;
  }

  // ---------------------------------------------------------------- keys (§4.8)

  private ownerKey(owner: OwnerRef) {
    return this.ownerKeys.get(owner.id, KEY_KIND, { name: owner.name, comment: 'Debian Registry', email: '' });
  }

  /** The unlocked owner key; fetch it before taking a lock. */
  async signingKey(owner: OwnerRef): Promise<SigningKey> {
    return (await this.ownerKey(owner)).signingKey;
  }

  /** The owner's armored public key, made on first need. */
  async repositoryKey(owner: OwnerRef): Promise<string> {
    return (await this.ownerKey(owner)).publicKey;
  }

  /** The owner key's fingerprint (aptly's `Signing.GpgKey` must name it). */
  async keyFingerprint(owner: OwnerRef): Promise<string> {
    return (await this.ownerKey(owner)).fingerprint;
  }

  // ---------------------------------------------------------------- packages (§3)

  /** Streams a body to staging while reading it as a `.deb`; a bad package is a value here. */
  async stageDeb(body: Readable): Promise<StagedDeb> {
    const { staged, inspected } = await this.blobs.stage(body, {
      maxBytes: this.maxUploadBytes,
      inspect: (copy) =>
        readDeb(copy).catch((err: unknown) => {
          if (err instanceof HttpError && err.status === 400) return err;
          throw err;
        }),
    });
    this.metrics.uploadBytes.inc({ type: 'debian' }, staged.size);
    return { staged, info: inspected };
  }

  /** Streams a body that is no package (aptly uploads of other files) to staging. */
  async stagePlain(body: Readable): Promise<StagedBlob> {
    const { staged } = await this.blobs.stage(body, { maxBytes: this.maxUploadBytes });
    this.metrics.uploadBytes.inc({ type: 'debian' }, staged.size);
    return staged;
  }

  /** The row a parsed upload becomes: key from its basename, stanza parts, gzipped contents. */
  packageRow(ownerId: number, staged: StagedBlob, info: DebInfo, fileName: string, type: 'deb' | 'udeb', nowMs: number): NewDebPackage {
    const c: DebControl = info.control;
    const d = staged.digests;
    const facts = { size: staged.size, md5: d.md5, sha1: d.sha1, sha256: d.sha256, sha512: d.sha512 };
    const parts = renderStanzaParts(c.fields, facts);
    return {
      ownerId,
      key: packageKey({ name: c.name, version: c.version, architecture: c.architecture, fileName, ...facts }),
      name: c.name,
      version: c.version,
      architecture: c.architecture,
      type,
      fileName,
      ...facts,
      sourceName: sourceName(c),
      section: c.fields.get('Section') ?? '',
      createdAtMs: nowMs,
      control: [...c.fields],
      stanzaHead: parts.head,
      stanzaTail: parts.tail,
      contents: gzipSync(info.contents.map((p) => `${p}\n`).join('')),
    };
  }

  /** Inside a lock: the blob row, the file, the package row (insert-if-absent by key). */
  async storePackage(lock: DebianLock, staged: StagedBlob, row: NewDebPackage): Promise<number> {
    await saveBlob(lock.trx, staged, row.createdAtMs);
    const promoted = await this.blobs.promote(staged);
    lock.onRollback(promoted.undo);
    return savePackage(lock.trx, row);
  }

  // ---------------------------------------------------------------- registry (§6)

  /** 409 when an aptly publish at `.` holds D, or a distribution below it. */
  async checkNotAptlyHeld(db: Knex, ownerId: number, distribution: string): Promise<void> {
    const held = (await listTrees(db, ownerId, '.')).some(
      (t) => t.kind === 'aptly' && (t.distribution === distribution || t.distribution.startsWith(`${distribution}/`)),
    );
    if (held) throw conflict(`distribution ${distribution} is published through the aptly API`);
  }

  /** `PUT B/pool/{D}/{C}/upload`: store, enter, build; 201 means it is in Packages. */
  async addRegistryPackage(owner: OwnerRef, target: { distribution: string; component: string }, body: Readable, uploader: Uploader | undefined): Promise<void> {
    void uploader; // Forgejo records it on the package version; ours are per owner only
    const { distribution, component } = target;
    const { staged, info } = await this.stageDeb(body);
    try {
      if (info instanceof HttpError) throw info;
      const c = info.control;
      const nowMs = this.now();
      const row = this.packageRow(owner.id, staged, info, registryFileName(c.name, c.version, c.architecture), 'deb', nowMs);
      const coords: RegistryCoordinates = { ownerId: owner.id, distribution, component, name: c.name, version: c.version, architecture: c.architecture };
      const ticket = await withDebianLocks(
        this.db,
        [treeLockKey(owner.id, '.', distribution)],
        async (lock) => {
          await this.checkNotAptlyHeld(lock.trx, owner.id, distribution);
          const tree = await saveTree(lock.trx, { ownerId: owner.id, prefix: '.', distribution, kind: 'registry' }, nowMs);
          if (tree.kind !== 'registry') throw conflict(`distribution ${distribution} is published through the aptly API`);
          if (await findRegistryEntry(lock.trx, coords)) throw conflict('package file already exists');
          const packageId = await this.storePackage(lock, staged, row);
          if (!(await saveRegistryEntry(lock.trx, coords, packageId, nowMs))) throw conflict('package file already exists');
          return { component, architecture: c.architecture, ticket: await bumpIndexWant(lock.trx, tree.id, component, c.architecture) };
        },
        nowMs,
      );
      await this.ensureBuilt(owner, '.', distribution, [ticket]);
    } finally {
      await staged.discard();
    }
  }

  /** `DELETE B/pool/{D}/{C}/{name}/{version}/{A}`: the entry goes, the package row stays. */
  async removeRegistryPackage(owner: OwnerRef, coords: Omit<RegistryCoordinates, 'ownerId'>): Promise<void> {
    const missing = () => notFound('package file does not exist');
    if (!REGISTRY_NAME.test(coords.distribution) || !REGISTRY_NAME.test(coords.component)) throw missing();
    const where = { ...coords, ownerId: owner.id };
    // Unlocked first: a miss must not even create the lock row (bad input changes nothing).
    if (!(await findRegistryEntry(this.db, where))) throw missing();
    const ticket = await withDebianLocks(this.db, [treeLockKey(owner.id, '.', coords.distribution)], async (lock) => {
      const entry = await findRegistryEntry(lock.trx, where);
      const tree = await findTree(lock.trx, owner.id, '.', coords.distribution);
      if (!entry || !tree) throw missing();
      await removeRegistryEntry(lock.trx, entry.id);
      return { component: coords.component, architecture: coords.architecture, ticket: await bumpIndexWant(lock.trx, tree.id, coords.component, coords.architecture) };
    });
    await this.ensureBuilt(owner, '.', coords.distribution, [ticket]);
  }

  // ---------------------------------------------------------------- builds (§5)

  /**
   * The coalesced build: under the tree's lock, stop if another writer already built past our
   * tickets; else rebuild every index whose `built` lags its `want`.
   */
  async ensureBuilt(owner: OwnerRef, prefix: string, distribution: string, tickets: readonly BuildTicket[]): Promise<void> {
    // Before the lock: on SQLite a query outside the transaction would wait for it forever.
    const key = await this.signingKey(owner);
    await withDebianLocks(this.db, [treeLockKey(owner.id, prefix, distribution)], async (lock) => {
      const tree = await findTree(lock.trx, owner.id, prefix, distribution);
      if (!tree) return;
      const states = await listIndexStates(lock.trx, tree.id);
      const built = (t: BuildTicket) => states.find((s) => s.component === t.component && s.architecture === t.architecture)?.built ?? 0;
      if (tickets.every((t) => built(t) >= t.ticket)) return; // another writer built it
      const dirty = new Set(states.filter((s) => s.built < s.want).map((s) => indexKey(s.component, s.architecture)));
      await this.buildTree(lock, tree, dirty, tree.kind === 'registry' || tree.signed ? key : undefined);
      await markIndexesBuilt(lock.trx, tree.id, states);
    });
  }

  /** What a tree is made of, read from its rows (registry entries or an aptly publish). */
  async treeShape(db: Knex, tree: TreeRow): Promise<TreeShape> {
    if (tree.kind === 'registry') {
      const entries = await listRegistryEntries(db, tree.ownerId, tree.distribution);
      const members: TreeMember[] = entries.map((e) => ({
        ...memberOf(e.pkg, e.component),
        filename: registryPoolPath(tree.distribution, e.component, e.pkg.name, e.pkg.version, e.pkg.architecture),
      }));
      return {
        kind: 'registry',
        distribution: tree.distribution,
        members,
        components: registryComponents(members),
        architectures: registryArchitectures(members),
        skipContents: true,
        release: { origin: this.appName, label: this.appName, acquireByHash: true, validUntil: false, componentCodename: false },
      };
    }
    const publish = await findPublishByTree(db, tree.id);
    if (!publish) throw new Error(`tree ${tree.id} has no publish`);
    const settings = parsePublishSettings(publish.settings);
    const members = (await listPublishMembers(db, publish.id)).map((m) => ({ ...memberOf(m.pkg, m.component), filename: m.poolPath }));
    const fallback = defaultOriginLabel(tree.prefix, tree.distribution);
    return {
      kind: 'aptly',
      distribution: tree.distribution,
      members,
      components: [...new Set(parsePublishSources(publish.sources).map((s) => s.component))].sort(),
      architectures: settings.architectures,
      skipContents: settings.skipContents,
      release: {
        origin: settings.origin || fallback,
        label: settings.label || fallback,
        version: settings.version,
        notAutomatic: settings.notAutomatic,
        butAutomaticUpgrades: settings.butAutomaticUpgrades,
        acquireByHash: settings.acquireByHash,
        signedBy: settings.signedBy,
        description: 'Generated by Stowage',
        validUntil: settings.signedBy !== '',
        componentCodename: true,
      },
    };
  }

  /**
   * Builds one tree inside its lock: dirty indexes from stored stanza parts and path lists, clean
   * ones carried, Release re-rendered and re-signed, then one swap of the file rows (§5).
   */
  async buildTree(lock: DebianLock, tree: TreeRow, dirty: ReadonlySet<string> | 'all', key: SigningKey | undefined): Promise<void> {
    const started = process.hrtime.bigint();
    const shape = await this.treeShape(lock.trx, tree);
    const current = await listCurrentTreeFiles(lock.trx, tree.id);
    const nowMs = await dbNowMs(lock.trx);
    const T = nextBuildTimeMs(tree.builtAtMs, nowMs);
    const rendered = await this.renderTree(lock.trx, tree, shape, current, dirty, T, key);

    const currentByPath = new Map(current.map((f) => [f.path, f]));
    const superseded: number[] = [];
    for (const f of rendered) {
      const before = currentByPath.get(f.path);
      if (before && before.sha256 === f.facts.sha256) continue; // same bytes: same row, same validators
      if (before) superseded.push(before.id);
      if (!f.bytes) throw new Error(`carried file ${f.path} changed`);
      await this.storeTreeBlob(lock, f.bytes, nowMs);
      await saveTreeFile(lock.trx, { treeId: tree.id, path: f.path, dir: dirOf(f.path), sha256: f.facts.sha256, size: f.facts.size, lastModifiedMs: T });
    }
    const kept = new Set(rendered.map((f) => f.path));
    for (const f of current) if (!kept.has(f.path)) superseded.push(f.id);
    await supersedeTreeFiles(lock.trx, superseded, T);
    await purgeSupersededTreeFiles(lock.trx, tree.id, T - HISTORY_MS);
    await updateTree(lock.trx, tree.id, { builtAtMs: T, signed: key !== undefined });
    this.metrics.indexUpdates.inc({ type: 'debian' });
    this.metrics.indexUpdateDuration.observe({ type: 'debian' }, Number(process.hrtime.bigint() - started) / 1e9);
  }

  private async storeTreeBlob(lock: DebianLock, bytes: Buffer, nowMs: number): Promise<void> {
    const { staged } = await this.blobs.stage(Readable.from([bytes]), { maxBytes: MAX_INDEX_BYTES });
    try {
      await saveBlob(lock.trx, staged, nowMs);
      const promoted = await this.blobs.promote(staged);
      lock.onRollback(async () => {
        await promoted.undo();
        await staged.discard();
      });
    } finally {
      await staged.discard(); // a no-op once promoted
    }
  }

  /** Every file of a tree for time T: dirty or missing indexes rendered, the rest carried. */
  private async renderTree(
    db: Knex,
    tree: TreeRow,
    shape: TreeShape,
    current: readonly TreeFileRow[],
    dirty: ReadonlySet<string> | 'all',
    T: number,
    key: SigningKey | undefined,
  ): Promise<RenderedFile[]> {
    const currentByPath = new Map(current.map((f) => [f.path, f]));
    const out: RenderedFile[] = [];
    const add = (path: string, bytes: Buffer) => out.push({ path, bytes, facts: factsOf(bytes) });
    const plans = planTree(shape);
    const work = plans.map((plan) => {
      const plain = planPath(plan);
      const paths = [plain, ...plan.compressions.map((c) => `${plain}.${c}`)];
      const present = paths.filter((p) => currentByPath.has(p));
      const clean = !isDirty(plan, dirty);
      const mode: 'carry' | 'skip' | 'render' =
        clean && present.length === paths.length ? 'carry' : clean && plan.dropWhenEmpty && present.length === 0 ? 'skip' : 'render';
      return { plan, plain, paths, mode };
    });
    const toRender = work.filter((w) => w.mode === 'render');
    const stanzas = await loadStanzas(db, toRender.filter((w) => w.plan.kind === 'packages').flatMap((w) => w.plan.members.map((m) => m.packageId)));
    const contents = await loadContents(db, toRender.filter((w) => w.plan.kind === 'contents').flatMap((w) => w.plan.members.map((m) => m.packageId)));
    const pathLists = new Map<number, string[]>();
    const pathsOf = (id: number) => {
      let list = pathLists.get(id);
      if (!list) {
        const text = gunzipSync(contents.get(id) ?? Buffer.alloc(0)).toString('utf8');
        list = text === '' ? [] : text.slice(0, -1).split('\n');
        pathLists.set(id, list);
      }
      return list;
    };

    for (const w of work) {
      if (w.mode === 'carry') {
        for (const p of w.paths) {
          const f = currentByPath.get(p)!;
          out.push({ path: p, carried: f, facts: f });
        }
      } else if (w.mode === 'render') {
        let text: string | undefined;
        if (w.plan.kind === 'packages') {
          text = buildPackages(
            w.plan.members.map((m) => {
              const parts = stanzas.get(m.packageId);
              if (!parts) throw new Error(`package ${m.packageId} has no stanza`);
              return { name: m.name, version: m.version, architecture: m.architecture, parts, filename: m.filename };
            }),
          );
        } else {
          text = buildContents(w.plan.members.map((m) => ({ location: contentsLocation(m.name, m.section), paths: pathsOf(m.packageId) })));
        }
        if (text !== undefined) {
          const plain = Buffer.from(text, 'utf8');
          add(w.plain, plain);
          for (const c of w.plan.compressions) add(`${w.plain}.${c}`, await compressBytes(c, plain));
        }
      }
      if (w.plan.componentRelease !== undefined) add(`${w.plan.dir}/Release`, Buffer.from(w.plan.componentRelease, 'utf8'));
    }
    if (out.length === 0) return out; // an emptied distribution loses its Release files too

    const r = shape.release;
    const release = formatRelease(
      {
        origin: r.origin,
        label: r.label,
        suite: tree.distribution,
        version: r.version,
        codename: tree.distribution,
        dateMs: T,
        validUntilMs: r.validUntil ? validUntilMs(T) : undefined,
        notAutomatic: r.notAutomatic,
        butAutomaticUpgrades: r.butAutomaticUpgrades,
        acquireByHash: r.acquireByHash,
        signedBy: r.signedBy,
        architectures: releaseArchitectures(shape),
        components: shape.components,
        description: r.description,
      },
      out.map((f) => ({ path: f.path, ...f.facts })),
    );
    add('Release', Buffer.from(release, 'utf8'));
    if (key) {
      add('InRelease', Buffer.from(clearsign(key, release, T), 'utf8'));
      add('Release.gpg', Buffer.from(signArmoredDetached(key, Buffer.from(release, 'utf8'), T), 'utf8'));
    }
    return out;
  }

  /**
   * A full rebuild of one tree from its rows, next to the stored current files: the two must be
   * byte-identical (§5; asserted after every scenario test).
   */
  async rebuildTreeFiles(owner: OwnerRef, prefix: string, distribution: string): Promise<{ stored: Map<string, Buffer>; rebuilt: Map<string, Buffer> }> {
    const tree = await findTree(this.db, owner.id, prefix, distribution);
    if (!tree) throw notFound();
    const stored = new Map<string, Buffer>();
    for (const f of await listCurrentTreeFiles(this.db, tree.id)) stored.set(f.path, await readAll(this.blobs.open(f.sha256)));
    const shape = await this.treeShape(this.db, tree);
    const key = tree.signed ? (await this.ownerKey(owner)).signingKey : undefined;
    const files = await this.renderTree(this.db, tree, shape, [], 'all', tree.builtAtMs, key);
    return { stored, rebuilt: new Map(files.map((f) => [f.path, f.bytes!])) };
  }

  // ---------------------------------------------------------------- sweeping (§2)

  /**
   * Drops packages nothing has referenced for an hour and by-hash history older than an hour;
   * never inside a request. The blobs then fall to the core sweeper.
   */
  async sweep(nowMs = this.now()): Promise<{ packages: number; files: number }> {
    const packages = await removeUnreferencedPackages(this.db, nowMs - HISTORY_MS);
    const files = await purgeAllSupersededTreeFiles(this.db, nowMs - HISTORY_MS);
    return { packages, files };
  }

  // ---------------------------------------------------------------- serving (§1, §4.7, §4.9)

  /** Answers a GET under `B/` that is not another route: tree dispatch of debian.md §1. */
  async getTreeFile(owner: OwnerRef, segments: readonly string[], privateCache: boolean): Promise<ServedFile> {
    const at = segments.findIndex((s) => s === 'dists' || s === 'pool');
    if (at < 0) throw notFound();
    const prefix = at === 0 ? '.' : segments.slice(0, at).join('/');
    const rest = segments.slice(at + 1);
    const cache = (value: string) => (privateCache ? `private, ${value}` : value);
    if (segments[at] === 'pool') return this.poolFile(owner, prefix, rest, cache('no-cache'));

    const trees = await listTrees(this.db, owner.id, prefix);
    const tree = trees.find((t) => {
      const d = t.distribution.split('/');
      return rest.length > d.length && d.every((s, i) => rest[i] === s);
    });
    if (!tree) throw notFound();
    const rel = rest.slice(tree.distribution.split('/').length);
    const found = (await this.findDistsFile(tree, rel, cache)) ??
      // Forgejo also answers `{C}/{A}/…` for `{C}/binary-{A}/…` on registry trees.
      (tree.kind === 'registry' && rel.length >= 3 && !rel[1]!.startsWith('binary-')
        ? await this.findDistsFile(tree, [rel[0]!, `binary-${rel[1]!}`, ...rel.slice(2)], cache)
        : undefined);
    if (!found) throw notFound();
    return found;
  }

  private async findDistsFile(tree: TreeRow, rel: readonly string[], cache: (v: string) => string): Promise<ServedFile | undefined> {
    const path = rel.join('/');
    const exact = await findCurrentTreeFile(this.db, tree.id, path);
    if (exact) return this.treeFile(exact, cache('no-cache'));
    const m = BY_HASH.exec(path);
    if (!m) return undefined;
    const algorithm = ALGORITHMS[m[2]!.toLowerCase()];
    if (!algorithm) return undefined;
    const hex = m[3]!.toLowerCase();
    const candidates = await listTreeFilesInDir(this.db, tree.id, m[1] ?? '', this.now() - HISTORY_MS);
    const hit = candidates.find((f) => f[algorithm] === hex);
    return hit ? this.treeFile(hit, cache('max-age=31536000, immutable')) : undefined;
  }

  private treeFile(f: TreeFileRow, cacheControl: string): ServedFile {
    return {
      size: f.size,
      sha256: f.sha256,
      lastModifiedMs: f.lastModifiedMs,
      open: (range) => this.blobs.open(f.sha256, range),
      contentType: TREE_TYPE,
      cacheControl,
    };
  }

  private async poolFile(owner: OwnerRef, prefix: string, rest: readonly string[], cacheControl: string): Promise<ServedFile> {
    const path = ['pool', ...rest].join('/');
    const pooled = await findPoolFile(this.db, owner.id, prefix, path);
    if (pooled) {
      const [pkg] = await getPackages(this.db, [pooled.packageId]);
      if (pkg) return this.packageFile(pkg, pkg.createdAtMs, cacheControl);
    }
    if (prefix === '.' && rest.length === 3) {
      const [distribution, component, file] = rest as [string, string, string];
      const m = /^([^_]+)_([^_]+)_([^_]+)\.deb$/.exec(file);
      if (m) {
        const entry = await findRegistryEntry(this.db, { ownerId: owner.id, distribution, component, name: m[1]!, version: m[2]!, architecture: m[3]! });
        const [pkg] = entry ? await getPackages(this.db, [entry.packageId]) : [];
        if (entry && pkg) return this.packageFile(pkg, entry.createdAtMs, cacheControl);
      }
    }
    throw notFound();
  }

  private packageFile(pkg: DebPackageRow, lastModifiedMs: number, cacheControl: string): ServedFile {
    return {
      size: pkg.size,
      sha256: pkg.sha256,
      lastModifiedMs,
      open: (range) => this.blobs.open(pkg.sha256, range),
      contentType: DEB_TYPE,
      cacheControl,
    };
  }
}

function memberOf(pkg: DebPackageRow, component: string): Omit<TreeMember, 'filename'> {
  return {
    component,
    packageId: pkg.id,
    name: pkg.name,
    version: pkg.version,
    architecture: pkg.architecture,
    type: pkg.type,
    section: pkg.section,
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}
