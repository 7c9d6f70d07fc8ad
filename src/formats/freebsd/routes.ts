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

interface Handler {
  readonly mode: Mode;
  run(ctx: Context): Promise<void>;
}

/** The handlers of one known path, by method. */
type Route = Partial<Record<'GET' | 'PUT' | 'DELETE', Handler>>;

const methodNotAllowed = (allow: string) => new HttpError(405, 'method not allowed', { Allow: allow });

/** Credentials make a response private to shared caches (freebsd.md §7.1). */
const cacheControl = (ctx: Context) =>
  ctx.get('Authorization') || ctx.query.token !== undefined || ctx.query.access_token !== undefined
    ? 'private, no-cache'
    : 'no-cache';

const attachment = (ctx: Context, name: string, contentType: string, body: string) => {
  ctx.set('Content-Disposition', `attachment; filename="${name}"`);
  ctx.status = 200;
  ctx.type = contentType;
  ctx.body = body;
};

/** Our FreeBSD pkg API (freebsd.md §2); Forgejo has no such type, so its conventions apply. */
export function freebsdRoutes(freebsd: FreeBsdService, access: Access): Router {
  const router = new Router({ prefix: '/api/packages/:owner/freebsd' });
  router.use(answerErrors(FORGEJO_TEXT));

  const serve = (ctx: Context, file: ServedFile) =>
    sendFile(ctx, file, { contentType: file.contentType, cacheControl: cacheControl(ctx), etag: `"${file.sha256}"` });

  /** freebsd.md §2.1: a second segment with a colon is an ABI; names have none. */
  function routeOf(s: readonly string[]): Route | undefined {
    const [repo, second, third, fourth] = s;
    if (s.length === 0) {
      return {
        GET: { mode: 'read', run: async (ctx) => sendJson(ctx, 200, { repositories: await freebsd.listRepositories(ctx.state.owner) }) },
      };
    }
    if (repo === undefined) return undefined;
    if (s.length === 1 && repo === 'repository.key') {
      // pkg reads a local PEM (`pubkey:`); users fetch it once: `fetch -o … …/repository.key`.
      return {
        GET: {
          mode: 'read',
          run: async (ctx) =>
            attachment(ctx, 'repository.key', 'application/x-pem-file', await freebsd.repositoryKey(ctx.state.owner)),
        },
      };
    }
    if (s.length === 1 && repo === 'repository.fingerprint') {
      return {
        GET: {
          mode: 'read',
          run: async (ctx) =>
            attachment(ctx, 'repository.fingerprint', 'text/plain; charset=utf-8', await freebsd.repositoryFingerprint(ctx.state.owner)),
        },
      };
    }
    if (s.length === 1) {
      return {
        GET: { mode: 'read', run: async (ctx) => sendJson(ctx, 200, { packages: await freebsd.listPackages(ctx.state.owner, repo) }) },
        DELETE: {
          mode: 'write',
          run: async (ctx) => {
            await freebsd.removeRepository(ctx.state.owner, repo);
            emptyResponse(ctx, 204);
          },
        },
      };
    }
    if (second === undefined) return undefined;
    if (s.length === 2 && second === 'upload') {
      // Publishers: `curl --user alice:TOKEN --upload-file hello-1.0.pkg …/freebsd/latest/upload`.
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
      // pkg: GET {url}/meta.conf, then data.pkg (or packagesite.pkg and the older names), with
      // If-Modified-Since after the first update; then {url}/{path} per package, resuming with Range.
      if (s.length === 3 && third !== undefined) {
        return { GET: { mode: 'read', run: async (ctx) => serve(ctx, await freebsd.getCatalogueFile(ctx.state.owner, repo, second, third)) } };
      }
      if (s.length === 4 && third === 'All' && fourth !== undefined) {
        return { GET: { mode: 'read', run: async (ctx) => serve(ctx, await freebsd.getPackageFile(ctx.state.owner, repo, second, fourth)) } };
      }
      return undefined;
    }
    if ((s.length === 3 || s.length === 4) && third !== undefined) {
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
    return undefined;
  }

  router.all('{/*tail}', async (ctx) => {
    const route = routeOf(tailSegments(ctx, PREFIX_SEGMENTS));
    if (!route) throw notFound('');
    const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
    const handler = route[method as keyof Route];
    if (!handler) {
      const allow = Object.keys(route).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
      throw methodNotAllowed(allow.join(', '));
    }
    await access.require(handler.mode)(ctx, () => handler.run(ctx));
  });
  return router;
}
