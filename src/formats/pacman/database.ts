import { pack } from 'tar-stream';
import { gzipMember, gzipMemberSync } from '../../codecs/gzip.js';
import { compareBytes } from './package.js';

/** One package in a database: `{dir}/` and `{dir}/desc`, plus `{dir}/files` in `.files`. */
export interface MemberEntry {
  readonly dir: string;
  readonly desc: string;
  /** formatFiles output; present only for the `.files` archive's member. */
  readonly files?: string;
}

/** A package's place in a stored archive: members follow each other in manifest order. */
export interface ManifestEntry {
  readonly dir: string;
  readonly fileId: number;
  /** Byte lengths of the package's `.db` and `.files` members. */
  readonly dbLen: number;
  readonly filesLen: number;
}

/** A piece of a new archive: a byte range `[start, end)` of the old one, or a stored member. */
export type Segment =
  | { readonly from: 'old'; readonly start: number; readonly end: number }
  | { readonly from: 'new'; readonly fileId: number };

/** What to write for both archives; the writer appends TRAILER after the segments. */
export interface SplicePlan<E extends ManifestEntry> {
  readonly manifest: readonly E[];
  readonly db: readonly Segment[];
  readonly files: readonly Segment[];
}

const TAR_BLOCK = 512;
const END_OF_ARCHIVE = 2 * TAR_BLOCK;

// pacman.md §4.3: the tar end marker alone, as its own member. Also the empty database.
/** A gzip member of 1024 zero bytes (mtime 0, no name): closes every archive. */
export const TRAILER: Buffer = gzipMemberSync(Buffer.alloc(END_OF_ARCHIVE));

/**
 * One package's entries as a single gzip member without end-of-archive blocks, ready to be
 * concatenated with others (pacman.md §4.3). `mtimeS` is the upload time in seconds.
 */
export async function buildMember(entry: MemberEntry, mtimeS: number): Promise<Buffer> {
  const mtime = new Date(mtimeS * 1000);
  const owner = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime };
  const tar = pack();
  tar.entry({ ...owner, name: `${entry.dir}/`, type: 'directory', mode: 0o755 });
  tar.entry({ ...owner, name: `${entry.dir}/desc`, type: 'file', mode: 0o644 }, entry.desc);
  if (entry.files !== undefined) {
    tar.entry({ ...owner, name: `${entry.dir}/files`, type: 'file', mode: 0o644 }, entry.files);
  }
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(Buffer.from(chunk as Uint8Array));
  const bytes = Buffer.concat(chunks);
  const body = bytes.subarray(0, bytes.length - END_OF_ARCHIVE);
  if (!bytes.subarray(body.length).equals(Buffer.alloc(END_OF_ARCHIVE))) {
    throw new Error('tar-stream did not end with the end-of-archive marker');
  }
  return gzipMember(body);
}

const byDir = (a: ManifestEntry, b: ManifestEntry): number =>
  compareBytes(a.dir, b.dir) || a.fileId - b.fileId;

/**
 * Plans a database update (pacman.md §8): the old manifest minus `removedFileIds` plus `added`,
 * sorted by `dir` in byte order. Kept members are copied as byte ranges of the old archives
 * (offsets are prefix sums of the old manifest's lengths; neighbours merge into one range).
 */
export function planSplice<E extends ManifestEntry>(
  old: readonly E[],
  removedFileIds: readonly number[],
  added: readonly E[],
): SplicePlan<E> {
  const removed = new Set(removedFileIds);
  const oldOffsets = new Map<number, { db: number; files: number }>();
  let db = 0;
  let files = 0;
  for (const entry of old) {
    oldOffsets.set(entry.fileId, { db, files });
    db += entry.dbLen;
    files += entry.filesLen;
  }
  const manifest = [...old.filter((e) => !removed.has(e.fileId)), ...added].sort(byDir);
  const dirs = new Set<string>();
  const ids = new Set<number>();
  for (const entry of manifest) {
    // pacman would see two entries for one dir; better to fail the write than the database.
    if (dirs.has(entry.dir) || ids.has(entry.fileId)) {
      throw new Error(`database would list ${entry.dir} (file ${entry.fileId}) twice`);
    }
    dirs.add(entry.dir);
    ids.add(entry.fileId);
  }
  const addedIds = new Set(added.map((e) => e.fileId));
  const segments = (kind: 'db' | 'files'): Segment[] => {
    const out: Segment[] = [];
    for (const entry of manifest) {
      const at = addedIds.has(entry.fileId) ? undefined : oldOffsets.get(entry.fileId);
      if (!at) {
        out.push({ from: 'new', fileId: entry.fileId });
        continue;
      }
      const start = at[kind];
      const end = start + (kind === 'db' ? entry.dbLen : entry.filesLen);
      const last = out[out.length - 1];
      if (last?.from === 'old' && last.end === start) out[out.length - 1] = { ...last, end };
      else if (end > start) out.push({ from: 'old', start, end });
    }
    return out;
  };
  return { manifest, db: segments('db'), files: segments('files') };
}

/** Every member read from its row, in manifest order: the full rebuild a splice must equal. */
export function fullArchiveSegments(manifest: readonly ManifestEntry[]): readonly Segment[] {
  return manifest.map((entry) => ({ from: 'new', fileId: entry.fileId }));
}
