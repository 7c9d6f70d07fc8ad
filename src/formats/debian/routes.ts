import Router from '@koa/router';
import type { Context } from 'koa';
import type { Access } from '../../auth/access.js';
import { HttpError, badRequest, notFound, tooLarge } from '../../errors.js';
import { FORGEJO_TEXT, answerErrors } from '../../http/errors.js';
import { tailSegments, uploadStream } from '../../http/request.js';
import { emptyResponse, sendFile } from '../../http/send.js';
import { checkRegistryTarget, type DebianService } from './service.js';

/** `/api/packages/{owner}/debian` → api, packages, owner, debian. */
const PREFIX_SEGMENTS = 4;

const param = (ctx: Context, name: string): string => (ctx.params as Record<string, string | undefined>)[name] ?? '';

// debian.md §6 row 4: the texts Forgejo's upload route gives a form it cannot use.
const MULTIPART_MESSAGES: Readonly<Record<string, string>> = {
  'no file in multipart form': 'multipart form has no file',
  'invalid multipart form': 'invalid multipart body',
};

/** Forgejo's Debian registry routes and the published trees (debian.md §1, §4, §6). */
export function debianRoutes(debian: DebianService, access: Access): Router {
  const router = new Router({ prefix: '/api/packages/:owner/debian' });
  router.use(answerErrors(FORGEJO_TEXT));

  // `curl -fsS -o repo.asc …/repository.key`, then `signed-by=` in sources.list.
  router.get('/repository.key', access.require('read'), async (ctx) => {
    const key = await debian.repositoryKey(ctx.state.owner);
    ctx.set('Content-Disposition', 'attachment; filename="repository.key"');
    ctx.type = 'application/pgp-keys';
    ctx.body = key;
  });

  // Publishers: `curl --user alice:TOKEN --upload-file x.deb …/pool/bookworm/main/upload`
  // (raw body), or Forgejo's web form's multipart body.
  router.put('/pool/:distribution/:component/upload', access.require('write'), async (ctx) => {
    const target = checkRegistryTarget(param(ctx, 'distribution'), param(ctx, 'component'));
    await debian.checkNotAptlyHeld(debian.db, ctx.state.owner.id, target.distribution);
    const declared = ctx.get('Content-Length');
    if (declared !== '' && Number(declared) > debian.maxUploadBytes) throw tooLarge('request body too large');
    const type = ctx.get('Content-Type').toLowerCase();
    if (type.startsWith('application/x-www-form-urlencoded')) throw badRequest('multipart form has no file');
    if (type.startsWith('multipart/') && !/;\s*boundary=/.test(type)) throw badRequest('invalid multipart body');
    try {
      const body = uploadStream(ctx, { maxBytes: debian.maxUploadBytes, multipart: true });
      await debian.addRegistryPackage(ctx.state.owner, target, body, ctx.state.uploader);
    } catch (err) {
      const renamed = err instanceof HttpError && err.status === 400 ? MULTIPART_MESSAGES[err.message] : undefined;
      throw renamed ? badRequest(renamed) : err;
    }
    emptyResponse(ctx, 201);
  });

  router.delete('/pool/:distribution/:component/:name/:version/:architecture', access.require('write'), async (ctx) => {
    await debian.removeRegistryPackage(ctx.state.owner, {
      distribution: param(ctx, 'distribution'),
      component: param(ctx, 'component'),
      name: param(ctx, 'name'),
      version: param(ctx, 'version'),
      architecture: param(ctx, 'architecture'),
    });
    emptyResponse(ctx, 204);
  });

  // apt: `dists/D/InRelease` (then Release + Release.gpg on 404), the Packages variant or its
  // by-hash name, then `{Filename}`; it sends If-Modified-Since and resumes with Range. apt 2.6
  // sends the epoch colon raw, older clients `%3a`.
  router.get('/*tail', access.require('read'), async (ctx) => {
    const segments = tailSegments(ctx, PREFIX_SEGMENTS);
    const privateCache = ctx.get('Authorization') !== '';
    const served = await debian.getTreeFile(ctx.state.owner, segments, privateCache);
    sendFile(ctx, served, { contentType: served.contentType, cacheControl: served.cacheControl });
  });

  router.all('{/*tail}', () => {
    throw notFound();
  });
  return router;
}
