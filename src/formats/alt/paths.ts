import { badRequest } from '../../errors.js';

// The path grammar of alt.md §1.1, on the segments after `/api/packages/{owner}/alt`.

/** What a path asks for. Groups are already mapped: `""` is the root group. */
export type AltPath =
  | { readonly kind: 'config'; readonly parts: readonly string[] }
  | { readonly kind: 'index'; readonly group: string; readonly arch: string; readonly name: string }
  | { readonly kind: 'package'; readonly group: string; readonly fileName: string }
  | { readonly kind: 'upload'; readonly group: string }
  | { readonly kind: 'none' };

export type AltPathKind = Exclude<AltPath['kind'], 'none'>;

/** The methods each shape answers; any other gets 405 with this list as `Allow` (D13). */
export const ALLOWED_METHODS: Readonly<Record<AltPathKind, readonly string[]>> = {
  config: ['GET', 'HEAD'],
  index: ['GET', 'HEAD'],
  package: ['GET', 'HEAD', 'DELETE'],
  upload: ['PUT'],
};

/** In the index, package and upload shapes, the group `alt` is the root group (D14). */
export const ROOT_SENTINEL = 'alt';
const REPO_SUFFIX = '.repo';
const NONE: AltPath = { kind: 'none' };

/** Percent-decodes one segment (`+` stays literal); undefined when it cannot be a segment. */
function decode(raw: string): string | undefined {
  let s: string;
  try {
    s = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  return s === '' || s === '.' || s === '..' || s.includes('/') || s.includes('\0') ? undefined : s;
}

const mapRoot = (group: string) => (group === ROOT_SENTINEL ? '' : group);

/** Dispatches raw (still percent-encoded) segments; an empty segment matches nothing. */
export function parseAltPath(raw: readonly string[]): AltPath {
  const segments: string[] = [];
  for (const r of raw) {
    const s = decode(r);
    if (s === undefined) return NONE;
    segments.push(s);
  }
  const k = segments.findIndex((s) => s.endsWith(REPO_SUFFIX));
  if (k >= 0) {
    const parts = [...segments.slice(0, k), segments[k]!.slice(0, -REPO_SUFFIX.length)];
    const group = parts.join('/');
    if (parts[parts.length - 1] === '') return NONE; // `alt/.repo/…` (D15), `alt/x/.repo`
    const rest = segments.slice(k + 1);
    if (rest.length === 0) return { kind: 'config', parts };
    if (rest.length !== 3) return NONE;
    const [first, second, last] = rest as [string, string, string];
    if (second === 'base') return { kind: 'index', group: mapRoot(group), arch: first, name: last };
    if (second.startsWith('RPMS.') && last.endsWith('.rpm')) {
      return { kind: 'package', group: mapRoot(group), fileName: last };
    }
    return NONE;
  }
  if (segments.length > 0 && segments[segments.length - 1] === 'upload') {
    return { kind: 'upload', group: mapRoot(segments.slice(0, -1).join('/')) };
  }
  return NONE;
}

const GROUP_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const MAX_GROUP_BYTES = 255;

/** Upload groups (D20): each segment `[A-Za-z0-9][A-Za-z0-9._+-]*`, none ending in `.repo`, ≤ 255 bytes. */
export function checkGroup(group: string): void {
  if (group === '') return;
  const ok =
    Buffer.byteLength(group) <= MAX_GROUP_BYTES &&
    group.split('/').every((s) => GROUP_SEGMENT.test(s) && !s.endsWith(REPO_SUFFIX));
  if (!ok) throw badRequest('invalid group');
}
