import { RAW_TEXT, TAG, readFields, type RpmFields } from './rpm.js';
import { RPM_TYPE, writeHeader, type RpmHeader, type TextBytes, type WriteEntry } from './rpm-header.js';

// One package's entry in `pkglist.classic` (alt.md §5): an RPM header in apt-rpm's layout.

/** apt-rpm's own tags (CRPMTAG_*). */
export const APT_TAG = {
  FILENAME: 1000000,
  FILESIZE: 1000001,
  MD5: 1000005,
  BLAKE2B: 1000009,
  DIRECTORY: 1000010,
} as const;

/** Where apt finds packages, below the arch directory: `{arch}/RPMS.classic/{file}`. */
export const PACKAGE_DIRECTORY = 'RPMS.classic';

const U32_MAX = 0xffffffff;
const low32 = (n: number) => Number(BigInt(Math.trunc(n)) & 0xffffffffn);

/** The stored file as apt checks it. */
export interface PkglistFile {
  /** The stored file name (CRPMTAG_FILENAME). */
  readonly fileName: string;
  readonly size: number;
  /** Lower-case hex. */
  readonly md5: string;
  /** BLAKE2b-512, lower-case hex. */
  readonly blake2b: string;
}

/** Everything one entry holds: the package's own values (text or raw bytes) and its file. */
export type PkglistEntry = RpmFields<TextBytes> & PkglistFile;

/** `{V}-{R}`, or `{E}-{V}-{R}` for an epoch other than 0: the dash is parity (alt.md §3.5). */
export function altVersion(f: Pick<RpmFields, 'epoch' | 'version' | 'release'>): string {
  return f.epoch ? `${f.epoch}-${f.version}-${f.release}` : `${f.version}-${f.release}`;
}

/** `{NAME}-{version string}.{ARCH}.rpm`: stored name, CRPMTAG_FILENAME and the URL's last segment. */
export function altFileName(f: Pick<RpmFields, 'name' | 'epoch' | 'version' | 'release' | 'arch'>): string {
  return `${f.name}-${altVersion(f)}.${f.arch}.rpm`;
}

const int32 = (tag: number, values: readonly number[]): WriteEntry => ({ tag, type: RPM_TYPE.INT32, values });
const string = (tag: number, value: TextBytes): WriteEntry => ({ tag, type: RPM_TYPE.STRING, value });
const i18n = (tag: number, value: TextBytes): WriteEntry => ({ tag, type: RPM_TYPE.I18NSTRING, value });
const strings = (tag: number, values: readonly TextBytes[]): WriteEntry => ({
  tag,
  type: RPM_TYPE.STRING_ARRAY,
  values,
});

const toBuffer = (v: TextBytes): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v));
const SLASH = 0x2f;

/** Path → (text up to and including the last `/`, text after it), byte-wise. */
function splitPath(path: TextBytes): [Buffer, Buffer] {
  const b = toBuffer(path);
  const at = b.lastIndexOf(SLASH);
  return [b.subarray(0, at + 1), b.subarray(at + 1)];
}

function dependency(
  tags: readonly [flags: number, name: number, version: number],
  deps: PkglistEntry['provides'],
): WriteEntry[] {
  if (deps.length === 0) return [];
  return [
    int32(
      tags[0],
      deps.map((d) => d.flags >>> 0),
    ),
    strings(
      tags[1],
      deps.map((d) => d.name),
    ),
    strings(
      tags[2],
      deps.map((d) => d.version),
    ),
  ];
}

/**
 * One `pkglist.classic` entry, byte for byte as alt.md §5.2 orders it: Forgejo's layout plus
 * EPOCH when the package has one, no region tag, no i18n table, no DIRINDEXES.
 */
export function formatPkglistEntry(e: PkglistEntry): Buffer {
  const paths = e.files.map((f) => splitPath(f.path));
  return writeHeader([
    string(TAG.NAME, e.name),
    string(TAG.VERSION, e.version),
    i18n(TAG.SUMMARY, e.summary),
    i18n(TAG.DESCRIPTION, e.description),
    string(TAG.RELEASE, e.release),
    ...(e.epoch === null ? [] : [int32(TAG.EPOCH, [low32(e.epoch)])]),
    int32(TAG.SIZE, [Math.min(e.installedSize, U32_MAX)]),
    int32(TAG.BUILD_TIME, [low32(e.buildTime)]),
    string(TAG.LICENSE, e.license),
    string(TAG.PACKAGER, e.packager),
    string(TAG.GROUP, e.group),
    string(TAG.URL, e.url),
    ...(e.changelog.length === 0
      ? []
      : [
          int32(
            TAG.CHANGELOG_TIME,
            e.changelog.map((c) => low32(c.time)),
          ),
          strings(
            TAG.CHANGELOG_NAME,
            e.changelog.map((c) => c.name),
          ),
          strings(
            TAG.CHANGELOG_TEXT,
            e.changelog.map((c) => c.text),
          ),
        ]),
    string(TAG.ARCH, e.arch),
    ...dependency([TAG.PROVIDE_FLAGS, TAG.PROVIDE_NAME, TAG.PROVIDE_VERSION], e.provides),
    string(TAG.SOURCE_RPM, e.sourceRpm),
    ...dependency([TAG.REQUIRE_FLAGS, TAG.REQUIRE_NAME, TAG.REQUIRE_VERSION], e.requires),
    ...(paths.length === 0
      ? []
      : [
          strings(
            TAG.BASENAMES,
            paths.map((p) => p[1]),
          ),
          strings(
            TAG.DIRNAMES,
            paths.map((p) => p[0]),
          ),
        ]),
    string(APT_TAG.FILENAME, e.fileName),
    int32(APT_TAG.FILESIZE, [e.size]),
    string(APT_TAG.MD5, e.md5),
    string(APT_TAG.BLAKE2B, e.blake2b),
    ...dependency([TAG.CONFLICT_FLAGS, TAG.CONFLICT_NAME, TAG.CONFLICT_VERSION], e.conflicts),
    string(APT_TAG.DIRECTORY, PACKAGE_DIRECTORY),
    ...dependency([TAG.OBSOLETE_FLAGS, TAG.OBSOLETE_NAME, TAG.OBSOLETE_VERSION], e.obsoletes),
  ]);
}

/** The entry of an uploaded package: its header's own raw values (D9, D19) and the stored file. */
export function pkglistEntryOf(header: RpmHeader, file: PkglistFile): PkglistEntry {
  return { ...readFields(header, RAW_TEXT), ...file };
}
