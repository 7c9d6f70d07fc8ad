import Router from '@koa/router';
import type { Context } from 'koa';
import { VIETER_RENDERING, type Access } from '../../auth/access.js';
import { notFound } from '../../errors.js';
import { answerErrors, type ErrorStyle } from '../../http/errors.js';
import { tailSegments, uploadStream } from '../../http/request.js';
import { emptyResponse, sendFile, sendJson, sendText } from '../../http/send.js';
import type { PacmanService } from './service.js';

/** `/api/packages/{owner}/vieter` → api, packages, owner, vieter. */
const PREFIX_SEGMENTS = 4;

/**
 * Vieter answers in JSON `{"message","data"}`, except auth failures (`401 Unauthorized`), unknown
 * routes (`404 Not Found`) and empty 404s on files, which are plain text.
 */
const VIETER_STYLE: ErrorStyle = {
  write(ctx, status, message) {
    if (status === 401 || status === 404 || status === 503) {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = message;
      return;
    }
    sendJson(ctx, status, { message, data: '' });
  },
};

/** Vieter's repository API, rooted at `/api/packages/{owner}/vieter` (pacman.md §5). */
export function vieterRoutes(pacman: PacmanService, access: Access): Router {
  const router = new Router({ prefix: '/api/packages/:owner/vieter' });
  router.use(answerErrors(VIETER_STYLE));
  const read = access.require('read', { rendering: VIETER_RENDERING, apiKeyHeader: true });
  const write = access.require('write', { rendering: VIETER_RENDERING, apiKeyHeader: true });
  const tail = (ctx: Context) => tailSegments(ctx, PREFIX_SEGMENTS);

  router.get('/health', (ctx) => sendJson(ctx, 200, { message: 'Healthy.', data: '' }));

  // vieter-cli / CI: `curl -H 'X-Api-Key: TOKEN' -T pkg …/vieter/{repo}/publish`.
  router.post('/:repo/publish', write, async (ctx) => {
    const [repo] = tail(ctx) as [string];
    pacman.checkVieterRepo(repo);
    const body = uploadStream(ctx, { maxBytes: pacman.maxUploadBytes, requireLength: true });
    sendJson(ctx, 200, { message: '', data: await pacman.publish(ctx.state.owner, repo, body, ctx.state.uploader) });
  });

  // pacman with `Server = …/vieter/$repo/$arch`; Vieter's build scripts probe
  // `…/$repo/$arch/$pkgname-$pkgver-$pkgrel` with `curl --head --fail`.
  router.get('/*tail', read, async (ctx) => {
    const segments = tail(ctx);
    if (segments.length !== 3) throw notFound('404 Not Found');
    const [repo, arch, filename] = segments as [string, string, string];
    const served = await pacman.getVieterFile(ctx.state.owner, repo, arch, filename);
    if ('desc' in served) sendText(ctx, served.desc);
    else sendFile(ctx, served, { cacheControl: served.cacheControl });
  });

  router.delete('/*tail', write, async (ctx) => {
    const segments = tail(ctx);
    const owner = ctx.state.owner;
    if (segments.length === 3) await pacman.removeVieterPackage(owner, ...(segments as [string, string, string]));
    else if (segments.length === 2) await pacman.removeVieterArch(owner, ...(segments as [string, string]));
    else if (segments.length === 1) await pacman.removeVieterRepo(owner, segments[0]!);
    else throw notFound('404 Not Found');
    emptyResponse(ctx, 200);
  });

  router.all('{/*tail}', () => {
    throw notFound('404 Not Found');
  });
  return router;
}
