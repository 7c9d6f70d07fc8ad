import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import knex, { type Knex } from 'knex';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { startStowage as start, type Stowage } from '../../src/main.js';
import { MYSQL, TEST_ROOT, type Engine } from '../setup.js';

export const TEST_API_KEY = 'stowage-test-admin-key-0123456789';

export interface StartOptions {
  readonly engine: Engine;
  /** Extra environment (FORGE_URL, PUBLIC_URL, ...). Standalone with TEST_API_KEY otherwise. */
  readonly env?: Record<string, string>;
  /** Share another instance's database and data dir (a second replica). */
  readonly shareWith?: TestStowage;
  readonly now?: () => number;
}

/** A database + data dir + in-process server, and what tests need around them. */
export interface TestStowage {
  readonly url: string;
  readonly engine: Engine;
  readonly dataDir: string;
  readonly databaseUrl: string;
  readonly env: Record<string, string>;
  readonly instance: Stowage;
  readonly logs: string[];
  readonly db: Knex;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Rows of every table, blob files and staging files: bad input must leave it unchanged. */
  snapshot(): Promise<unknown>;
  stop(): Promise<void>;
}

let counter = 0;

/** A fresh MySQL database, dropped by the returned function. */
export async function freshMysqlDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `stowage_t_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
  const admin = knex({ client: 'mysql2', connection: { ...MYSQL } });
  await admin.raw(`create database \`${name}\``);
  await admin.destroy();
  const auth = MYSQL.password ? `${MYSQL.user}:${encodeURIComponent(MYSQL.password)}` : MYSQL.user;
  return {
    url: `mysql://${auth}@${MYSQL.host}:${MYSQL.port}/${name}`,
    async drop() {
      const a = knex({ client: 'mysql2', connection: { ...MYSQL } });
      await a.raw(`drop database if exists \`${name}\``);
      await a.destroy();
    },
  };
}

/** Captures log lines in memory (and checks them for secrets in tests). */
export function memoryLogger(lines: string[], level = 'info'): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return createLogger(level, sink);
}

export async function startStowage(options: StartOptions): Promise<TestStowage> {
  let dataDir: string;
  let databaseUrl: string;
  let drop = async () => {};
  if (options.shareWith) {
    dataDir = options.shareWith.dataDir;
    databaseUrl = options.shareWith.databaseUrl;
  } else {
    dataDir = join(TEST_ROOT, `stowage-${++counter}`);
    mkdirSync(dataDir, { recursive: true });
    if (options.engine === 'mysql') {
      const fresh = await freshMysqlDatabase();
      databaseUrl = fresh.url;
      drop = fresh.drop;
    } else {
      databaseUrl = `sqlite:${join(dataDir, 'stowage.sqlite')}`;
    }
  }
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    STOWAGE_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    STOWAGE_API_KEY: TEST_API_KEY,
    STOWAGE_KEY_SECRET: 'stowage-test-key-secret-0123456789',
    SHUTDOWN_DELAY_S: '0',
    SHUTDOWN_GRACE_S: '5',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const logs: string[] = [];
  const instance = await start(loadConfig(env), {
    log: memoryLogger(logs),
    now: options.now,
    onFatal: (message) => logs.push(JSON.stringify({ level: 'fatal', msg: message })),
  });
  const url = instance.url;
  const db = instance.db;
  return {
    url,
    engine: options.engine,
    dataDir,
    databaseUrl,
    env,
    instance,
    logs,
    db,
    fetch: (path, init) => fetch(new URL(path, url), init),
    async snapshot() {
      const tables = await listTables(db, options.engine);
      const rows: Record<string, unknown[]> = {};
      for (const t of tables) rows[t] = await db(t).select().orderBy(1);
      return {
        rows,
        blobs: await instance.blobs.listBlobs(),
        staging: readdirSync(join(dataDir, 'tmp')).sort(),
      };
    },
    async stop() {
      await instance.shutdown();
      await drop();
    },
  };
}

async function listTables(db: Knex, engine: Engine): Promise<string[]> {
  const names =
    engine === 'sqlite'
      ? ((await db('sqlite_master').where({ type: 'table' }).select('name')) as { name: string }[]).map((r) => r.name)
      : ((await db.raw('show tables'))[0] as Record<string, string>[]).map((r) => Object.values(r)[0]!);
  return names.filter((n) => !n.startsWith('knex_') && !n.startsWith('sqlite_')).sort();
}

/** Basic credentials for the standalone admin key. */
export const ADMIN = { Authorization: `Basic ${Buffer.from(`admin:${TEST_API_KEY}`).toString('base64')}` };
