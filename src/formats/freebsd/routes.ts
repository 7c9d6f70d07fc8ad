import Router from '@koa/router';
import type { Context } from 'koa';
import type { Access } from '../../auth/access.js';
import type { Mode } from '../../auth/decision.js';
import { HttpError, notFound } from '../../errors.js';
import { FORGEJO_TEXT, answerErrors } from '../../http/errors.js';
import { tailSegments, uploadStream } from '../../http/request.js';
import { emptyResponse, sendFile, sendJson } from '../../http/send.js';
import type { FreeBsdService, ServedFile } from './service.js';

/** `/api/packages/{owner}/freebsd` → api, packages, owner, freebsd. */
const PREFIX_SEGMENTS = 4;

type Method = 'GET' | 'PUT' | 'DELETE';
type Run = (ctx: Context) => Promise<void>;

/** The handlers of one known path, by method; HEAD is GET without a body. */
type Route = Partial<Record<Method, { readonly mode: Mode; readonly run: Run }>>;

const read = (run: Run): Route => ({ GET: { mode: 'read', run } });

const methodNotAllowed = (allow: string) => new HttpError(405, 'method not allowed', { Allow: allow });

/** Responses to requests with credentials stay out of shared caches (freebsd.md §7.1). */
const cacheControl = (ctx: Context) =>
  ctx.get('Authorization') || ctx.query.token !== undefined || ctx.query.access_token !== undefined
    ? 'private, no-cache'
    : 'no-cache';

/** freebsd.md §6.4: both key routes are downloads. */
function attachment(ctx: Context, name: string, contentType: string, body: string): void {
  ctx.set('Content-Disposition', `attachment; filename="${name}"`);
  ctx.status = 200;
  ctx.type = contentType;
  ctx.body = body;
}

/** freebsd.md §7.2: the ETag is the body's whole SHA-256. */
function serve(ctx: Context, file: ServedFile): void {
  sendFile(ctx, file, { contentType: file.contentType, cacheControl: cacheControl(ctx), etag: `"${file.sha256}"` });
}

/** Our FreeBSD pkg API (freebsd.md §2); Forgejo has no such type, so its conventions apply. */
export function freebsdRoutes(freebsd: FreeBsdService, access: Access): Router {
  const router = new Router({ prefix: '/api/packages/:owner/freebsd' });
  router.use(answerErrors(FORGEJO_TEXT));

  /** freebsd.md §2.1: a second segment with a colon is an ABI; names and repositories have none. */
  function routeOf(segments: readonly string[]): Route | undefined {
    // Defaults only stand in for segments the length check below rules out.
    const [repo = '', second = '', third = '', fourth] = segments;
    const file = fourth ?? '';
    switch (segments.length) {
      case 0:
        return read(async (ctx) => {
          sendJson(ctx, 200, { repositories: await freebsd.listRepositories(ctx.state.owner) });
        });
      case 1:
        // pkg reads a local PEM (`pubkey:`); users fetch it once: `fetch -o … …/repository.key`.
        if (repo === 'repository.key') {
          return read(async (ctx) => {
            const pem = await freebsd.repositoryKey(ctx.state.owner);
            attachment(ctx, 'repository.key', 'application/x-pem-file', pem);
          });
        }
        if (repo === 'repository.fingerprint') {
          return read(async (ctx) => {
            const text = await freebsd.repositoryFingerprint(ctx.state.owner);
            attachment(ctx, 'repository.fingerprint', 'text/plain; charset=utf-8', text);
          });
        }
        return {
          GET: {
            mode: 'read',
            run: async (ctx) => sendJson(ctx, 200, { packages: await freebsd.listPackages(ctx.state.owner, repo) }),
          },
          DELETE: {
            mode: 'write',
            run: async (ctx) => {
              await freebsd.removeRepository(ctx.state.owner, repo);
              emptyResponse(ctx, 204);
            },
          },
        };
      case 2:
        if (second !== 'upload') return undefined;
        // Publishers: `curl --user alice:TOKEN --upload-file hello-1.0.pkg …/freebsd/latest/upload`,
        // or a multipart form (its first file part).
        return {
          PUT: {
            mode: 'write',
            run: async (ctx) => {
              freebsd.checkRepositoryName(repo);
              const body = uploadStream(ctx, { maxBytes: freebsd.maxUploadBytes, multipart: true });
              await freebsd.addPackage(ctx.state.owner, repo, body, ctx.state.uploader);
              emptyResponse(ctx, 201);
            },
          },
        };
    }
    if (second.includes(':')) {
      // pkg: GET {url}/meta.conf, then data.pkg (or packagesite.pkg, then the older names), with
      // If-Modified-Since after its first update; then {url}/All/… per package, resuming with Range.
      if (segments.length === 3) {
        return read(async (ctx) => serve(ctx, await freebsd.getCatalogueFile(ctx.state.owner, repo, second, third)));
      }
      if (segments.length === 4 && third === 'All') {
        return read(async (ctx) => serve(ctx, await freebsd.getPackageFile(ctx.state.owner, repo, second, file)));
      }
      return undefined;
    }
    if (segments.length > 4) return undefined;
    return {
      DELETE: {
        mode: 'write',
        run: async (ctx) => {
          await freebsd.removeVersion(ctx.state.owner, repo, second, third, fourth);
          emptyResponse(ctx, 204);
        },
      },
    };
  }

  router.all('{/*tail}', async (ctx) => {
    const route = routeOf(tailSegments(ctx, PREFIX_SEGMENTS));
    if (!route) throw notFound('');
    const handler = route[(ctx.method === 'HEAD' ? 'GET' : ctx.method) as Method];
    if (!handler) {
      const allow = Object.keys(route).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
      throw methodNotAllowed(allow.join(', '));
    }
    await access.require(handler.mode)(ctx, () => handler.run(ctx));
  });
  return router;
}
