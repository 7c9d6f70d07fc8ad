import type { Context, Middleware } from 'koa';
import { HttpError, notFound, redirect, unauthorized, forbidden, unavailable } from '../errors.js';
import type { Authorizer, Decision, Mode } from './decision.js';

/** How a route family shows a refusal (forge.md §4 "Rendering vs deciding"). */
export type Rendering = (decision: Exclude<Decision, { kind: 'allow' }>, location: () => string) => HttpError;

// Forgejo writes these with Go's http.Error: the text is the first argument of ctx.Error,
// plus a newline (routers/api/packages/api.go reqPackageAccess, auth group Verify, reqToken).
export const REQ_PACKAGE_ACCESS = 'reqPackageAccess\n';
export const AUTH_GROUP_VERIFY = 'authGroup.Verify\n';
export const REQ_TOKEN = 'reqToken\n';
export const OWNER_NOT_FOUND = 'Not found.\n';
export const FORGE_UNAVAILABLE = 'forge unavailable';
export const PACKAGE_API_CHALLENGE = 'Basic realm="Gitea Package API"';

/** Forgejo's package API, exactly as forge.md §4. */
export const FORGEJO_RENDERING: Rendering = (d, location) => {
  switch (d.kind) {
    case 'badCredential':
      return unauthorized(AUTH_GROUP_VERIFY);
    case 'ownerUnknown':
      return notFound(OWNER_NOT_FOUND);
    case 'renamed':
      return redirect(location());
    case 'denied':
      return unauthorized(REQ_PACKAGE_ACCESS, PACKAGE_API_CHALLENGE);
    case 'publicOnly':
      return forbidden(REQ_TOKEN);
    case 'unavailable':
      return unavailable(FORGE_UNAVAILABLE);
  }
};

/** Vieter clients know only 401 (pacman.md §5.1); 404 and 503 stay what they are. */
export const VIETER_RENDERING: Rendering = (d, location) => {
  switch (d.kind) {
    case 'ownerUnknown':
      return notFound('404 Not Found');
    case 'renamed':
      return redirect(location());
    case 'unavailable':
      return unavailable(FORGE_UNAVAILABLE);
    default:
      return unauthorized('401 Unauthorized');
  }
};

export interface RequireOptions {
  readonly rendering?: Rendering;
  /** Honour `X-Api-Key` (Vieter routes only). */
  readonly apiKeyHeader?: boolean;
}

export interface Access {
  /** Checks credentials, owner and permission; sets `ctx.state.owner` (and `uploader` on writes). */
  require(mode: Mode, options?: RequireOptions): Middleware;
}

/** The owner path segment: `/api/packages/{owner}/...`. */
const OWNER_INDEX = 3;

export function createAccess(authorizer: Authorizer, publicUrl: URL): Access {
  return {
    require(mode, options = {}) {
      const render = options.rendering ?? FORGEJO_RENDERING;
      return async (ctx, next) => {
        const owner = ownerSegment(ctx);
        const decision =
          owner === undefined
            ? ({ kind: 'ownerUnknown' } as const)
            : await authorizer.decide({
                owner,
                mode,
                headers: ctx.req.headers,
                query: new URLSearchParams(ctx.querystring),
                allowApiKeyHeader: options.apiKeyHeader ?? false,
                forwardedFor: ctx.ips.length ? ctx.ips.join(', ') : ctx.ip,
              });
        if (decision.kind !== 'allow') {
          throw render(decision, () =>
            decision.kind === 'renamed' ? renamedLocation(ctx, decision.newOwner, publicUrl) : '',
          );
        }
        ctx.state.owner = decision.owner;
        ctx.state.uploader = decision.uploader;
        ctx.state.logOwner = decision.owner.name;
        await next();
      };
    },
  };
}

function ownerSegment(ctx: Context): string | undefined {
  const raw = ctx.path.split('/')[OWNER_INDEX];
  if (raw === undefined) return undefined;
  try {
    const owner = decodeURIComponent(raw);
    if (owner === '' || owner === '.' || owner === '..' || Buffer.byteLength(owner) > 255) return undefined;
    return owner;
  } catch {
    return undefined;
  }
}

/** Same path with exactly the owner segment replaced, query kept; absolute from PUBLIC_URL. */
function renamedLocation(ctx: Context, newOwner: string, publicUrl: URL): string {
  const parts = ctx.path.split('/');
  parts[OWNER_INDEX] = encodeURIComponent(newOwner);
  const search = ctx.querystring ? `?${ctx.querystring}` : '';
  return new URL(parts.join('/').replace(/^\//, '') + search, publicUrl).href;
}
