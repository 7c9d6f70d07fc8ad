// deploy.md §2: the routing vectors, reused by every proxy test and the chart tests.

/** Which backend a path belongs to. */
export type Backend = 'stowage' | 'forge';

export interface RoutingVector {
  readonly path: string;
  readonly backend: Backend;
}

/** deploy.md §2's table, one row per path. */
export const ROUTING_VECTORS: readonly RoutingVector[] = [
  { path: '/api/packages/alice/debian/dists/bookworm/InRelease', backend: 'stowage' },
  { path: '/api/packages/alice/debian', backend: 'stowage' },
  { path: '/api/packages/acme/arch/core/x86_64/core.db', backend: 'stowage' },
  { path: '/api/packages/acme/alt/alt.repo/x86_64/base/pkglist.classic', backend: 'stowage' },
  { path: '/api/packages/acme/freebsd/latest/FreeBSD:14:amd64/packagesite.pkg', backend: 'stowage' },
  { path: '/api/packages/alice/vieter/myrepo/publish', backend: 'stowage' },
  { path: '/api/packages/Alice/debian/repository.key', backend: 'stowage' },
  { path: '/api/packages/alice/debianx/foo', backend: 'forge' },
  { path: '/api/packages/alice/rpm/el9.repo', backend: 'forge' },
  { path: '/api/packages/alice/generic/debian/1.0/x', backend: 'forge' },
  { path: '/api/packages/debian/npm/left-pad', backend: 'forge' },
  { path: '/api/v1/packages/alice?type=debian', backend: 'forge' },
  { path: '/v2/alice/img/manifests/1', backend: 'forge' },
  { path: '/alice/debian', backend: 'forge' },
];

/** Stowage's types: every top-level segment the format specs define (deploy.md §1). */
export const STOWAGE_TYPES = ['alt', 'arch', 'debian', 'freebsd', 'vieter'] as const;

/** Other `/api/packages/{owner}/<type>` paths and the rest of the site: the forge's. */
export const FORGE_PATHS: readonly string[] = [
  '/api/packages/alice/generic/hello/1.0/hello.txt',
  '/api/packages/alice/rpm/el9.repo',
  '/api/packages/alice/alpine/v3.20/main/x86_64/APKINDEX.tar.gz',
  '/api/packages/alice/npm/@scope%2Fleft-pad',
  '/api/packages/alice/debianx/foo',
  '/api/packages/alice',
  '/api/packages/alice/',
  '/api/v1/version',
  '/v2/',
  '/alice/repo/src/branch/main/debian/control',
  '/',
];

/**
 * Owner-name tricks (`..`, encoded slashes, case, repeated slashes) sent raw, unnormalised.
 * Whatever a proxy does with them, the forge must never get a path that names one of our
 * types (it would serve its own shadowed packages): `namesStowageType` decides that.
 */
export const ESCAPE_PATHS: readonly string[] = [
  '/api/packages/alice/../debian/x',
  '/api/packages/alice/generic/../debian/dists/bookworm/Release',
  '/api/packages/alice/debian/../../bob/generic/x/1/y',
  '/api/packages/x/../../packages/alice/arch/core/x86_64/core.db',
  '/api/packages/alice/./debian/dists/bookworm/Release',
  '/api/packages/alice%2F..%2Fbob/debian/dists/bookworm/Release',
  '/api/packages/alice/generic%2F..%2Fdebian/dists/bookworm/Release',
  '/api/packages/alice%2Fdebian/rpm/x',
  '/api/packages/alice/%2e%2e/debian/x',
  '/api/packages/alice/generic/%2e%2e/debian/x',
  '/api/packages/alice/deb%69an/dists/bookworm/Release',
  '/api/packages/alice/%64ebian/dists/bookworm/Release',
  '/api/packages//alice/debian/dists/bookworm/Release',
  '/api//packages/alice/arch/core/x86_64/core.db',
  '//api/packages/alice/arch/core/x86_64/core.db',
  '/api/packages/alice//debian/x',
  '/api/packages/ALICE/Debian/x',
  '/api/packages/alice/DEBIAN/x',
  '/API/packages/alice/debian/x',
  '/api/Packages/alice/debian/x',
  '/api/packages/alice/debian;x/y',
  '/api/packages/alice/debian%00/x',
];

// Written apart from src/http/passthrough.ts on purpose: it is the oracle that code is checked by.
/**
 * True when some reading of `rawPath` names one of our types: as sent; with repeated slashes
 * merged (Forgejo's router does that, and nothing more); with `.`/`..` resolved too (nginx and
 * Caddy match on that); and percent-decoded first. Case-sensitive, like Forgejo's router.
 */
export function namesStowageType(rawPath: string, pattern: RegExp): boolean {
  const path = rawPath.split('?')[0] ?? '';
  const readings = [path, path.replace(/\/{2,}/g, '/'), resolved(path)];
  try {
    readings.push(resolved(decodeURIComponent(path)));
  } catch {
    // not decodable: only the raw readings
  }
  return readings.some((p) => pattern.test(p));
}

function resolved(path: string): string {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`;
}
