import type { Context } from 'koa';
import type { StoredFile } from '../blobs/store.js';
import { rangeNotSatisfiable } from '../errors.js';

export interface SendOptions {
  readonly contentType?: string;
  readonly cacheControl?: string;
  readonly contentDisposition?: string;
  /** The entity tag to send; by default the first 32 hex digits of the SHA-256, quoted. */
  readonly etag?: string;
}

const etagOf = (sha256: string) => `"${sha256.slice(0, 32)}"`;
const httpDate = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toUTCString();

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; anything else (multi-range, malformed) is ignored. */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function notModified(ctx: Context, etag: string, lastModifiedS: number): boolean {
  const inm = ctx.get('If-None-Match');
  if (inm) return inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === '*');
  const ims = ctx.get('If-Modified-Since');
  if (!ims) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && since / 1000 >= lastModifiedS;
}

/** Answers GET/HEAD for a stored file: ETag, Last-Modified, 304, single ranges (206/416). */
export function sendFile(ctx: Context, file: StoredFile, options: SendOptions = {}): void {
  const etag = options.etag ?? etagOf(file.sha256);
  const lastModified = httpDate(file.lastModifiedMs);
  ctx.set('ETag', etag);
  ctx.set('Last-Modified', lastModified);
  ctx.set('Accept-Ranges', 'bytes');
  if (options.cacheControl) ctx.set('Cache-Control', options.cacheControl);
  if (options.contentDisposition) ctx.set('Content-Disposition', options.contentDisposition);

  if (notModified(ctx, etag, Math.floor(file.lastModifiedMs / 1000))) {
    ctx.body = null;
    ctx.status = 304;
    return;
  }
  const contentType = options.contentType ?? 'application/octet-stream';

  let range: { start: number; end: number } | undefined;
  const rangeHeader = ctx.get('Range');
  const ifRange = ctx.get('If-Range');
  if (ctx.method === 'GET' && rangeHeader && (!ifRange || ifRange === etag || ifRange === lastModified)) {
    const parsed = parseRange(rangeHeader, file.size);
    if (parsed === 'unsatisfiable') throw rangeNotSatisfiable(file.size);
    range = parsed;
  }

  if (ctx.method === 'HEAD') {
    ctx.body = null;
    ctx.status = 200;
    ctx.type = contentType;
    ctx.length = file.size;
    return;
  }
  if (range) {
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
    ctx.body = file.open(range);
    ctx.type = contentType;
    ctx.length = range.end - range.start + 1;
    return;
  }
  ctx.status = 200;
  ctx.body = file.size === 0 ? '' : file.open();
  ctx.type = contentType;
  ctx.length = file.size;
}

export function sendText(ctx: Context, text: string, contentType = 'text/plain; charset=utf-8'): void {
  ctx.status = 200;
  ctx.type = contentType;
  ctx.body = text;
}

export function sendJson(ctx: Context, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = text;
  ctx.length = Buffer.byteLength(text);
}

/** A status with no body. Body first: the other way round, Koa turns a null body into 204. */
export function emptyResponse(ctx: Context, status: number): void {
  ctx.body = null;
  ctx.status = status;
}
