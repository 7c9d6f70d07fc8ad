import { badRequest } from '../../errors.js';

/**
 * A package's `abi` in one of the three forms we accept (freebsd.md §2.4), compared
 * case-insensitively. `key` is the lower-cased text: what is stored and compared.
 */
export type PackageAbi =
  | { readonly kind: 'any'; readonly key: '*' }
  | { readonly kind: 'major'; readonly key: string; readonly major: string }
  | { readonly kind: 'concrete'; readonly key: string; readonly major: string };

/** Longest accepted `abi`: it is stored in a 64-character column. */
export const MAX_ABI_LENGTH = 64;

// freebsd.md §2.4. Majors without leading zeros: pkg compares ABIs as strings, so
// `FreeBSD:014:amd64` would match no client that reports `FreeBSD:14:amd64`.
const PACKAGE_ABI = /^freebsd:([1-9][0-9]{0,8}):([a-z0-9_]+|\*)$/i;
// freebsd.md §1.2: the view segment of a URL.
const VIEW_ABI = /^freebsd:([0-9]+):[a-z0-9_]+$/i;

/** Parses a manifest's `abi`; anything but the three forms is a 400. */
export function parsePackageAbi(value: string): PackageAbi {
  const invalid = () =>
    badRequest('invalid package: abi: must be FreeBSD:<major>:<arch>, FreeBSD:<major>:* or *');
  if (value.length > MAX_ABI_LENGTH) throw invalid();
  if (value === '*') return { kind: 'any', key: '*' };
  const m = PACKAGE_ABI.exec(value);
  if (!m) throw invalid();
  const key = value.toLowerCase();
  return m[2] === '*' ? { kind: 'major', key, major: m[1]! } : { kind: 'concrete', key, major: m[1]! };
}

/** The stored, lower-cased key back as a PackageAbi (it was validated at upload). */
export function abiFromKey(key: string): PackageAbi {
  return parsePackageAbi(key);
}

/** A URL's view segment (`FreeBSD:14:amd64`), lower-cased, or undefined when malformed. */
export function parseViewAbi(segment: string): string | undefined {
  return VIEW_ABI.test(segment) ? segment.toLowerCase() : undefined;
}

/** The `FreeBSD:N:*` key of a view's major, spelled as the view spells its major. */
const majorKeyOfView = (view: string) => view.slice(0, view.lastIndexOf(':')) + ':*';

/** Two ABIs overlap if one concrete ABI matches both (freebsd.md §2.4). */
export function abisOverlap(a: PackageAbi, b: PackageAbi): boolean {
  if (a.kind === 'any' || b.kind === 'any' || a.key === b.key) return true;
  if (a.kind === 'major' || b.kind === 'major') return a.major === b.major;
  return false;
}

/**
 * Views with the same matching packages share one catalogue, named by a class key: a concrete
 * ABI some package has, a `freebsd:N:*` some package has, or `*` (only `*` packages, maybe none).
 * A view shows the packages of its own ABI, of its major's `FreeBSD:N:*` and of `*` (§5.1):
 * the first of these classes that exists serves it.
 */
export function classCandidatesOfView(view: string): string[] {
  return [view, majorKeyOfView(view), '*'];
}

/** Every class a repository with these package ABIs has a catalogue for; always `*`. */
export function catalogueClasses(present: ReadonlySet<string>): string[] {
  return [...new Set(['*', ...present])];
}

/** The ABI keys whose packages a class's catalogue lists. */
export function abisOfClass(classKey: string): string[] {
  if (classKey === '*') return ['*'];
  const abi = parsePackageAbi(classKey);
  if (abi.kind === 'any') return ['*'];
  if (abi.kind === 'major') return [abi.key, '*'];
  return [abi.key, `freebsd:${abi.major}:*`, '*'];
}

/** The classes whose catalogues change when a package of `abi` comes or goes. */
export function classesTouchedBy(abi: PackageAbi, classes: readonly string[]): string[] {
  return classes.filter((c) => {
    if (abi.kind === 'any') return true;
    if (abi.kind === 'concrete') return c === abi.key;
    const other = parsePackageAbi(c);
    return other.kind !== 'any' && other.major === abi.major;
  });
}
