import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import {
  generateOpenPgpKey,
  signDetached,
  signDetachedStream,
  unlockOpenPgpKey,
  type GeneratedKey,
  type SigningKey,
} from '../../src/signing/openpgp.js';
import { makeTempDir, requireTool, run } from '../helpers/tools.js';

const PASSPHRASE = 'a-passphrase-for-tests';
const CREATED = Date.UTC(2026, 0, 2, 3, 4, 5);

describe('OpenPGP signing', function () {
  this.timeout(60_000);
  let generated: GeneratedKey;
  let key: SigningKey;
  before(async () => {
    generated = await generateOpenPgpKey(
      { name: 'alice', comment: 'Arch Package signature only', email: 'alice@noreply.example.org' },
      PASSPHRASE,
      CREATED,
    );
    key = await unlockOpenPgpKey(generated.privateKey, PASSPHRASE);
  });

  it('makes a v4 RSA-4096 key, stored encrypted', async () => {
    const pub = await openpgp.readKey({ armoredKey: generated.publicKey });
    assert.equal(pub.keyPacket.version, 4);
    assert.equal(pub.getAlgorithmInfo().bits, 4096);
    assert.equal(pub.getFingerprint().toUpperCase(), generated.fingerprint);
    const priv = await openpgp.readPrivateKey({ armoredKey: generated.privateKey });
    assert.equal(priv.isDecrypted(), false);
    await assert.rejects(unlockOpenPgpKey(generated.privateKey, 'wrong passphrase'));
  });

  it('signs a stream and bytes alike; openpgp verifies both and refuses other data', async () => {
    const data = Buffer.concat(Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i)));
    const fromStream = await signDetachedStream(key, Readable.from([data.subarray(0, 123), data.subarray(123)]), CREATED);
    const fromBytes = signDetached(key, data, CREATED);
    // Deterministic: PKCS#1 v1.5 over the same hash and subpackets.
    assert.deepEqual(fromStream, fromBytes);
    const verificationKeys = await openpgp.readKey({ armoredKey: generated.publicKey });
    const signature = await openpgp.readSignature({ binarySignature: fromStream });
    const good = await openpgp.verify({ message: await openpgp.createMessage({ binary: data }), signature, verificationKeys });
    await good.signatures[0]!.verified;
    assert.equal(good.signatures[0]!.keyID.toHex(), generated.fingerprint.slice(-16).toLowerCase());
    const other = Buffer.from(data);
    other.writeUInt8(1, 0);
    const bad = await openpgp.verify({ message: await openpgp.createMessage({ binary: other }), signature, verificationKeys });
    await assert.rejects(bad.signatures[0]!.verified);
    const packet = (await openpgp.readSignature({ binarySignature: fromBytes })).packets[0]!;
    assert.equal(packet.created?.getTime(), Math.floor(CREATED / 1000) * 1000);
  });

  it('writes signatures gpg verifies', async () => {
    requireTool('gpg', 'gnupg');
    const dir = await makeTempDir('gpg-sign');
    const home = join(dir, 'home');
    await run('mkdir', ['-m', '700', home]);
    await writeFile(join(dir, 'key.asc'), generated.publicKey);
    const data = Buffer.from('a database, say\n');
    await writeFile(join(dir, 'data'), data);
    await writeFile(join(dir, 'data.sig'), signDetached(key, data));
    await run('gpg', ['--homedir', home, '--batch', '--import', join(dir, 'key.asc')]);
    const ok = await run('gpg', ['--homedir', home, '--batch', '--status-fd', '1', '--verify', join(dir, 'data.sig'), join(dir, 'data')]);
    assert.match(ok.stdout.toString(), /\[GNUPG:\] GOODSIG [0-9A-F]{16} alice \(Arch Package signature only\) <alice@noreply\.example\.org>/);
    assert.match(ok.stdout.toString(), new RegExp(`VALIDSIG ${generated.fingerprint}`));
    await writeFile(join(dir, 'data'), 'another text\n');
    const bad = await run('gpg', ['--homedir', home, '--batch', '--verify', join(dir, 'data.sig'), join(dir, 'data')], { allowFail: true });
    assert.notEqual(bad.code, 0);
    await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { allowFail: true });
  });
});
