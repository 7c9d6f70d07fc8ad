import { isAbsolute, join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** What `DATABASE_URL` selects. */
export type DatabaseConfig =
  | { readonly client: 'sqlite'; readonly filename: string }
  | {
      readonly client: 'mysql';
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly password: string;
      readonly database: string;
      readonly poolMax: number;
      /** DATABASE_TLS: connect over TLS, checking the server's certificate. */
      readonly tls?: boolean;
    };

/** forge.md §5.1. Absent in standalone mode. */
export interface ForgeConfig {
  readonly url: URL;
  readonly serviceToken: string;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly authCacheTtlS: number;
  readonly authNegativeTtlS: number;
  readonly ownerCacheTtlS: number;
  readonly authCacheMaxEntries: number;
  readonly oauthPrefilter: 'auto' | 'off';
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly database: DatabaseConfig;
  /** Public base URL, ending in `/` (Forgejo's ROOT_URL). */
  readonly publicUrl: URL;
  /** PUBLIC_URL was given; otherwise publicUrl is a local guess a trusted proxy may correct. */
  readonly publicUrlSet: boolean;
  readonly forge: ForgeConfig | undefined;
  /** deploy.md §2 `prefix` mode: other package types stream on to the forge. */
  readonly forgePassthrough: boolean;
  /** Standalone admin key, when given in the environment. */
  readonly apiKey: string | undefined;
  /** Encrypts signing keys at rest; undefined: a generated one in the data dir. */
  readonly keySecret: string | undefined;
  readonly maxUploadBytes: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly migrateOnStart: boolean;
  readonly trustProxy: boolean;
  readonly proxyHops: number;
  readonly vieterDefaultArch: string;
  /** The forge's APP_NAME: Origin and Label of Alt and Debian release files (alt.md, debian.md). */
  readonly appName: string;
  /** How long unreferenced blobs and superseded indexes stay for downloads in flight. */
  readonly blobGraceS: number;
  readonly shutdownDelayS: number;
  readonly shutdownGraceS: number;
}

const GIB = 1024 ** 3;

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = z.string().refine((v) => {
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');

const schema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  STOWAGE_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().optional(),
  DATABASE_PASSWORD: z.string().optional(),
  DATABASE_POOL_MAX: int(1, 100).default(10),
  DATABASE_TLS: bool.default(false),
  PUBLIC_URL: url.optional(),
  FORGE_URL: url.optional(),
  FORGE_SERVICE_TOKEN: z.string().optional(),
  FORGE_TIMEOUT_MS: int(100, 120_000).default(5000),
  FORGE_CONNECT_TIMEOUT_MS: int(100, 60_000).default(2000),
  AUTH_CACHE_TTL_S: int(1, 60).default(30),
  AUTH_NEGATIVE_TTL_S: int(0, 5).default(5),
  OWNER_CACHE_TTL_S: int(1, 3600).default(60),
  AUTH_CACHE_MAX_ENTRIES: int(1, 10_000_000).default(10_000),
  FORGE_PASSTHROUGH: bool.default(false),
  FORGE_OAUTH_PREFILTER: z.enum(['auto', 'off'], { message: 'must be auto or off' }).default('auto'),
  STOWAGE_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  STOWAGE_KEY_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  STOWAGE_MAX_UPLOAD_BYTES: int(1, Number.MAX_SAFE_INTEGER).default(2 * GIB),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  MIGRATE_ON_START: bool.default(true),
  TRUST_PROXY: bool.default(false),
  PROXY_HOPS: int(1, 10).default(1),
  VIETER_DEFAULT_ARCH: z
    .string()
    .regex(/^[A-Za-z0-9_]+$/, 'must match ^[A-Za-z0-9_]+$')
    .refine((v) => v !== 'any', 'must not be any')
    .default('x86_64'),
  APP_NAME: z.string().min(1).default('Forgejo: Beyond coding. We Forge.'),
  BLOB_GRACE_S: int(0, 7 * 24 * 3600).default(600),
  SHUTDOWN_DELAY_S: int(0, 600).default(5),
  SHUTDOWN_GRACE_S: int(0, 3600).default(110),
});

export class ConfigError extends Error {}

/** `NAME_FILE` wins over `NAME` for secrets mounted as files (Kubernetes). */
function withFileSecrets(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  for (const name of [
    'FORGE_SERVICE_TOKEN',
    'DATABASE_PASSWORD',
    'STOWAGE_API_KEY',
    'STOWAGE_KEY_SECRET',
  ]) {
    const file = env[`${name}_FILE`];
    if (!file) continue;
    try {
      out[name] = readFileSync(file, 'utf8').trim();
    } catch {
      throw new ConfigError(`${name}_FILE: cannot read ${file}`);
    }
  }
  // An empty variable means unset, as in most deployment tools.
  for (const [k, v] of Object.entries(out)) if (v === '') delete out[k];
  return out;
}

function parseDatabaseUrl(
  raw: string | undefined,
  dataDir: string,
  password: string | undefined,
  poolMax: number,
  tls = false,
): DatabaseConfig {
  if (!raw) return { client: 'sqlite', filename: join(dataDir, 'stowage.sqlite') };
  if (raw.startsWith('sqlite:')) {
    const file = raw.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!file) throw new ConfigError('DATABASE_URL: sqlite: needs a file name');
    return { client: 'sqlite', filename: resolve(file) };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL: must be mysql://user:pass@host[:port]/db or sqlite:file');
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:')
    throw new ConfigError('DATABASE_URL: only mysql:// (or mariadb://) and sqlite: are supported');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new ConfigError('DATABASE_URL: names no database');
  return {
    client: 'mysql',
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username) || 'root',
    password: password ?? decodeURIComponent(u.password),
    database,
    poolMax,
    ...(tls ? { tls } : {}),
  };
}

