import { compareBytes, formatStanza, type StanzaParts } from './control.js';
import { compareVersions } from './version.js';

/** One package as an index lists it. */
export interface IndexEntry {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly parts: StanzaParts;
  /** Path relative to the tree's prefix (`pool/main/h/hello/hello.deb`). */
  readonly filename: string;
}

/** Name ascending, version descending (dpkg order), architecture ascending (debian.md §4.2). */
export function comparePackages(
  a: Pick<IndexEntry, 'name' | 'version' | 'architecture'>,
  b: Pick<IndexEntry, 'name' | 'version' | 'architecture'>,
): number {
  if (a.name !== b.name) return compareBytes(a.name, b.name);
  const v = compareVersions(a.version, b.version);
  if (v !== 0) return -v;
  return compareBytes(a.architecture, b.architecture);
}

/** A `Packages` file: every stanza followed by a blank line; no packages, no bytes. */
export function buildPackages(entries: readonly IndexEntry[]): string {
  return [...entries]
    .sort(comparePackages)
    .map((e) => `${formatStanza(e.parts, e.filename)}\n`)
    .join('');
}

/** One package's share of a Contents file. */
export interface ContentsEntry {
  /** `{Section}/{Package}`, or `{Package}` without a section. */
  readonly location: string;
  readonly paths: readonly string[];
}

/** aptly's qualified name of a package in Contents files. */
export const contentsLocation = (name: string, section: string): string => (section ? `${section}/${name}` : name);

/**
 * A Contents file (debian.md §4.3): `FILE LOCATION`, then each path with its locations, sorted by
 * path and then location. Undefined when no package has a path (aptly writes no file then).
 */
export function buildContents(entries: readonly ContentsEntry[]): string | undefined {
  const byPath = new Map<string, Set<string>>();
  for (const e of entries) {
    for (const path of e.paths) {
      let set = byPath.get(path);
      if (!set) byPath.set(path, (set = new Set()));
      set.add(e.location);
    }
  }
  if (byPath.size === 0) return undefined;
  // aptly sorts `path NUL location` keys: a path sorts before its extensions.
  const lines = [...byPath]
    .sort(([a], [b]) => compareBytes(`${a}\0`, `${b}\0`))
    .map(([path, locations]) => `${path} ${[...locations].sort(compareBytes).join(',')}\n`);
  return `FILE LOCATION\n${lines.join('')}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** `Sun, 02 Nov 2026 14:31:38 UTC` (debian.md §4.5: two-digit day, literal UTC). */
export function formatReleaseDate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`;
}

/** T plus a century, as aptly's `AddDate(100, 0, 0)`. */
export function validUntilMs(ms: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + 100);
  return d.getTime();
}

/** A file listed in a Release, with its hashes. */
export interface ReleaseFile {
  /** Relative to `dists/D/`. */
  readonly path: string;
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
  readonly sha512: string;
}

/** The top-level Release's fields (debian.md §4.5); absent ones are skipped. */
export interface ReleaseFields {
  readonly origin: string;
  readonly label: string;
  readonly suite: string;
  readonly version?: string;
  readonly codename: string;
  readonly dateMs: number;
  readonly validUntilMs?: number;
  readonly notAutomatic?: string;
  readonly butAutomaticUpgrades?: string;
  readonly acquireByHash: boolean;
  readonly signedBy?: string;
  readonly architectures: readonly string[];
  readonly components: readonly string[];
  readonly description?: string;
}

const line = (name: string, value: string | undefined) => (value === undefined || value === '' ? '' : `${name}: ${value}\n`);

function hashSection(name: string, files: readonly ReleaseFile[], pick: (f: ReleaseFile) => string): string {
  return `${name}:\n${files.map((f) => ` ${pick(f)} ${String(f.size).padStart(8, ' ')} ${f.path}\n`).join('')}`;
}

/** The top-level `Release` of a tree, file lists sorted bytewise; ends with a newline. */
export function formatRelease(r: ReleaseFields, files: readonly ReleaseFile[]): string {
  const sorted = [...files].sort((a, b) => compareBytes(a.path, b.path));
  return [
    line('Origin', r.origin),
    line('Label', r.label),
    line('Suite', r.suite),
    line('Version', r.version),
    line('Codename', r.codename),
    line('Date', formatReleaseDate(r.dateMs)),
    line('Valid-Until', r.validUntilMs === undefined ? undefined : formatReleaseDate(r.validUntilMs)),
    line('NotAutomatic', r.notAutomatic),
    line('ButAutomaticUpgrades', r.butAutomaticUpgrades),
    line('Acquire-By-Hash', r.acquireByHash ? 'yes' : undefined),
    line('Signed-By', r.signedBy),
    line('Architectures', r.architectures.join(' ')),
    line('Components', r.components.join(' ')),
    line('Description', r.description),
    hashSection('MD5Sum', sorted, (f) => f.md5),
    hashSection('SHA1', sorted, (f) => f.sha1),
    hashSection('SHA256', sorted, (f) => f.sha256),
    hashSection('SHA512', sorted, (f) => f.sha512),
  ].join('');
}

/** A component's `Release` in an aptly tree (debian.md §4.4). */
export interface ComponentReleaseFields {
  readonly origin: string;
  readonly label: string;
  readonly distribution: string;
  readonly version?: string;
  /** aptly 1.5.0 writes no Codename here; we follow HEAD. */
  readonly codename?: string;
  readonly acquireByHash: boolean;
  readonly signedBy?: string;
  readonly architecture: string;
  readonly component: string;
}

export function formatComponentRelease(r: ComponentReleaseFields): string {
  return [
    line('Origin', r.origin),
    line('Label', r.label),
    line('Archive', r.distribution),
    line('Suite', r.distribution),
    line('Version', r.version),
    line('Codename', r.codename),
    line('Acquire-By-Hash', r.acquireByHash ? 'yes' : undefined),
    line('Signed-By', r.signedBy),
    line('Architecture', r.architecture),
    line('Component', r.component),
  ].join('');
}

/** aptly's pool directory of a source: `lib` sources by four letters, others by one. */
export function poolDirectory(source: string): string {
  const letters = source.startsWith('lib') && source.length > 3 ? source.slice(0, 4) : source.slice(0, 1);
  return `${letters}/${source}`;
}

/** Where an aptly publish puts a package (debian.md §4.1), relative to the prefix. */
export function aptlyPoolPath(p: {
  component: string;
  source: string;
  fileName: string;
  multiDistDistribution?: string;
}): string {
  const dist = p.multiDistDistribution === undefined ? '' : `${p.multiDistDistribution}/`;
  return `pool/${dist}${p.component}/${poolDirectory(p.source)}/${p.fileName}`;
}

/** Where the registry puts a package: `pool/D/C/{name}_{version}_{A}.deb`, epoch colon kept. */
export const registryPoolPath = (d: string, c: string, name: string, version: string, arch: string): string =>
  `pool/${d}/${c}/${registryFileName(name, version, arch)}`;

export const registryFileName = (name: string, version: string, arch: string): string => `${name}_${version}_${arch}.deb`;
