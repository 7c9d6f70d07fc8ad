import type { Knex } from 'knex';

export interface SigningKeyRow {
  readonly ownerId: number;
  readonly kind: string;
  readonly privateKey: string;
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly userId: string;
}

export async function findSigningKey(db: Knex, ownerId: number, kind: string): Promise<SigningKeyRow | undefined> {
  const r = (await db('signing_keys').where({ owner_id: ownerId, kind }).first()) as
    | Record<string, unknown>
    | undefined;
  if (!r) return undefined;
  return {
    ownerId: Number(r.owner_id),
    kind: String(r.kind),
    privateKey: String(r.private_key),
    publicKey: String(r.public_key),
    fingerprint: String(r.fingerprint),
    userId: String(r.user_id),
  };
}

/** Insert-if-absent: of two replicas racing on first use, the loser's key is dropped. */
export async function saveSigningKeyIfAbsent(db: Knex, row: SigningKeyRow, nowMs: number): Promise<void> {
  await db('signing_keys')
    .insert({
      owner_id: row.ownerId,
      kind: row.kind,
      private_key: row.privateKey,
      public_key: row.publicKey,
      fingerprint: row.fingerprint,
      user_id: row.userId,
      created_at_ms: nowMs,
    })
    .onConflict(['owner_id', 'kind'])
    .ignore();
}
