import type { Context } from 'koa';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { badRequest, lengthRequired, notFound, tooLarge } from '../errors.js';

/** One decoded path parameter; `/`, NUL, `.` and `..` are never valid segments. */
export function segment(ctx: Context, name: string): string {
  const raw = (ctx.params as Record<string, string | undefined>)[name];
  if (raw === undefined) throw notFound('');
  return checkSegment(raw);
}

export function checkSegment(value: string): string {
  if (value === '' || value === '.' || value === '..' || value.includes('/') || value.includes('\0')) {
    throw notFound(''); // file routes answer 404 with an empty body
  }
  return value;
}

/**
 * The path tail after a route prefix, split on `/`, empty segments dropped, each decoded.
 * Never turns `+` into a space (pacman sends `+` and `:` literally).
 */
export function tailSegments(ctx: Context, prefixSegments: number): string[] {
  const raw = ctx.path.split('/').filter((s) => s !== '');
  return raw.slice(prefixSegments).map((s) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(s);
    } catch {
      throw notFound('');
    }
    return checkSegment(decoded);
  });
}

export interface UploadOptions {
  readonly maxBytes: number;
  /** Vieter: a body without Content-Length is refused with 411. */
  readonly requireLength?: boolean;
  /** Accept `multipart/form-data` and take its first file part (Forgejo's upload routes). */
  readonly multipart?: boolean;
  /** The 400 message for a multipart form without a file part. */
  readonly noFileMessage?: string;
}

const BODY_IDLE_MS = 120_000;

/**
 * The request body as a stream, after the checks that need no body byte: declared length
 * (411/413) and content type. `100 Continue` goes out only now, i.e. after the access check.
 */
export function uploadStream(ctx: Context, options: UploadOptions): Readable {
  const req = ctx.req;
  const declared = req.headers['content-length'];
  if (declared === undefined && options.requireLength) throw lengthRequired('Content-Length required');
  if (declared !== undefined && Number(declared) > options.maxBytes) throw tooLarge('request body too large');
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) throw badRequest('form-urlencoded bodies are not supported');
  if (type.startsWith('multipart/') && !options.multipart) throw badRequest('multipart bodies are not supported');

  if (/^100-continue$/i.test(String(req.headers.expect ?? ''))) ctx.res.writeContinue();
  // An idle client must not hold the staging file forever.
  req.setTimeout(BODY_IDLE_MS, () => req.destroy(new Error('request body idle timeout')));
  req.once('end', () => req.setTimeout(0));

  return type.startsWith('multipart/form-data')
    ? firstFilePart(ctx, options.noFileMessage ?? 'no file in multipart form')
    : bodyOf(ctx);
}

/** The raw body; a client that goes away mid-body is a client error, not a server one. */
function bodyOf(ctx: Context): Readable {
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  pipeline(ctx.req, out).catch(() => out.destroy(badRequest('request body ended early')));
  return out;
}

/** The first file part of a multipart form, streamed; other parts are drained. */
function firstFilePart(ctx: Context, noFileMessage: string): Readable {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: ctx.req.headers, limits: { files: 1 } });
  } catch {
    throw badRequest('invalid multipart form');
  }
  const out = new PassThrough();
  let found = false;
  parser.on('file', (_field, file) => {
    found = true;
    pipeline(file, out).catch((err: unknown) => out.destroy(err as Error));
  });
  parser.on('close', () => {
    if (!found) out.destroy(badRequest(noFileMessage));
  });
  pipeline(ctx.req, parser).catch(() => out.destroy(badRequest('request body ended early')));
  return out;
}
