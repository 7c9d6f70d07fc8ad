import { createHash, createPrivateKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import { findSigningKey, saveSigningKeyIfAbsent } from '../db/keys.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** An owner's RSA key for pkg catalogues (freebsd.md §6.3), unlocked. */
export interface RsaOwnerKey {
  /** PEM SubjectPublicKeyInfo, final newline included: served as `repository.key` and `.pub`. */
  readonly publicKeyPem: string;
  /** Hex SHA-256 of the PEM bytes: what pkg's fingerprints mode trusts. */
  readonly fingerprint: string;
  readonly privateKey: KeyObject;
}

export interface GeneratedRsaKey {
  /** Encrypted PKCS#8 PEM (the key secret is its passphrase). */
  readonly privateKey: string;
  readonly publicKey: string;
  readonly fingerprint: string;
}

const RSA_BITS = 4096;
const CIPHER = 'aes-256-cbc';

/** Hex SHA-256 of a PEM's exact bytes. */
export const pemFingerprint = (pem: string): string => createHash('sha256').update(pem, 'utf8').digest('hex');

/** A new RSA key pair; the private half encrypted with `passphrase` for storage. */
export async function generateRsaKey(passphrase: string, bits = RSA_BITS): Promise<GeneratedRsaKey> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: CIPHER, passphrase },
  });
  return { privateKey, publicKey, fingerprint: pemFingerprint(publicKey) };
}

/** Decrypts a stored key. */
export function unlockRsaKey(encryptedPem: string, passphrase: string): KeyObject {
  return createPrivateKey({ key: encryptedPem, format: 'pem', passphrase });
}

/**
 * RSASSA-PKCS1-v1_5 with SHA-256 over `data`: for pkg, `data` is the 64 ASCII bytes of the
 * member's hex SHA-256 (freebsd.md §6.2), so the DigestInfo holds SHA-256 of that hex text.
 * Deterministic: same key and data, same bytes.
 */
export function signPkcs1Sha256(privateKey: KeyObject, data: Uint8Array): Buffer {
  return sign('sha256', data, privateKey);
}

/**
 * One RSA key per owner and purpose, made on first need and shared by every replica through
 * `signing_keys` (insert-if-absent: a racing loser drops its key and reads the winner's).
 * Stored encrypted with the same key secret as the OpenPGP keys (owner-keys.ts).
 */
export class OwnerRsaKeys {
  private readonly cache = new Map<string, Promise<RsaOwnerKey>>();
  private readonly db: Knex;
  private readonly passphrase: string;
  private readonly now: () => number;
  private readonly bits: number;

  constructor(db: Knex, passphrase: string, now: () => number = Date.now, bits = RSA_BITS) {
    this.db = db;
    this.passphrase = passphrase;
    this.now = now;
    this.bits = bits;
  }

  get(ownerId: number, kind: string, userId: string): Promise<RsaOwnerKey> {
    const cacheKey = `${ownerId}/${kind}`;
    let entry = this.cache.get(cacheKey);
    if (!entry) {
      entry = this.load(ownerId, kind, userId);
      entry.catch(() => this.cache.delete(cacheKey));
      this.cache.set(cacheKey, entry);
    }
    return entry;
  }

  private async load(ownerId: number, kind: string, userId: string): Promise<RsaOwnerKey> {
    let row = await findSigningKey(this.db, ownerId, kind);
    if (!row) {
      const made = await generateRsaKey(this.passphrase, this.bits);
      await saveSigningKeyIfAbsent(this.db, { ownerId, kind, userId, ...made }, this.now());
      row = await findSigningKey(this.db, ownerId, kind);
      if (!row) throw new Error('signing key vanished after insert');
    }
    return {
      publicKeyPem: row.publicKey,
      fingerprint: row.fingerprint,
      privateKey: unlockRsaKey(row.privateKey, this.passphrase),
    };
  }
}
