import type { Knex } from 'knex';
import { notFound } from '../errors.js';
import { isRetryableLockError } from './dialect.js';

export interface RepositoryKey {
  readonly type: string;
  readonly ownerId: number;
  readonly name: string;
}

/** What the work inside a repository lock gets. */
export interface RepositoryLock {
  readonly trx: Knex.Transaction;
  readonly repositoryId: number;
  /** Compensation for a file change (a promoted blob) if the transaction does not commit. */
  onRollback(undo: () => Promise<void>): void;
}

/** `<type>/<owner>/<repository>`, for logs and errors. */
export const lockKey = (key: RepositoryKey) => `${key.type}/${key.ownerId}/${key.name}`;

const keyWhere = (key: RepositoryKey) => ({ type: key.type, owner_id: key.ownerId, name: key.name });

/**
 * Runs `work` as the only writer of one repository, across every replica sharing the database:
 * one transaction whose first statement locks the repository's row. Creates the row if absent.
 */
export async function withRepositoryLock<T>(
  db: Knex,
  key: RepositoryKey,
  work: (lock: RepositoryLock) => Promise<T>,
  clock: () => number = Date.now,
): Promise<T> {
  // Outside the transaction, so two first writers cannot deadlock on this insert.
  await db('repositories')
    .insert({ ...keyWhere(key), created_at_ms: clock() })
    .onConflict(['type', 'owner_id', 'name'])
    .ignore();
  return lockedTransaction(db, key, work);
}

/** Like withRepositoryLock, but a missing repository is a 404 and nothing is created. */
export async function withExistingRepositoryLock<T>(
  db: Knex,
  key: RepositoryKey,
  work: (lock: RepositoryLock) => Promise<T>,
): Promise<T> {
  return lockedTransaction(db, key, work);
}

async function lockedTransaction<T>(
  db: Knex,
  key: RepositoryKey,
  work: (lock: RepositoryLock) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const undos: (() => Promise<void>)[] = [];
    // Undone while this transaction still holds its row locks: a concurrent upload of the same
    // bytes waits on the blob row and must not find a file that is about to move away.
    const undoAll = async () => {
      for (const undo of undos.splice(0).reverse()) await undo().catch(() => {});
    };
    try {
      return await db.transaction(async (trx) => {
        // First on purpose: InnoDB fixes the read snapshot at the first plain SELECT, so every
        // read after this locking one sees the previous holder's commit.
        const row = (await trx('repositories').where(keyWhere(key)).forUpdate().first('id')) as
          | { id: number | string }
          | undefined;
        if (!row) throw notFound('');
        try {
          return await work({ trx, repositoryId: Number(row.id), onRollback: (undo) => void undos.push(undo) });
        } catch (err) {
          await undoAll();
          throw err;
        }
      });
    } catch (err) {
      await undoAll(); // the commit itself failed
      if (attempt >= 3 || !isRetryableLockError(err)) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80 * attempt));
    }
  }
}

/** Repository id without locking (readers), or undefined. */
export async function findRepositoryId(db: Knex, key: RepositoryKey): Promise<number | undefined> {
  const row = (await db('repositories').where(keyWhere(key)).first('id')) as { id: number | string } | undefined;
  return row ? Number(row.id) : undefined;
}

export async function listRepositoryNames(db: Knex, type: string, ownerId: number): Promise<string[]> {
  const rows = (await db('repositories').where({ type, owner_id: ownerId }).orderBy('name').select('name')) as {
    name: string;
  }[];
  return rows.map((r) => r.name);
}

export async function removeRepository(trx: Knex.Transaction, repositoryId: number): Promise<void> {
  await trx('repositories').where({ id: repositoryId }).delete();
}
