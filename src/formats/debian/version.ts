/**
 * dpkg's version order (debian.md §3.4, deb-version(7)): epoch numerically, then upstream, then
 * revision; each part alternates non-digit runs (`~` < end < letters < other bytes) and digit
 * runs compared numerically.
 */

interface ParsedVersion {
  readonly epoch: string;
  readonly upstream: string;
  readonly revision: string;
}

function splitVersion(version: string): ParsedVersion {
  const trimmed = version.trim();
  const colon = trimmed.indexOf(':');
  const epoch = colon >= 0 ? trimmed.slice(0, colon) : '0';
  const rest = colon >= 0 ? trimmed.slice(colon + 1) : trimmed;
  const dash = rest.lastIndexOf('-');
  return dash >= 0
    ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) }
    : { epoch, upstream: rest, revision: '' };
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** The weight of one character of a non-digit run; 0 is the end of the run. */
function order(c: number | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (c === 0x7e) return -1; // '~' sorts before everything, even the end
  if (isLetter(c)) return c;
  return c + 256;
}

/** Compares two digit runs numerically, without overflow (leading zeros ignored). */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

function comparePart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit run.
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ca = order(i < a.length ? a.charCodeAt(i) : undefined);
      const cb = order(j < b.length ? b.charCodeAt(j) : undefined);
      if (ca !== cb) return ca < cb ? -1 : 1;
      i++;
      j++;
    }
    // Digit run.
    const si = i;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    const sj = j;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    const d = compareDigits(a.slice(si, i) || '0', b.slice(sj, j) || '0');
    if (d !== 0) return d;
  }
  return 0;
}

/** -1, 0 or 1, as `dpkg --compare-versions a lt|eq|gt b`. */
export function compareVersions(a: string, b: string): number {
  const x = splitVersion(a);
  const y = splitVersion(b);
  const epoch = compareDigits(x.epoch || '0', y.epoch || '0');
  if (epoch !== 0) return epoch;
  const upstream = comparePart(x.upstream, y.upstream);
  if (upstream !== 0) return upstream;
  return comparePart(x.revision || '0', y.revision || '0');
}
