import Router from '@koa/router';
import type { Context } from 'koa';
import type { Access } from '../../auth/access.js';
import { badRequest, notFound } from '../../errors.js';
import { FORGEJO_TEXT, answerErrors } from '../../http/errors.js';
import { tailSegments, uploadStream } from '../../http/request.js';
import { emptyResponse, sendFile } from '../../http/send.js';
import type { PacmanService } from './service.js';

/** `/api/packages/{owner}/arch` → api, packages, owner, arch. */
const PREFIX_SEGMENTS = 4;

/** Forgejo's Arch registry API (pacman.md §6). */
export function pacmanRoutes(pacman: PacmanService, access: Access): Router {
  const router = new Router({ prefix: '/api/packages/:owner/arch' });
  router.use(answerErrors(FORGEJO_TEXT));
  const tail = (ctx: Context) => tailSegments(ctx, PREFIX_SEGMENTS);

  // pacman-key --add: users fetch this once with curl.
  router.get('/repository.key', access.require('read'), async (ctx) => {
    const key = await pacman.repositoryKey(ctx.state.owner);
    ctx.set('Content-Disposition', 'attachment; filename="repository.key"');
    ctx.type = 'application/pgp-keys';
    ctx.body = key;
  });

  // pacman: GET {Server}/{repo}.db, .db.sig, then {Server}/{%FILENAME%} and its .sig, where
  // Server = …/arch/{group}/$arch. It sends If-Modified-Since and resumes with Range.
  router.get('/*tail', access.require('read'), async (ctx) => {
    const segments = tail(ctx);
    if (segments.length < 2) throw notFound('');
    const file = segments[segments.length - 1]!;
    const arch = segments[segments.length - 2]!;
    const served = await pacman.getArchFile(ctx.state.owner, segments.slice(0, -2), arch, file);
    sendFile(ctx, served, { cacheControl: served.cacheControl });
  });

  // Publishers: `curl -X PUT --user alice:TOKEN --data-binary @pkg …/arch/{group}` (raw or multipart).
  router.put('{/*tail}', access.require('write'), async (ctx) => {
    const group = tail(ctx);
    const body = uploadStream(ctx, { maxBytes: pacman.maxUploadBytes, multipart: true });
    await pacman.upload(ctx.state.owner, group, body, ctx.state.uploader);
    emptyResponse(ctx, 201);
  });

  router.delete('/*tail', access.require('write'), async (ctx) => {
    const segments = tail(ctx);
    if (segments.length < 3) throw badRequest('expected {group…}/{name}/{version}/{arch}');
    const [name, version, arch] = segments.slice(-3) as [string, string, string];
    await pacman.deleteVersion(ctx.state.owner, segments.slice(0, -3), name, version, arch);
    emptyResponse(ctx, 204);
  });

  router.all('{/*tail}', () => {
    throw notFound('');
  });
  return router;
}
