import assert from 'node:assert/strict';
import { displayName, filesHash, packageKey, parsePackageKey, shortKey } from '../../../src/formats/debian/keys.js';
import { run } from '../../helpers/tools.js';

const FACTS = {
  name: 'hello-world',
  version: '1:1.0.0-1',
  architecture: 'amd64',
  fileName: 'hello.deb',
  size: 676,
  md5: 'fa71e327c3bb1ed6efa9cd1e8b4ab9c5',
  sha1: '8750eadab4e0d0c1f3a3b8c1f2e4d5c6a7b8c9d0',
  sha256: '7ec44f64f3b1f1f3b8e4c6d2f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1',
};

describe('debian package keys (debian.md §3.6)', () => {
  it('hashes like an independent FNV-1a 64 over name, int64 size and hex digests', async () => {
    const script = [
      'import struct,sys',
      'h=0xcbf29ce484222325',
      `data=b"${FACTS.fileName}"+struct.pack(">q",${FACTS.size})+b"${FACTS.md5}${FACTS.sha1}${FACTS.sha256}"`,
      'for b in data:',
      '  h=((h^b)*0x100000001b3)&0xffffffffffffffff',
      'sys.stdout.write("%08x"%h)',
    ].join('\n');
    const theirs = (await run('python3', ['-c', script])).stdout.toString();
    assert.equal(filesHash(FACTS), theirs);
  });

  it('formats key, short key and display name as aptly does', () => {
    const hash = filesHash(FACTS);
    assert.equal(packageKey(FACTS), `Pamd64 hello-world 1:1.0.0-1 ${hash}`);
    assert.equal(shortKey(FACTS), 'Pamd64 hello-world 1:1.0.0-1');
    assert.equal(displayName(FACTS), 'hello-world_1:1.0.0-1_amd64');
    assert.deepEqual(parsePackageKey(packageKey(FACTS)), { architecture: 'amd64', name: 'hello-world', version: '1:1.0.0-1', hash });
    assert.equal(parsePackageKey('Pamd64 hello-world'), undefined);
  });

  it('pads the hash to at least 8 digits and never cuts it', () => {
    for (let size = 0; size < 2000; size++) {
      const h = filesHash({ ...FACTS, size });
      assert.match(h, /^[0-9a-f]{8,16}$/);
    }
  });

  it('gives the same bytes under another basename another key', () => {
    assert.notEqual(packageKey(FACTS), packageKey({ ...FACTS, fileName: 'other.deb' }));
  });
});
