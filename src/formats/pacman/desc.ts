import type { Pkginfo } from './pkginfo.js';

/** What one package's `desc` is made of: its `.PKGINFO` plus facts about the file. */
export interface DescEntry extends Omit<Pkginfo, 'backup' | 'xdata' | 'unknownKeys'> {
  readonly fileName: string;
  /** The package file's length in bytes. */
  readonly csize: number | string;
  /** Lowercase hex digests of the package file. */
  readonly md5: string;
  readonly sha256: string;
  /** Base64 of the binary detached signature (Forgejo only). */
  readonly pgpsig?: string | undefined;
}

const section = (key: string, values: readonly string[]): string =>
  values.length === 0 ? '' : `%${key}%\n${values.join('\n')}\n\n`;
const unlessEmpty = (value: string | undefined): string[] =>
  value === undefined || value === '' ? [] : [value];

// pacman.md §4.1: repo-add's db_write_entry order; an empty value leaves its section out.
/** One package's `desc` inside a pacman database, byte-identical to repo-add's. */
export function formatDesc(p: DescEntry): string {
  return [
    section('FILENAME', [p.fileName]),
    section('NAME', [p.name]),
    section('BASE', unlessEmpty(p.base)),
    section('VERSION', [p.version]),
    section('DESC', unlessEmpty(p.description)),
    section('GROUPS', p.groups),
    section('CSIZE', [String(p.csize)]),
    section('ISIZE', unlessEmpty(p.size)),
    section('MD5SUM', [p.md5]),
    section('SHA256SUM', [p.sha256]),
    section('PGPSIG', unlessEmpty(p.pgpsig)),
    section('URL', unlessEmpty(p.url)),
    section('LICENSE', p.licenses),
    section('ARCH', [p.arch]),
    section('BUILDDATE', unlessEmpty(p.builddate)),
    section('PACKAGER', unlessEmpty(p.packager)),
    section('REPLACES', p.replaces),
    section('CONFLICTS', p.conflicts),
    section('PROVIDES', p.provides),
    section('DEPENDS', p.depends),
    section('OPTDEPENDS', p.optdepends),
    section('MAKEDEPENDS', p.makedepends),
    section('CHECKDEPENDS', p.checkdepends),
  ].join('');
}

// pacman.md §4.2: no blank line at the end, so an empty payload is exactly `%FILES%\n`.
/** The `files` entry of a `.files` database, for a list already sorted and deduplicated. */
export function formatFiles(files: readonly string[]): string {
  return `%FILES%\n${files.map((path) => `${path}\n`).join('')}`;
}
