/**
 * The one error type. Thrown wherever a problem is found, pure code included; the error
 * middleware of each router turns it into a response. Imports nothing on purpose.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly expose = true;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    // One line: it becomes the response body. A single trailing newline is kept, since some
    // copied APIs end their one-line bodies with one (Go's http.Error).
    const first = message.split(/\r?\n/, 1)[0] ?? '';
    super(message === `${first}\n` ? message : first);
    this.status = status;
    this.headers = headers;
  }
}

export const isHttpError = (err: unknown): err is HttpError => err instanceof HttpError;

export const badRequest = (why: string) => new HttpError(400, why);
export const unauthorized = (why: string, challenge?: string) =>
  new HttpError(401, why, challenge ? { 'WWW-Authenticate': challenge } : {});
export const forbidden = (why: string) => new HttpError(403, why);
export const notFound = (why = 'not found') => new HttpError(404, why);
export const conflict = (why: string) => new HttpError(409, why);
export const lengthRequired = (why: string) => new HttpError(411, why);
export const tooLarge = (why: string) => new HttpError(413, why);
export const rangeNotSatisfiable = (size: number) =>
  new HttpError(416, 'range not satisfiable', { 'Content-Range': `bytes */${size}` });
export const redirect = (location: string) => new HttpError(307, '', { Location: location });
export const unavailable = (why: string, retryAfterS = 5) =>
  new HttpError(503, why, { 'Retry-After': String(retryAfterS) });
export const notImplemented = (why: string) => new HttpError(501, why);
