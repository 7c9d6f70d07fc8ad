import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { migrateToLatest, openDatabase } from '../../src/db/connect.js';
import { OwnerRsaKeys, generateRsaKey, pemFingerprint, signPkcs1Sha256, unlockRsaKey } from '../../src/signing/rsa.js';
import { makeTempDir } from '../helpers/tools.js';

const SECRET = 'stowage-test-key-secret-0123456789';

describe('per-owner RSA keys for pkg catalogues (freebsd.md §6.3)', function () {
  this.timeout(120_000);
  let db: Knex;

  before(async () => {
    db = openDatabase({ client: 'sqlite', filename: join(await makeTempDir('rsa-keys'), 'db.sqlite') });
    await migrateToLatest(db);
  });
  after(() => db?.destroy());

  it('makes one RSA-4096 key per owner on first use, encrypted at rest with the key secret', async () => {
    const keys = new OwnerRsaKeys(db, SECRET, () => 1_000);
    const key = await keys.get(7, 'freebsd', 'alice');
    assert.equal(key.privateKey.asymmetricKeyDetails?.modulusLength, 4096);
    assert.equal(key.fingerprint, createHash('sha256').update(key.publicKeyPem).digest('hex'));
    const row = await db('signing_keys').where({ owner_id: 7, kind: 'freebsd' }).first();
    assert.match(String(row.private_key), /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    assert.equal(row.public_key, key.publicKeyPem);
    assert.equal(row.fingerprint, key.fingerprint);
    assert.equal(Number(row.created_at_ms), 1_000);
    assert.throws(() => unlockRsaKey(String(row.private_key), 'another-secret-of-sixteen'));
  });

  it('gives racing replicas the same key: the loser of the insert reads the winner', async () => {
    const [a, b] = await Promise.all([
      new OwnerRsaKeys(db, SECRET, Date.now, 1024).get(8, 'freebsd', 'bob'),
      new OwnerRsaKeys(db, SECRET, Date.now, 1024).get(8, 'freebsd', 'bob'),
    ]);
    assert.equal(a.publicKeyPem, b.publicKeyPem);
    assert.equal((await db('signing_keys').where({ owner_id: 8 }).count({ n: '*' }))[0]!.n, 1);
    const sig = signPkcs1Sha256(a.privateKey, Buffer.from('x'));
    assert.ok(verify('sha256', Buffer.from('x'), createPublicKey(b.publicKeyPem), sig));
  });

  it('keeps an OpenPGP key of the same owner apart (another kind)', async () => {
    const keys = new OwnerRsaKeys(db, SECRET, Date.now, 1024);
    const one = await keys.get(9, 'freebsd', 'carol');
    const other = await keys.get(9, 'freebsd-test', 'carol');
    assert.notEqual(one.publicKeyPem, other.publicKeyPem);
    assert.equal(await keys.get(9, 'freebsd', 'carol'), one, 'cached in process');
  });

  it('fingerprints the exact PEM bytes', async () => {
    const made = await generateRsaKey('pw-pw-pw-pw-pw-pw', 1024);
    assert.equal(made.fingerprint, pemFingerprint(made.publicKey));
    assert.match(made.publicKey, /^-----BEGIN PUBLIC KEY-----\n[\s\S]*\n-----END PUBLIC KEY-----\n$/);
  });
});
