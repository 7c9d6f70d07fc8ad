import Router from '@koa/router';
import type { Context } from 'koa';
import type { Access } from '../../auth/access.js';
import type { Config } from '../../config.js';
import { HttpError, notFound } from '../../errors.js';
import { FORGEJO_TEXT, answerErrors } from '../../http/errors.js';
import { publicBaseUrl } from '../../http/public-url.js';
import { uploadStream } from '../../http/request.js';
import { emptyResponse, sendFile, sendText } from '../../http/send.js';
import { ALLOWED_METHODS, parseAltPath, type AltPath } from './paths.js';
import type { AltFile, AltService } from './service.js';

/** `/api/packages/{owner}/alt/…` → '', api, packages, owner, alt, then the Alt path. */
const PREFIX_SEGMENTS = 5;

// alt.md §2.6: the same headers for packages and index files, `release` included.
const CONTENT_TYPE = 'application/octet-stream';
const CACHE_CONTROL = 'private, max-age=300';

/** `attachment; filename="x"; filename*=UTF-8''x` (RFC 6266, RFC 8187). */
function contentDisposition(name: string): string {
  const quoted = name.replace(/["\\]/g, '\\$&');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${quoted}"; filename*=UTF-8''${encoded}`;
}

function serve(ctx: Context, file: AltFile): void {
  ctx.set('Access-Control-Expose-Headers', 'Content-Disposition');
  sendFile(ctx, file, {
    contentType: CONTENT_TYPE,
    cacheControl: CACHE_CONTROL,
    contentDisposition: contentDisposition(file.name),
    etag: `"${file.sha256}"`, // the whole digest (D18)
  });
}

/** Upload and delete need write access; every other request, read (alt.md §1.2). */
const needsWrite = (path: AltPath, method: string) =>
  (path.kind === 'upload' && method === 'PUT') || (path.kind === 'package' && method === 'DELETE');

/**
 * Forgejo's Alt registry API (alt.md §1, §2). One handler for every path: access first, so
 * that a caller who may not read a private owner gets 401 and never learns what exists; then
 * the path grammar of §1.1.
 */
export function altRoutes(
  alt: AltService,
  access: Access,
  urls: Pick<Config, 'publicUrl' | 'publicUrlSet' | 'trustProxy'>,
): Router {
  const router = new Router({ prefix: '/api/packages/:owner/alt' });
  router.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });
  router.use(answerErrors(FORGEJO_TEXT));

  router.all('{/*tail}', async (ctx) => {
    const path = parseAltPath(ctx.path.split('/').slice(PREFIX_SEGMENTS));
    await access.require(needsWrite(path, ctx.method) ? 'write' : 'read')(ctx, () => answer(ctx, path, alt, urls));
  });
  return router;
}

async function answer(
  ctx: Context,
  path: AltPath,
  alt: AltService,
  urls: Pick<Config, 'publicUrl' | 'publicUrlSet' | 'trustProxy'>,
): Promise<void> {
  if (path.kind === 'none') throw notFound('');
  const allowed = ALLOWED_METHODS[path.kind];
  if (!allowed.includes(ctx.method)) throw new HttpError(405, '', { Allow: allowed.join(', ') });
  const owner = ctx.state.owner;
  switch (path.kind) {
    // dnf-style text that apt-rpm never reads; users fetch it, and Forgejo's tests do.
    case 'config':
      sendText(ctx, alt.repoConfig(owner, path.parts, publicBaseUrl(ctx, urls)));
      return;
    // apt-get update: B/{arch}/base/release, then release.classic and pkglist.classic(.xz).
    case 'index':
      serve(ctx, await alt.getIndexFile(owner, path.group, path.arch, path.name));
      return;
    // apt-get install: B/{arch}/RPMS.classic/{CRPMTAG_FILENAME}; publishers delete with curl.
    case 'package':
      if (ctx.method === 'DELETE') {
        await alt.removePackage(owner, path.group, path.fileName);
        emptyResponse(ctx, 204);
      } else {
        serve(ctx, await alt.getPackage(owner, path.group, path.fileName));
      }
      return;
    // Publishers: `curl --user alice:TOKEN --upload-file x.rpm …/alt/{group}/upload` (raw or multipart).
    case 'upload': {
      alt.checkGroup(path.group);
      const body = uploadStream(ctx, {
        maxBytes: alt.maxUploadBytes,
        multipart: true,
        noFileMessage: 'multipart form has no file',
      });
      await alt.addPackage(owner, path.group, body, ctx.state.uploader);
      emptyResponse(ctx, 201);
      return;
    }
  }
}
