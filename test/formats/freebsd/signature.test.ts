import assert from 'node:assert/strict';
import { createHash, createPublicKey, publicDecrypt, verify, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { META_CONF } from '../../../src/formats/freebsd/catalogue.js';
import { digestHex, formatFingerprint, signatureMembers } from '../../../src/formats/freebsd/signature.js';
import { generateRsaKey, signPkcs1Sha256, unlockRsaKey } from '../../../src/signing/rsa.js';
import { makeTempDir, requireTool, run } from '../../helpers/tools.js';

// freebsd.md §6.5
const M = Buffer.from('{"groups":[],"expired_packages":[],"packages":[]}');
const H = '3718470cb5529c36eda8e0ca63f0a5b57bde4fa6f0bf14c68f036e2a5c754619';
const DIGEST_OF_H = 'aeb8513f55b68482e8b033be4946b0c4714c2dcc253111a25848aa92ef6039a0';
const DIGEST_INFO_PREFIX = '3031300d060960864801650304020105000420';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('freebsd catalogue signatures (freebsd.md §6)', function () {
  this.timeout(60_000);
  let work: string;
  let privateKey: KeyObject;
  let publicKeyPem: string;
  let keyFile: string;
  let pubFile: string;

  before(async () => {
    requireTool('openssl', 'openssl');
    work = await makeTempDir('freebsd-signature');
    const made = await generateRsaKey('test-passphrase', 2048);
    privateKey = unlockRsaKey(made.privateKey, 'test-passphrase');
    publicKeyPem = made.publicKey;
    keyFile = join(work, 'key.pem');
    pubFile = join(work, 'repository.key');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(pubFile, publicKeyPem);
  });

  it('holds the §6.5 test vector: M, H, SHA-256(H) and meta.conf', () => {
    assert.equal(M.length, 49);
    assert.equal(digestHex(M), H);
    assert.equal(sha256(Buffer.from(H, 'ascii')), DIGEST_OF_H);
    assert.equal(Buffer.byteLength(META_CONF), 167);
    assert.equal(sha256(Buffer.from(META_CONF)), '719e235783e2b584e403806358b67927a3205c75465844520a628fb66fd25c74');
  });

  it('signs the hex digest: the recovered DigestInfo is the SHA-256 prefix and SHA-256(H)', async () => {
    const S = signPkcs1Sha256(privateKey, Buffer.from(H, 'ascii'));
    assert.equal(S.length, 256);
    const recovered = publicDecrypt(createPublicKey(publicKeyPem), S).toString('hex');
    assert.equal(recovered, DIGEST_INFO_PREFIX + DIGEST_OF_H);
    const sig = join(work, 'vector.sig');
    await writeFile(sig, S);
    const openssl = await run('openssl', ['pkeyutl', '-verifyrecover', '-pubin', '-inkey', pubFile, '-in', sig]);
    assert.equal(openssl.stdout.toString('hex'), DIGEST_INFO_PREFIX + DIGEST_OF_H);
  });

  it('gives the same bytes as openssl dgst -sign, and openssl dgst -verify accepts them', async () => {
    const S = signPkcs1Sha256(privateKey, Buffer.from(H, 'ascii'));
    const theirs = await run('openssl', ['dgst', '-sha256', '-sign', keyFile, '-binary'], { input: H });
    assert.deepEqual(theirs.stdout, S);
    const sig = join(work, 'data.sig');
    await writeFile(sig, S);
    const ok = await run('openssl', ['dgst', '-sha256', '-verify', pubFile, '-signature', sig], { input: H });
    assert.match(ok.stdout.toString(), /Verified OK/);
    assert.equal(signPkcs1Sha256(privateKey, Buffer.from(H, 'ascii')).equals(S), true, 'deterministic');
  });

  it('lays out signature, <member>.sig and <member>.pub for both client modes', () => {
    const S = signPkcs1Sha256(privateKey, Buffer.from(H, 'ascii'));
    const members = signatureMembers('data', S, publicKeyPem);
    assert.deepEqual(
      members.map((m) => m.name),
      ['signature', 'data.sig', 'data.pub'],
    );
    const [signature, dotSig, dotPub] = members.map((m) => m.content) as [Buffer, Buffer, Buffer];
    assert.equal(signature.length, 257);
    assert.equal(signature[256], 0);
    assert.deepEqual(signature.subarray(0, 256), S);
    assert.deepEqual(dotSig, S);
    assert.equal(dotPub.toString(), publicKeyPem);
    assert.match(publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    assert.ok(verify('sha256', Buffer.from(digestHex(M)), createPublicKey(dotPub), dotSig));
  });

  it('fails every check once one byte of the member flips', async () => {
    const S = signPkcs1Sha256(privateKey, Buffer.from(H, 'ascii'));
    const flipped = Buffer.from(M);
    flipped[10]! ^= 1;
    const h2 = digestHex(flipped);
    assert.equal(verify('sha256', Buffer.from(h2), createPublicKey(publicKeyPem), S), false);
    const sig = join(work, 'flipped.sig');
    await writeFile(sig, S);
    const res = await run('openssl', ['dgst', '-sha256', '-verify', pubFile, '-signature', sig], { input: h2, allowFail: true });
    assert.notEqual(res.code, 0);
  });

  it('writes the fingerprint file pkg keeps in trusted/ (§6.4)', () => {
    const text = formatFingerprint(publicKeyPem);
    assert.equal(text, `function: "sha256"\nfingerprint: "${sha256(Buffer.from(publicKeyPem))}"\n`);
  });
});
