import { randomUUID } from 'node:crypto';
import Koa, { type Context } from 'koa';
import Router from '@koa/router';
import type { Knex } from 'knex';
import type { Access } from './auth/access.js';
import type { Authorizer } from './auth/decision.js';
import type { BlobStore } from './blobs/store.js';
import type { Config } from './config.js';
import { isSchemaCurrent } from './db/connect.js';
import { clientWentAway } from './http/errors.js';
import { forgePassthrough } from './http/passthrough.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { DebianService } from './formats/debian/service.js';
import { debianRoutes } from './formats/debian/routes.js';
import type { AptlyService } from './formats/debian/aptly/service.js';
import { aptlyRoutes } from './formats/debian/aptly/routes.js';
import type { AltService } from './formats/alt/service.js';
import { altRoutes } from './formats/alt/routes.js';
import type { FreeBsdService } from './formats/freebsd/service.js';
import { freebsdRoutes } from './formats/freebsd/routes.js';
import type { PacmanService } from './formats/pacman/service.js';
import { pacmanRoutes } from './formats/pacman/routes.js';
import { vieterRoutes } from './formats/pacman/vieter-routes.js';

export interface AppDeps {
  readonly config: Config;
  readonly db: Knex;
  readonly blobs: BlobStore;
  readonly authorizer: Authorizer;
  readonly access: Access;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly pacman: PacmanService;
  readonly debian: DebianService;
  readonly aptly: AptlyService;
  readonly freebsd: FreeBsdService;
  readonly alt: AltService;
  /** True once SIGTERM arrived: /readyz answers 503 so endpoints drain. */
  readonly draining: () => boolean;
}

const READY_CHECK_INTERVAL_MS = 10_000;

export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: deps.config.trustProxy, maxIpsCount: deps.config.proxyHops });

  app.use(requestLog(deps));
  app.use(probes(deps).routes());
  // deploy.md §2 `prefix` mode: package types that are not ours go on to the forge.
  if (deps.config.forgePassthrough && deps.config.forge) app.use(forgePassthrough(deps.config.forge.url, deps.log));

  // One line per format router.
  for (const router of [
    pacmanRoutes(deps.pacman, deps.access),
    vieterRoutes(deps.pacman, deps.access),
    aptlyRoutes(deps.aptly, deps.access),
    debianRoutes(deps.debian, deps.access),
    freebsdRoutes(deps.freebsd, deps.access),
    altRoutes(deps.alt, deps.access, deps.config),
  ]) {
    app.use(router.routes()).use(router.allowedMethods({ throw: false }));
  }

  app.on('error', (err: unknown, ctx?: Context) => {
    // Koa reports a socket the client closed mid-request as an error; it is not ours.
    if (ctx && clientWentAway(ctx)) {
      deps.log.info({ requestId: ctx.state.requestId, path: ctx.path }, 'client went away');
      return;
    }
    deps.log.error({ err, requestId: ctx?.state.requestId, path: ctx?.path }, 'unhandled error');
  });
  return app;
}

/** One JSON line and one metric sample per request. Never logs credentials or bodies. */
function requestLog(deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    ctx.state.requestId = ctx.get('X-Request-Id') || randomUUID();
    ctx.set('X-Request-Id', String(ctx.state.requestId));
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const parts = ctx.path.split('/');
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? (ctx.status === 404 ? 'unmatched' : ctx.path);
      const labels = { method: ctx.method, route: String(route), status: String(ctx.status) };
      deps.metrics.httpRequests.inc(labels);
      deps.metrics.httpDuration.observe(labels, ms / 1000);
      if (ctx.path !== '/healthz' && ctx.path !== '/metrics') {
        deps.log.info(
          {
            requestId: ctx.state.requestId,
            method: ctx.method,
            path: ctx.path,
            status: ctx.status,
            ms: Math.round(ms * 10) / 10,
            bytes: ctx.length ?? null,
            owner: ctx.state.logOwner ?? (parts[1] === 'api' && parts[2] === 'packages' ? parts[3] : undefined),
            type: parts[1] === 'api' && parts[2] === 'packages' ? parts[4] : undefined,
            // deploy.md §4: Host as received and the edge's X-Forwarded-Proto/-Host are logged.
            host: ctx.get('Host') || undefined,
            forwardedProto: ctx.get('X-Forwarded-Proto') || undefined,
            forwardedHost: ctx.get('X-Forwarded-Host') || undefined,
          },
          'request',
        );
      }
    }
  };
}

/** /healthz (process up), /readyz (DB, schema, storage; forge reported), /metrics. */
function probes(deps: AppDeps): Router {
  const router = new Router();
  let lastStorageCheck = 0;
  let storageOk = false;

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const checks = { db: 'ok', schema: 'ok', storage: 'ok', forge: deps.authorizer.status() as string };
    try {
      await withTimeout(deps.db.raw('select 1'), 1000);
    } catch {
      checks.db = 'fail';
    }
    try {
      if (checks.db === 'ok' && !(await isSchemaCurrent(deps.db))) checks.schema = 'pending';
    } catch {
      checks.schema = 'fail';
    }
    if (Date.now() - lastStorageCheck > READY_CHECK_INTERVAL_MS || !storageOk) {
      lastStorageCheck = Date.now();
      storageOk = await deps.blobs.checkWritable().then(
        () => true,
        () => false,
      );
    }
    if (!storageOk) checks.storage = 'fail';
    const ready = !deps.draining() && checks.db === 'ok' && checks.schema === 'ok' && storageOk;
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: deps.draining() ? 'draining' : ready ? 'ok' : 'unavailable', checks };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  return router;
}

function withTimeout<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    Promise.resolve(promise).then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
