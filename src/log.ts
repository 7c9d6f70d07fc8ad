import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** JSON lines on stdout (or a given stream, for tests). Credentials are never passed in. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'req.headers["x-forgejo-otp"]',
          'req.headers["x-gitea-otp"]',
        ],
        censor: 'REDACTED',
      },
    },
    destination,
  );
}
