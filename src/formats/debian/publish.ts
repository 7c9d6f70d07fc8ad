import { badRequest } from '../../errors.js';

/** What a publish keeps between calls (debian.md §7.7.2); `Signing` is per call, never stored. */
export interface PublishSettings {
  readonly origin: string;
  readonly label: string;
  readonly notAutomatic: string;
  readonly butAutomaticUpgrades: string;
  /** Sorted; may hold `source`. Frozen at create unless a PUT sends new ones (A7). */
  readonly architectures: readonly string[];
  readonly acquireByHash: boolean;
  readonly signedBy: string;
  readonly multiDist: boolean;
  readonly version: string;
  readonly skipContents: boolean;
}

/** A publish's component → source (a local repo or snapshot id). */
export interface PublishSource {
  readonly component: string;
  readonly id: number;
}

export function parsePublishSettings(json: string): PublishSettings {
  const v = JSON.parse(json) as Partial<PublishSettings>;
  return {
    origin: v.origin ?? '',
    label: v.label ?? '',
    notAutomatic: v.notAutomatic ?? '',
    butAutomaticUpgrades: v.butAutomaticUpgrades ?? '',
    architectures: v.architectures ?? [],
    acquireByHash: v.acquireByHash ?? false,
    signedBy: v.signedBy ?? '',
    multiDist: v.multiDist ?? false,
    version: v.version ?? '',
    skipContents: v.skipContents ?? false,
  };
}

export const formatPublishSettings = (s: PublishSettings): string => JSON.stringify(s);

export const parsePublishSources = (json: string): PublishSource[] => JSON.parse(json) as PublishSource[];

/** aptly's default Origin and Label: `{prefix} {D}` (`. bookworm`). */
export const defaultOriginLabel = (prefix: string, distribution: string) => `${prefix} ${distribution}`;

/**
 * One URL segment of the publish API (debian.md §7.7.1): `_` → `/`, then `//` → `_`, then `..`,
 * `$` and backquotes go and a leading `/` is stripped; empty means `.`.
 */
export function decodePublishSegment(raw: string): string {
  const slashes = raw.replaceAll('_', '/').replaceAll('//', '_');
  const cleaned = sanitizePath(slashes);
  return cleaned === '' ? '.' : cleaned;
}

/** aptly's path cleaning of names from URLs and bodies: drops `..`, `$`, backquotes, leading `/`. */
export function sanitizePath(value: string): string {
  return value.replaceAll('..', '').replaceAll('$', '').replaceAll('`', '').replace(/^\/+/, '');
}

/**
 * Splits a decoded prefix at its last `:` into storage and prefix (debian.md §7.7.1). We have
 * one storage: any storage part is refused (A1).
 */
export function parsePublishPrefix(decoded: string): string {
  const { storage, prefix } = splitPublishPrefix(decoded);
  if (storage !== '') throw badRequest(`unable to publish: unknown published storage format: ${storage}`);
  return prefix;
}

/** `[storage:]prefix` → both parts; the prefix trimmed of one leading and trailing `/`. */
export function splitPublishPrefix(decoded: string): { storage: string; prefix: string } {
  const colon = decoded.lastIndexOf(':');
  let storage = '';
  let prefix = decoded;
  if (colon >= 0) {
    storage = decoded.slice(0, colon);
    prefix = decoded.slice(colon + 1);
    if (prefix === '') prefix = '.';
  }
  prefix = prefix.replace(/\/$/, '').replace(/^\//, '');
  return { storage, prefix: prefix === '' ? '.' : prefix };
}

// §1's segment class, plus `_`: the publish API's `__` encoding exists to spell it.
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9.+~_-]*$/;
const RESERVED = new Set(['dists', 'pool', 'by-hash', '.', '..']);

/** An aptly distribution, component or prefix: §1 segments joined by `/`, none reserved. */
export function isTreeName(value: string, maxChars = 200): boolean {
  if (value === '' || value.length > maxChars) return false;
  return value.split('/').every((s) => SEGMENT.test(s) && !RESERVED.has(s) && s.length <= 100);
}

/** A publish prefix: `.` or tree-name segments, not beginning with `aptly` (§1). */
export function isPublishPrefix(prefix: string): boolean {
  if (prefix === '.') return true;
  return isTreeName(prefix) && prefix.split('/')[0] !== 'aptly';
}

/** `./bookworm` or `ppa/stable/bookworm`: aptly's `Path` of a publish. */
export const publishPath = (prefix: string, distribution: string) => `${prefix}/${distribution}`;
