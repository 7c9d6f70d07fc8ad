import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { Middleware } from 'koa';
import type { Logger } from '../log.js';

/** deploy.md §1: every top-level segment the format specs define. */
export const STOWAGE_TYPES = ['alt', 'arch', 'debian', 'freebsd', 'vieter'] as const;

/**
 * deploy.md §2: the one routing regex, verbatim in every proxy/ file, the chart and README.md.
 * Valid in PCRE, RE2, Go and JavaScript.
 */
export const STOWAGE_PATH_PATTERN = `^/api/packages/[^/]+/(${STOWAGE_TYPES.join('|')})(/|$)`;

const STOWAGE_PATH = new RegExp(STOWAGE_PATH_PATTERN);
const PACKAGES_PREFIX = /^\/api\/packages(\/|$)/;

// RFC 9110 §7.6.1 plus the Proxy-* family: never forwarded, in either direction.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

const IDLE_LIMIT_MS = 10 * 60_000;

/** `.` and `..` resolved, repeated slashes merged. */
function withoutDotSegments(path: string): string {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`;
}

/**
 * True when Stowage answers `rawPath` itself. A path that names one of our types under any
 * reading (as sent, slashes merged as Forgejo's router does, dot segments resolved, decoded)
 * stays here, so the forge never serves its own shadowed packages for it.
 */
export function isStowagePath(rawPath: string): boolean {
  if (STOWAGE_PATH.test(rawPath) || STOWAGE_PATH.test(rawPath.replace(/\/{2,}/g, '/'))) return true;
  if (STOWAGE_PATH.test(withoutDotSegments(rawPath))) return true;
  try {
    return STOWAGE_PATH.test(withoutDotSegments(decodeURIComponent(rawPath)));
  } catch {
    return false;
  }
}

function forwardedHeaders(headers: IncomingHttpHeaders, clientIp: string | undefined): IncomingHttpHeaders {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || named.includes(name)) continue;
    out[name] = value;
  }
  if (clientIp) {
    const prior = headers['x-forwarded-for'];
    out['x-forwarded-for'] = prior ? `${String(prior)}, ${clientIp}` : clientIp;
  }
  return out;
}

/** The upstream's raw header pairs minus hop-by-hop ones, as `writeHead` takes them. */
function responseHeaders(res: IncomingMessage): string[] {
  const named = String(res.headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  const out: string[] = [];
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || named.includes(name)) continue;
    out.push(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  }
  return out;
}

/**
 * deploy.md §2 `prefix` mode (FORGE_PASSTHROUGH=true): the edge sends all of /api/packages
 * here, and every package type that is not ours streams on to the forge. Method, raw path,
 * query and end-to-end headers go through; status and headers come back verbatim. No
 * redirect following, no auth, no caching, no size limit; 10 minutes of silence ends it.
 */
export function forgePassthrough(forgeUrl: URL, log: Logger): Middleware {
  const base = forgeUrl.pathname.replace(/\/$/, '');
  const send = forgeUrl.protocol === 'https:' ? httpsRequest : httpRequest;
  return async (ctx, next) => {
    if (!PACKAGES_PREFIX.test(ctx.path) || isStowagePath(ctx.path)) return next();
    ctx.respond = false; // the forge's answer is written as it arrives
    const req = ctx.req;
    const res = ctx.res;
    const headers = forwardedHeaders(req.headers, req.socket.remoteAddress);
    const expectContinue = /^100-continue$/i.test(String(req.headers.expect ?? ''));
    await new Promise<void>((resolve) => {
      let settled = false;
      const done = () => {
        if (!settled) {
          settled = true;
          resolve();
        }
      };
      const upstream = send({
        protocol: forgeUrl.protocol,
        hostname: forgeUrl.hostname,
        port: forgeUrl.port || undefined,
        method: req.method,
        path: `${base}${req.url ?? '/'}`,
        headers,
      });
      upstream.setTimeout(IDLE_LIMIT_MS, () => upstream.destroy(new Error('forge idle for 10 minutes')));
      const sendBody = () => {
        pipeline(req, upstream).catch(() => upstream.destroy());
      };
      upstream.on('continue', () => {
        res.writeContinue();
        sendBody();
      });
      upstream.on('response', (answer) => {
        ctx.status = answer.statusCode ?? 502; // for the request log
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeaders(answer));
        pipeline(answer, res).then(done, () => {
          res.destroy();
          done();
        });
      });
      upstream.on('error', (err) => {
        if (!res.headersSent) {
          log.warn({ err: err.message, path: ctx.path }, 'forge passthrough failed');
          ctx.status = 502;
          res.writeHead(502, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('forge unavailable');
        } else {
          res.destroy();
        }
        done();
      });
      // The client left: nothing more to fetch for it.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
        done();
      });
      if (expectContinue) upstream.flushHeaders();
      else sendBody();
    });
  };
}
