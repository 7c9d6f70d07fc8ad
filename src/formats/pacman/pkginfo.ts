import { badRequest } from '../../errors.js';

/** Which API a package came through: Forgejo's Arch registry is strict, Vieter is lenient. */
export type Surface = 'arch' | 'vieter';

/**
 * The fields of a `.PKGINFO` (pacman.md §3.3). Absent single keys are `''`; `size` and
 * `builddate` stay decimal strings so 64-bit values survive exactly.
 */
export interface Pkginfo {
  readonly name: string;
  readonly base: string;
  readonly version: string;
  readonly description: string;
  readonly url: string;
  readonly builddate: string;
  readonly packager: string;
  readonly size: string;
  readonly arch: string;
  readonly groups: readonly string[];
  readonly licenses: readonly string[];
  readonly replaces: readonly string[];
  readonly conflicts: readonly string[];
  readonly provides: readonly string[];
  readonly depends: readonly string[];
  readonly optdepends: readonly string[];
  readonly makedepends: readonly string[];
  readonly checkdepends: readonly string[];
  readonly backup: readonly string[];
  readonly xdata: readonly string[];
  /** Keys we do not know, in order of first appearance: the strict surface rejects them. */
  readonly unknownKeys: readonly string[];
}

type SingleField =
  'name' | 'base' | 'version' | 'description' | 'url' | 'builddate' | 'packager' | 'size' | 'arch';
type ListField =
  | 'groups'
  | 'licenses'
  | 'replaces'
  | 'conflicts'
  | 'provides'
  | 'depends'
  | 'optdepends'
  | 'makedepends'
  | 'checkdepends'
  | 'backup'
  | 'xdata';

const SINGLE_KEYS: ReadonlyMap<string, SingleField> = new Map([
  ['pkgname', 'name'],
  ['pkgbase', 'base'],
  ['pkgver', 'version'],
  ['pkgdesc', 'description'],
  ['url', 'url'],
  ['builddate', 'builddate'],
  ['packager', 'packager'],
  ['size', 'size'],
  ['arch', 'arch'],
]);

const LIST_KEYS: ReadonlyMap<string, ListField> = new Map([
  ['group', 'groups'],
  ['license', 'licenses'],
  ['replaces', 'replaces'],
  ['conflict', 'conflicts'],
  ['provides', 'provides'],
  ['depend', 'depends'],
  ['optdepend', 'optdepends'],
  ['makedepend', 'makedepends'],
  ['checkdepend', 'checkdepends'],
  ['backup', 'backup'],
  ['xdata', 'xdata'],
]);

// repo-add collapses `[[:space:]]` runs; in the C locale that is exactly these six bytes.
const SPACE_RUNS = /[ \t\n\v\f\r]+/g;
const EDGE_SPACES = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;
const normalize = (raw: string): string => raw.replace(EDGE_SPACES, '').replace(SPACE_RUNS, ' ');

/**
 * Reads `.PKGINFO` text: lines without `=`, empty lines and `#` comments are skipped; for single
 * keys the last value wins, list keys collect their non-empty values.
 */
export function parsePkginfo(text: string): Pkginfo {
  const single: Record<SingleField, string> = {
    name: '',
    base: '',
    version: '',
    description: '',
    url: '',
    builddate: '',
    packager: '',
    size: '',
    arch: '',
  };
  const lists: Record<ListField, string[]> = {
    groups: [],
    licenses: [],
    replaces: [],
    conflicts: [],
    provides: [],
    depends: [],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
    backup: [],
    xdata: [],
  };
  const unknownKeys: string[] = [];

  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).replace(EDGE_SPACES, '');
    const value = normalize(line.slice(eq + 1));
    const singleField = SINGLE_KEYS.get(key);
    const listField = LIST_KEYS.get(key);
    if (singleField) single[singleField] = value;
    else if (listField) {
      if (value !== '') lists[listField].push(value);
    } else if (!unknownKeys.includes(key)) unknownKeys.push(key);
  }
  return { ...single, ...lists, unknownKeys };
}

// pacman.md §3.3. Stricter than Forgejo where F12 says so: no leading `.`/`-`, sub-releases.
const NAME = /^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*$/;
const VERSION = /^(?:[0-9]+:)?[A-Za-z0-9._+~]+-[0-9]+(?:\.[0-9]+)?$/;
const ARCH = /^[A-Za-z0-9_]+$/;
const DEP_SOURCE = '[A-Za-z0-9@._+-]+(?:(?:<=|>=|<|>|=)(?:[0-9]+:)?[A-Za-z0-9@._+-]+)?';
const DEPENDENCY = new RegExp(`^${DEP_SOURCE}$`);
const OPTIONAL_DEPENDENCY = new RegExp(`^${DEP_SOURCE}(?::.*)?$`);
const MAX_NAME_CHARS = 255;
const MAX_INT64 = 2n ** 63n - 1n;

const isName = (value: string) => value.length <= MAX_NAME_CHARS && NAME.test(value);
const isInt64 = (value: string) => /^[0-9]+$/.test(value) && BigInt(value) <= MAX_INT64;

const isHttpUrl = (value: string): boolean => {
  if (!/^https?:\/\/[^\s]+$/i.test(value)) return false;
  try {
    return new URL(value).hostname !== '';
  } catch {
    return false;
  }
};

// Forgejo's texts (modules/packages/arch/metadata.go), in its order of checks.
const DEPENDENCY_LISTS: ReadonlyArray<readonly [ListField, RegExp, string]> = [
  ['checkdepends', DEPENDENCY, 'invalid check dependency'],
  ['depends', DEPENDENCY, 'invalid dependency'],
  ['makedepends', DEPENDENCY, 'invalid make dependency'],
  ['provides', DEPENDENCY, 'invalid provides'],
  ['conflicts', DEPENDENCY, 'invalid conflicts'],
  ['replaces', DEPENDENCY, 'invalid replaces'],
  ['optdepends', OPTIONAL_DEPENDENCY, 'invalid optional dependency'],
];

/**
 * Applies the rules of pacman.md §3.3 for `surface`, throwing a 400 with Forgejo's one-line
 * message at the first violation; returns `info` unchanged.
 */
export function validatePkginfo(info: Pkginfo, surface: Surface): Pkginfo {
  const strict = surface === 'arch';
  const unknown = info.unknownKeys[0];
  if (strict && unknown !== undefined) throw badRequest(`property is not supported ${unknown}`);
  if (!isName(info.name)) throw badRequest('invalid package name');
  if (strict && !isName(info.base)) throw badRequest('invalid package base');
  if (info.version.length > MAX_NAME_CHARS || !VERSION.test(info.version)) {
    throw badRequest('invalid package version');
  }
  if (info.arch === '') throw badRequest('architecture should be specified');
  if (!ARCH.test(info.arch)) throw badRequest('invalid architecture');
  if (info.builddate !== '' && !isInt64(info.builddate)) {
    throw badRequest(`invalid build date: ${info.builddate}`);
  }
  if (info.size !== '' && !isInt64(info.size))
    throw badRequest(`invalid installed size: ${info.size}`);
  if (!strict) return info;

  if (info.url !== '' && !isHttpUrl(info.url)) throw badRequest('invalid project URL');
  for (const [field, pattern, message] of DEPENDENCY_LISTS) {
    const bad = info[field].find((value) => !pattern.test(value));
    if (bad !== undefined) throw badRequest(`${message}: ${bad}`);
  }
  if (info.backup.some((path) => path.startsWith('/'))) {
    throw badRequest('backup file contains leading forward slash');
  }
  return info;
}
