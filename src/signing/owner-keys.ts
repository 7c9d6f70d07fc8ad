import type { Knex } from 'knex';
import { findSigningKey, saveSigningKeyIfAbsent } from '../db/keys.js';
import { generateOpenPgpKey, unlockOpenPgpKey, type SigningKey } from './openpgp.js';

export interface OwnerKey {
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly userId: string;
  readonly signingKey: SigningKey;
}

/**
 * One OpenPGP key per owner and purpose, made on first need and shared by all replicas through
 * the database (insert-if-absent: a racing loser discards its key and reads the winner's).
 * Unlocked keys are cached in process; they never change once written.
 */
export class OwnerKeys {
  private readonly cache = new Map<string, Promise<OwnerKey>>();

  private readonly db: Knex;
  private readonly passphrase: string;
  private readonly now: () => number;

  constructor(db: Knex, passphrase: string, now: () => number = Date.now) {
    this.db = db;
    this.passphrase = passphrase;
    this.now = now;
  }

  get(ownerId: number, kind: string, user: { name: string; email: string; comment?: string }): Promise<OwnerKey> {
    const cacheKey = `${ownerId}/${kind}`;
    let entry = this.cache.get(cacheKey);
    if (!entry) {
      entry = this.load(ownerId, kind, user);
      entry.catch(() => this.cache.delete(cacheKey));
      this.cache.set(cacheKey, entry);
    }
    return entry;
  }

  /** The public key only, without creating one. */
  async find(ownerId: number, kind: string): Promise<string | undefined> {
    return (await findSigningKey(this.db, ownerId, kind))?.publicKey;
  }

  private async load(ownerId: number, kind: string, user: { name: string; email: string; comment?: string }) {
    let row = await findSigningKey(this.db, ownerId, kind);
    if (!row) {
      const made = await generateOpenPgpKey(user, this.passphrase, this.now());
      const userId = user.comment ? `${user.name} (${user.comment}) <${user.email}>` : `${user.name} <${user.email}>`;
      await saveSigningKeyIfAbsent(this.db, { ownerId, kind, userId, ...made }, this.now());
      row = await findSigningKey(this.db, ownerId, kind);
      if (!row) throw new Error('signing key vanished after insert');
    }
    return {
      publicKey: row.publicKey,
      fingerprint: row.fingerprint,
      userId: row.userId,
      signingKey: await unlockOpenPgpKey(row.privateKey, this.passphrase),
    };
  }
}
