import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knex, { type Knex } from 'knex';
import type { DatabaseConfig } from '../config.js';
import { isMysql } from './dialect.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/** Opens the pool. SQLite gets WAL and a busy timeout so readers never block the writer. */
export function openDatabase(config: DatabaseConfig): Knex {
  if (config.client === 'sqlite') {
    mkdirSync(dirname(config.filename), { recursive: true });
    return knex({
      client: 'better-sqlite3',
      connection: { filename: config.filename },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: { pragma(s: string): unknown }, done: (err: Error | null, c: unknown) => void) => {
          conn.pragma('journal_mode = WAL');
          conn.pragma('busy_timeout = 10000');
          conn.pragma('foreign_keys = ON');
          conn.pragma('synchronous = NORMAL');
          done(null, conn);
        },
      },
    });
  }
  return knex({
    client: 'mysql2',
    connection: {
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      database: config.database,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
      // Row times are epoch-ms integers; never let the driver convert zones.
      dateStrings: true,
      ...(config.tls ? { ssl: { rejectUnauthorized: true } } : {}),
    },
    pool: { min: 0, max: config.poolMax },
  });
}

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Loads `migrations/*.ts` through the running loader (tsx), so the same files run in tests,
 * `npm start` and `stowage migrate` without a build step.
 */
export const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    return readdirSync(MIGRATIONS_DIR)
      .filter((f) => /^\d{14}_[a-z0-9_]+\.ts$/.test(f))
      .sort();
  },
  getMigrationName: (name) => name,
  async getMigration(name) {
    return (await import(pathToFileURL(join(MIGRATIONS_DIR, name)).href)) as MigrationModule;
  },
};

const migrateConfig: Knex.MigratorConfig = { migrationSource, tableName: 'knex_migrations' };

const MIGRATE_LOCK = 'stowage:migrate';

/**
 * Runs `work` while holding MySQL's named lock `stowage:migrate` on one pooled connection (it
 * belongs to the connection, so a crashed holder frees it). SQLite has one process anyway.
 */
async function withMigrateLock<T>(db: Knex, lockTimeoutS: number, work: () => Promise<T>): Promise<T> {
  if (!isMysql(db)) return work();
  const conn: unknown = await db.client.acquireConnection();
  try {
    const [rows] = (await db.raw('select get_lock(?, ?) as got', [MIGRATE_LOCK, lockTimeoutS]).connection(conn)) as [
      { got: number | null }[],
    ];
    if (rows[0]?.got !== 1) throw new MigrationLockTimeout();
    try {
      return await work();
    } finally {
      await db.raw('select release_lock(?)', [MIGRATE_LOCK]).connection(conn);
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/**
 * Runs every pending migration. On MySQL, replicas starting together queue on the named lock
 * and find nothing left to do; knex's own lock row stays as a second guard.
 */
export async function migrateToLatest(db: Knex, lockTimeoutS = 600): Promise<void> {
  await withMigrateLock(db, lockTimeoutS, () => db.migrate.latest(migrateConfig));
}

/**
 * deploy.md §6.4 `stowage migrate --unlock`: clears knex's lock row left by a crashed migrator.
 * Only while holding the named lock, so a migration in progress keeps its row. True when a
 * stale row was cleared.
 */
export async function unlockMigrations(db: Knex, lockTimeoutS = 600): Promise<boolean> {
  return withMigrateLock(db, lockTimeoutS, async () => {
    if (!(await db.schema.hasTable(`${migrateConfig.tableName}_lock`))) return false;
    const locked = await db(`${migrateConfig.tableName}_lock`).where({ is_locked: 1 }).first();
    await db.migrate.forceFreeMigrationsLock(migrateConfig);
    return locked !== undefined;
  });
}

export class MigrationLockTimeout extends Error {
  constructor() {
    super('timed out waiting for the migration lock');
  }
}

export async function rollbackAll(db: Knex): Promise<void> {
  await db.migrate.rollback(migrateConfig, true);
}

/** True when no migration is pending (for /readyz). */
export async function isSchemaCurrent(db: Knex): Promise<boolean> {
  const [, pending] = (await db.migrate.list(migrateConfig)) as [unknown[], unknown[]];
  return pending.length === 0;
}