/** Reads and validates the environment; throws ConfigError with one line per bad value. */
export function loadConfig(rawEnv: Record<string, string | undefined>): Config {
  const env = withFileSecrets(rawEnv);
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(lines.join('\n'));
  }
  const e = parsed.data;
  const dataDir = isAbsolute(e.STOWAGE_DATA_DIR) ? e.STOWAGE_DATA_DIR : resolve(e.STOWAGE_DATA_DIR);
  const withSlash = (u: string) => new URL(u.endsWith('/') ? u : `${u}/`);

  let forge: ForgeConfig | undefined;
  if (e.FORGE_URL) {
    const missing = [
      e.PUBLIC_URL ? '' : 'PUBLIC_URL: required when FORGE_URL is set',
      e.FORGE_SERVICE_TOKEN ? '' : 'FORGE_SERVICE_TOKEN: required when FORGE_URL is set',
    ].filter(Boolean);
    if (missing.length) throw new ConfigError(missing.join('\n'));
    forge = {
      url: withSlash(e.FORGE_URL),
      serviceToken: e.FORGE_SERVICE_TOKEN!,
      timeoutMs: e.FORGE_TIMEOUT_MS,
      connectTimeoutMs: e.FORGE_CONNECT_TIMEOUT_MS,
      authCacheTtlS: e.AUTH_CACHE_TTL_S,
      authNegativeTtlS: e.AUTH_NEGATIVE_TTL_S,
      ownerCacheTtlS: e.OWNER_CACHE_TTL_S,
      authCacheMaxEntries: e.AUTH_CACHE_MAX_ENTRIES,
      oauthPrefilter: e.FORGE_OAUTH_PREFILTER,
    };
  }

  if (e.FORGE_PASSTHROUGH && !forge) throw new ConfigError('FORGE_PASSTHROUGH: needs FORGE_URL');

  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    dataDir,
    database: parseDatabaseUrl(e.DATABASE_URL, dataDir, e.DATABASE_PASSWORD, e.DATABASE_POOL_MAX, e.DATABASE_TLS),
    publicUrl: withSlash(e.PUBLIC_URL ?? `http://localhost:${e.PORT}/`),
    publicUrlSet: e.PUBLIC_URL !== undefined,
    forge,
    forgePassthrough: e.FORGE_PASSTHROUGH,
    apiKey: e.STOWAGE_API_KEY,
    keySecret: e.STOWAGE_KEY_SECRET,
    maxUploadBytes: e.STOWAGE_MAX_UPLOAD_BYTES,
    logLevel: e.LOG_LEVEL,
    migrateOnStart: e.MIGRATE_ON_START,
    trustProxy: e.TRUST_PROXY,
    proxyHops: e.PROXY_HOPS,
    vieterDefaultArch: e.VIETER_DEFAULT_ARCH,
    appName: e.APP_NAME,
    blobGraceS: e.BLOB_GRACE_S,
    shutdownDelayS: e.SHUTDOWN_DELAY_S,
    shutdownGraceS: e.SHUTDOWN_GRACE_S,
  });
}
