import type { Knex } from 'knex';

/** Every MySQL/SQLite difference lives here. */

type DbError = { code?: unknown; errno?: unknown; message?: unknown };
const asDbError = (err: unknown): DbError =>
  typeof err === 'object' && err !== null ? (err as DbError) : {};

export const isMysql = (db: Knex): boolean => {
  const client = db.client.config.client;
  return client === 'mysql2' || client === 'mysql';
};

/** A unique key refused the row (a concurrent or repeated insert). */
export function isUniqueViolation(err: unknown): boolean {
  const e = asDbError(err);
  return (
    e.code === 'ER_DUP_ENTRY' ||
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** MySQL 1213 (deadlock) and 1205 (lock wait timeout): the whole transaction may be rerun. */
export function isRetryableLockError(err: unknown): boolean {
  const e = asDbError(err);
  return (
    e.code === 'ER_LOCK_DEADLOCK' ||
    e.code === 'ER_LOCK_WAIT_TIMEOUT' ||
    e.errno === 1213 ||
    e.errno === 1205 ||
    e.code === 'SQLITE_BUSY'
  );
}

/**
 * A column for binary values up to 16 MiB. `mediumblob` is MySQL's name; SQLite accepts any
 * type name and stores BLOBs unbounded.
 */
export const MEDIUM_BLOB = 'mediumblob';
