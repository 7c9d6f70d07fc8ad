import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  BAD_COMPRESSION,
  BAD_FORMAT_VERSION,
  BAD_HEADER,
  NO_CONTROL,
  NOT_AR,
  TRUNCATED,
  readDeb,
} from '../../../src/formats/debian/deb.js';
import { isHttpError } from '../../../src/errors.js';
import { arArchive, buildDeb, compressTar, forgejoArchive, tarOf, type DebCompression } from '../../helpers/deb-fixtures.js';
import { makeTempDir, run } from '../../helpers/tools.js';

/** Feeds the bytes in small, uneven chunks, as a socket would. */
function chunked(bytes: Buffer, size = 777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

async function rejectsWith(bytes: Buffer, message: string): Promise<void> {
  await assert.rejects(readDeb(chunked(bytes)), (err: unknown) => {
    assert.ok(isHttpError(err), String(err));
    assert.deepEqual([err.status, err.message], [400, message]);
    return true;
  });
}

const CONTROL = 'Package: tiny\nVersion: 1.0\nArchitecture: all\nDescription: tiny\n';

describe('debian readDeb (debian.md §3.1)', function () {
  this.timeout(60_000);
  let work: string;
  before(async () => {
    work = await makeTempDir('deb-read');
  });

  for (const compression of ['xz', 'gzip', 'zstd', 'none'] as DebCompression[]) {
    it(`reads a dpkg-deb -Z${compression} package: fields as dpkg-deb -f, contents as dpkg-deb -c`, async () => {
      const deb = await buildDeb({
        outDir: work,
        name: `z-${compression}`,
        version: '1:2.0-1',
        compression,
        extra: ['Depends:  libc6 (>= 2.17) ,libfoo', 'Installed-Size: 12'],
        files: { 'usr/bin/z': 'z\n', 'usr/share/doc/z/copyright': 'c\n', 'etc/empty/': '' },
      });
      const info = await readDeb(chunked(deb.bytes));
      assert.equal(info.control.name, `z-${compression}`);
      assert.equal(info.control.version, '1:2.0-1');
      for (const field of ['Package', 'Version', 'Architecture', 'Maintainer', 'Installed-Size']) {
        const theirs = (await run('dpkg-deb', ['-f', deb.path, field])).stdout.toString().trim();
        assert.equal(info.control.fields.get(field), theirs, field);
      }
      assert.equal(info.control.fields.get('Depends'), 'libc6 (>= 2.17), libfoo');
      const listing = (await run('dpkg-deb', ['-c', deb.path])).stdout.toString();
      const theirs = listing
        .split('\n')
        .filter((l) => l && !l.startsWith('d'))
        .map((l) => l.slice(l.indexOf('./') + 2))
        .sort();
      assert.deepEqual(info.contents, theirs);
      assert.deepEqual(info.contents, ['etc/empty', 'usr/bin/z', 'usr/share/doc/z/copyright'].filter((p) => p !== 'etc/empty'));
    });
  }

  it('reads a package read one byte at a time', async () => {
    const deb = await buildDeb({ outDir: work, name: 'bytewise', compression: 'gzip' });
    const info = await readDeb(chunked(deb.bytes, 1));
    assert.equal(info.control.name, 'bytewise');
  });

  it('accepts Forgejo’s archive: no debian-binary, only control.tar.gz, control cut mid-line', async () => {
    const info = await readDeb(chunked(await forgejoArchive('gitea', '1.0.3', 'all')));
    assert.deepEqual([info.control.name, info.control.version, info.control.architecture], ['gitea', '1.0.3', 'all']);
    assert.deepEqual(info.contents, []);
  });

  it('reads an uncompressed control.tar and ./control', async () => {
    const control = await tarOf([{ name: './control', body: CONTROL }]);
    const info = await readDeb(chunked(arArchive([{ name: 'debian-binary', data: '2.0\n' }, { name: 'control.tar/', data: control }])));
    assert.equal(info.control.name, 'tiny');
  });

  it('gives an empty Contents list for a bzip2 or unreadable data member, never an error', async () => {
    const control = await compressTar(await tarOf([{ name: 'control', body: CONTROL }]), 'gz');
    const data = await compressTar(await tarOf([{ name: './usr/x', body: 'x' }]), 'bz2');
    for (const member of [
      { name: 'data.tar.bz2', data },
      { name: 'data.tar.xz', data: Buffer.from('not xz at all') },
    ]) {
      const info = await readDeb(chunked(arArchive([{ name: 'debian-binary', data: '2.0\n' }, { name: 'control.tar.gz', data: control }, member])));
      assert.deepEqual(info.contents, [], member.name);
    }
  });

  describe('bad containers answer 400 with the spec’s message', () => {
    it('not an ar archive; empty body', async () => {
      await rejectsWith(Buffer.from('this is not a package, it is text\n'), NOT_AR);
      await rejectsWith(Buffer.alloc(0), NO_CONTROL);
    });

    it('a bad ar header', async () => {
      const ar = arArchive([{ name: 'debian-binary', data: '2.0\n' }]);
      ar.write('x', 8 + 58); // the header's closing backquote
      await rejectsWith(ar, BAD_HEADER);
      const size = arArchive([{ name: 'debian-binary', data: '2.0\n' }]);
      size.write('1a', 8 + 48);
      await rejectsWith(size, BAD_HEADER);
    });

    it('an unsupported format version', async () => {
      await rejectsWith(arArchive([{ name: 'debian-binary', data: '3.0\n' }]), BAD_FORMAT_VERSION);
    });

    it('no control member, or a control.tar.bz2', async () => {
      const tar = await tarOf([{ name: 'control', body: CONTROL }]);
      await rejectsWith(arArchive([{ name: 'debian-binary', data: '2.0\n' }, { name: 'data.tar', data: tar }]), NO_CONTROL);
      await rejectsWith(
        arArchive([{ name: 'debian-binary', data: '2.0\n' }, { name: 'control.tar.bz2', data: await compressTar(tar, 'bz2') }]),
        BAD_COMPRESSION,
      );
    });

    it('a control.tar without a control file', async () => {
      const tar = await compressTar(await tarOf([{ name: './md5sums', body: 'x' }]), 'xz');
      await rejectsWith(arArchive([{ name: 'control.tar.xz', data: tar }]), NO_CONTROL);
    });

    it('a truncated archive, cut anywhere', async () => {
      const deb = await buildDeb({ outDir: work, name: 'cut', compression: 'gzip', files: { 'usr/big': 'x'.repeat(5000) } });
      for (const at of [4, 30, 100, 200, deb.bytes.length - 1]) await rejectsWith(deb.bytes.subarray(0, at), TRUNCATED);
    });

    it('invalid fields, with the validation message', async () => {
      const cases: [string, string][] = [
        ['Package: Hello_World\nVersion: 1.0\nArchitecture: amd64\n', 'package name is invalid'],
        ['Package: hello\nVersion: 1_0\nArchitecture: amd64\n', 'package version is invalid'],
        ['Package: hello\nVersion: 1.0\n', 'package architecture is invalid'],
        ['Package: hello\nVersion: 1.0\nArchitecture: amd64\nVersion: 2\n', 'duplicate field Version'],
      ];
      for (const [control, message] of cases) {
        const deb = await buildDeb({ outDir: work, control: `${control}Maintainer: x <x@example.com>\nDescription: x\n`, nocheck: true, fileName: 'bad.deb' });
        await rejectsWith(deb.bytes, message);
      }
    });

    it('a control file that is not UTF-8', async () => {
      const tar = await tarOf([{ name: 'control', body: Buffer.concat([Buffer.from('Package: a1\nDescription: '), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]) }]);
      await rejectsWith(arArchive([{ name: 'control.tar', data: tar }]), 'control file is not valid UTF-8');
    });
  });
});
