import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { clearsign, signArmoredDetached } from '../../src/signing/clearsign.js';
import { generateOpenPgpKey, unlockOpenPgpKey, type GeneratedKey, type SigningKey } from '../../src/signing/openpgp.js';
import { makeTempDir, requireTool, run } from '../helpers/tools.js';

const CREATED = Date.UTC(2026, 10, 2, 14, 31, 38);
const RELEASE = [
  'Origin: Forgejo: Beyond coding. We Forge.',
  'Suite: bookworm',
  'Date: Mon, 02 Nov 2026 14:31:38 UTC',
  '-dash: first character is a dash',
  'Trailing: spaces   ',
  'MD5Sum:',
  ' 0123456789abcdef0123456789abcdef      123 main/binary-amd64/Packages',
  '',
].join('\n');

describe('OpenPGP clearsigned InRelease and armored Release.gpg', function () {
  this.timeout(60_000);
  let generated: GeneratedKey;
  let key: SigningKey;
  let dir: string;
  let keyring: string;

  before(async () => {
    requireTool('gpgv', 'gpgv');
    requireTool('gpg', 'gnupg');
    generated = await generateOpenPgpKey({ name: 'alice', comment: 'Debian Registry', email: 'alice@noreply.example.org' }, 'pw', CREATED);
    key = await unlockOpenPgpKey(generated.privateKey, 'pw');
    dir = await makeTempDir('clearsign');
    await writeFile(join(dir, 'key.asc'), generated.publicKey);
    keyring = join(dir, 'key.gpg');
    await writeFile(keyring, (await run('gpg', ['--dearmor'], { input: generated.publicKey })).stdout);
  });

  it('writes an InRelease gpgv accepts, and gpg gives back the exact text', async () => {
    const signed = clearsign(key, RELEASE, CREATED);
    assert.match(signed, /^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: /);
    assert.match(signed, /\n- -dash: first/);
    await writeFile(join(dir, 'InRelease'), signed);
    const ok = await run('gpgv', ['--status-fd', '1', '--keyring', keyring, join(dir, 'InRelease')]);
    assert.match(ok.stdout.toString(), /\[GNUPG:\] GOODSIG/);
    const home = join(dir, 'home');
    await run('mkdir', ['-m', '700', home]);
    await run('gpg', ['--homedir', home, '--batch', '--import', join(dir, 'key.asc')]);
    const out = await run('gpg', ['--homedir', home, '--batch', '--decrypt', join(dir, 'InRelease')]);
    assert.equal(out.stdout.toString(), RELEASE.replace('spaces   \n', 'spaces\n'));
    await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { allowFail: true });
  });

  it('writes an InRelease openpgp verifies, and a changed text fails gpgv', async () => {
    const signed = clearsign(key, RELEASE, CREATED);
    const message = await openpgp.readCleartextMessage({ cleartextMessage: signed });
    const result = await openpgp.verify({ message, verificationKeys: await openpgp.readKey({ armoredKey: generated.publicKey }) });
    await result.signatures[0]!.verified;
    await writeFile(join(dir, 'InRelease.bad'), signed.replace('Suite: bookworm', 'Suite: trixie'));
    const bad = await run('gpgv', ['--keyring', keyring, join(dir, 'InRelease.bad')], { allowFail: true });
    assert.notEqual(bad.code, 0);
  });

  it('writes a detached armored Release.gpg over the exact bytes', async () => {
    const sig = signArmoredDetached(key, Buffer.from(RELEASE), CREATED);
    assert.match(sig, /^-----BEGIN PGP SIGNATURE-----\n\n[A-Za-z0-9+/=\n]+\n=[A-Za-z0-9+/]{4}\n-----END PGP SIGNATURE-----\n$/);
    await writeFile(join(dir, 'Release'), RELEASE);
    await writeFile(join(dir, 'Release.gpg'), sig);
    await run('gpgv', ['--keyring', keyring, join(dir, 'Release.gpg'), join(dir, 'Release')]);
    await writeFile(join(dir, 'Release'), `${RELEASE} `);
    const bad = await run('gpgv', ['--keyring', keyring, join(dir, 'Release.gpg'), join(dir, 'Release')], { allowFail: true });
    assert.notEqual(bad.code, 0);
    const parsed = await openpgp.readSignature({ armoredSignature: sig });
    assert.equal(parsed.packets[0]!.created?.getTime(), CREATED);
  });

  it('is deterministic for one key, text and time', () => {
    assert.equal(clearsign(key, RELEASE, CREATED), clearsign(key, RELEASE, CREATED));
    assert.notEqual(clearsign(key, RELEASE, CREATED), clearsign(key, RELEASE, CREATED + 1000));
  });
});
