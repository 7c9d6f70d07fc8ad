import type { Context, Middleware } from 'koa';
import { HttpError } from '../errors.js';

/** How one API flavour writes its error bodies, and where its statuses differ from ours. */
export interface ErrorStyle {
  readonly remap?: Readonly<Record<number, number>>;
  write(ctx: Context, status: number, message: string): void;
}

/** Forgejo's package routes: plain text, one line. */
export const FORGEJO_TEXT: ErrorStyle = {
  write(ctx, _status, message) {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = message;
  },
};

/** A library error that chose its own 4xx (koa-body's 413, a bad JSON body). */
interface ExposedError {
  status: number;
  expose: true;
  message: string;
  headers?: Record<string, string>;
}

/** The client went away mid-request: whatever broke is its doing, not ours. */
export const clientWentAway = (ctx: Context) => !ctx.req.complete && (ctx.req.destroyed || ctx.req.socket?.destroyed === true);

function asKnownError(err: unknown, ctx: Context): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (clientWentAway(ctx)) return new HttpError(400, 'request body ended early');
  const e = err as Partial<ExposedError> | null;
  if (e && typeof e === 'object' && e.expose === true && typeof e.status === 'number' && e.status < 500) {
    return new HttpError(e.status, String(e.message ?? ''), e.headers ?? {});
  }
  return undefined;
}

/** The one place where errors become responses, per router. Unknown errors: 500, logged once. */
export const answerErrors =
  (style: ErrorStyle): Middleware =>
  async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const known = asKnownError(err, ctx);
      if (!known) ctx.app.emit('error', err, ctx); // logged with its stack, never shown
      const status = known?.status ?? 500;
      const mapped = style.remap?.[status] ?? status;
      ctx.set(known?.headers ?? {});
      if (status === 304 || status === 307) {
        ctx.body = null;
        ctx.status = mapped;
        return;
      }
      ctx.status = mapped;
      const message = known ? known.message : `internal server error (request ${String(ctx.state.requestId ?? '')})`;
      if (ctx.method === 'HEAD') {
        ctx.body = null;
        ctx.status = mapped;
      } else style.write(ctx, mapped, message);
    }
  };
