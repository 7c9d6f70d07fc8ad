import { badRequest } from '../../errors.js';

/** Canonical field name → value, in order of appearance (debian.md §3.2). */
export type ControlFields = ReadonlyMap<string, string>;

/** A validated control paragraph and the identity it gives the package (debian.md §3.3). */
export interface DebControl {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** The `Source` field as written (`foo` or `foo (1.2-3)`), or `''`. */
  readonly source: string;
  /** Every stored field, canonical names, values as §3.2 normalises them. */
  readonly fields: ControlFields;
}

/** What the indexes need of the package file itself. */
export interface DebFileFacts {
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
  readonly sha512: string;
}

/** A package's stanza without its `Filename:` line, which depends on the tree (§3.5). */
export interface StanzaParts {
  readonly head: string;
  readonly tail: string;
}

const SPECIAL_NAMES: ReadonlyMap<string, string> = new Map([
  ['SHA1', 'SHA1'],
  ['SHA256', 'SHA256'],
  ['SHA512', 'SHA512'],
  ['MD5SUM', 'MD5Sum'],
  ['NOTAUTOMATIC', 'NotAutomatic'],
  ['BUTAUTOMATICUPGRADES', 'ButAutomaticUpgrades'],
]);

/** `installed-size` → `Installed-Size`; the special cases apt and aptly spell their own way. */
export function canonicalFieldName(name: string): string {
  const special = SPECIAL_NAMES.get(name.toUpperCase());
  if (special) return special;
  let out = '';
  let startOfWord = true;
  for (const c of name) {
    out += startOfWord ? c.toUpperCase() : c.toLowerCase();
    startOfWord = c === '-';
  }
  return out;
}

const DEPENDENCY_FIELDS = new Set(['Depends', 'Pre-Depends', 'Recommends', 'Suggests', 'Provides']);
// F7: an uploaded control file cannot choose what the index says about the file.
const FILE_FIELDS = new Set(['Filename', 'Size', 'MD5Sum', 'MD5sum', 'SHA1', 'SHA256', 'SHA512']);
const BLANK = /^[ \t]*$/;

/**
 * Parses the first paragraph of a control file. Continuation lines extend the previous field;
 * other lines without a colon are skipped (Forgejo's fixture cuts its control mid-line).
 */
export function parseControl(text: string): ControlFields {
  const fields = new Map<string, string>();
  let current: string | undefined;
  let started = false;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (BLANK.test(line)) {
      if (started) break;
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (current === undefined) continue;
      const before = fields.get(current) ?? '';
      if (current === 'Description') fields.set(current, `${before}${line}\n`);
      else {
        const part = line.trim();
        fields.set(current, before === '' ? part : `${before} ${part}`);
      }
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      current = undefined;
      continue;
    }
    const name = canonicalFieldName(line.slice(0, colon).trim());
    if (fields.has(name)) throw badRequest(`duplicate field ${name}`);
    started = true;
    current = name;
    const value = line.slice(colon + 1);
    if (name === 'Description') {
      // Kept as aptly keeps it: the text after the colon (leading space included), then the
      // continuation lines exactly, each ending in a newline.
      const inline = value.replace(/[ \t]+$/, '');
      fields.set(name, inline === '' ? '' : `${inline}\n`);
    } else fields.set(name, value.trim());
  }
  const out = new Map<string, string>();
  for (const [name, value] of fields) {
    if (FILE_FIELDS.has(name)) continue;
    if (DEPENDENCY_FIELDS.has(name)) {
      const trimmed = value.trim();
      if (trimmed === '') continue;
      out.set(
        name,
        trimmed
          .split(',')
          .map((d) => d.trim())
          .join(', '),
      );
    } else out.set(name, value);
  }
  return out;
}

const NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const VERSION = /^([0-9]+:)?[A-Za-z0-9.+~]+(-[A-Za-z0-9.+~-]*[A-Za-z0-9.+~])?$/;
const ARCHITECTURE = /^[a-z0-9][a-z0-9-]*$/;
const SOURCE_WITH_VERSION = /^(\S+) \((\S+)\)$/;

/** Longest name and version we store: the package key must fit a unique index. */
const MAX_NAME_CHARS = 200;
const MAX_VERSION_CHARS = 200;

export const isPackageName = (name: string) => NAME.test(name) && name.length <= MAX_NAME_CHARS;
export const isPackageVersion = (version: string) => VERSION.test(version) && version.length <= MAX_VERSION_CHARS;

/** §1: lower-case, at most 64 characters, never `any`; `source` only where the caller allows. */
export function isArchitecture(arch: string, allowSource = false): boolean {
  return ARCHITECTURE.test(arch) && arch.length <= 64 && arch !== 'any' && (allowSource || arch !== 'source');
}

/** Checks the identity fields (debian.md §3.3) in the order Forgejo checks them. */
export function validateControl(fields: ControlFields): DebControl {
  const name = fields.get('Package') ?? '';
  const version = fields.get('Version') ?? '';
  const architecture = fields.get('Architecture') ?? '';
  const source = fields.get('Source') ?? '';
  if (!isPackageName(name)) throw badRequest('package name is invalid');
  if (!isPackageVersion(version)) throw badRequest('package version is invalid');
  if (!isArchitecture(architecture)) throw badRequest('package architecture is invalid');
  if (fields.has('Source')) {
    const m = SOURCE_WITH_VERSION.exec(source);
    const ok = m ? isPackageName(m[1]!) && isPackageVersion(m[2]!) : isPackageName(source);
    if (!ok) throw badRequest('package source is invalid');
  }
  return { name, version, architecture, source, fields };
}

/** The source package name: `Source` without its version, else the package name. */
export function sourceName(control: Pick<DebControl, 'name' | 'source'>): string {
  if (control.source === '') return control.name;
  const paren = control.source.indexOf('(');
  return (paren >= 0 ? control.source.slice(0, paren) : control.source).trim();
}

/** The source version: the one in `Source: x (v)`, else the package version. */
export function sourceVersion(control: Pick<DebControl, 'version' | 'source'>): string {
  const m = SOURCE_WITH_VERSION.exec(control.source);
  return m ? m[2]! : control.version;
}

// debian.md §4.2, aptly's canonical binary order. `Filename` splits head from tail.
const HEAD_ORDER = [
  'Package',
  'Essential',
  'Status',
  'Priority',
  'Section',
  'Installed-Size',
  'Maintainer',
  'Original-Maintainer',
  'Architecture',
  'Source',
  'Version',
  'Replaces',
  'Provides',
  'Depends',
  'Pre-Depends',
  'Recommends',
  'Suggests',
  'Conflicts',
  'Breaks',
  'Conffiles',
];
const TAIL_ORDER = ['Size', 'MD5sum', 'SHA1', 'SHA256', 'SHA512', 'Description'];
const ORDERED = new Set([...HEAD_ORDER, 'Filename', ...TAIL_ORDER]);

/** Bytewise order of UTF-8 strings (Go's sort.Strings, `LC_ALL=C sort`). */
export const compareBytes = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

function renderField(name: string, value: string): string {
  // Description keeps its leading space and carries its own newlines.
  if (name === 'Description') return value === '' ? 'Description:\n' : `Description:${value.endsWith('\n') ? value : `${value}\n`}`;
  return `${name}: ${value}\n`;
}

/**
 * Renders the stanza of a package around its `Filename:` line (§3.5, §4.2): the control fields
 * and the file's size and hashes, in aptly's order, other fields sorted bytewise at the end.
 */
export function renderStanzaParts(fields: ControlFields, file: DebFileFacts): StanzaParts {
  const all = new Map(fields);
  all.set('Size', String(file.size));
  all.set('MD5sum', file.md5);
  all.set('SHA1', file.sha1);
  all.set('SHA256', file.sha256);
  all.set('SHA512', file.sha512);
  const render = (names: readonly string[]) =>
    names.flatMap((n) => (all.has(n) ? [renderField(n, all.get(n)!)] : [])).join('');
  const rest = [...all.keys()].filter((n) => !ORDERED.has(n)).sort(compareBytes);
  return { head: render(HEAD_ORDER), tail: render(TAIL_ORDER) + render(rest) };
}

/** One stanza of a `Packages` file, without the blank line that follows it. */
export const formatStanza = (parts: StanzaParts, filename: string): string =>
  `${parts.head}Filename: ${filename}\n${parts.tail}`;
