import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TRAILER, buildMember, planSplice } from '../../../src/formats/pacman/database.js';
import type { ManifestEntry } from '../../../src/formats/pacman/database.js';
import { formatDesc, formatFiles } from '../../../src/formats/pacman/desc.js';
import { readPackage } from '../../../src/formats/pacman/package.js';
import type { PacmanPackage } from '../../../src/formats/pacman/package.js';
import type { Surface } from '../../../src/formats/pacman/pkginfo.js';
import { buildPacmanPackage } from '../../helpers/pacman-fixtures.js';
import type { PacmanFixture, PacmanFixtureOptions } from '../../helpers/pacman-fixtures.js';
import { makeTempDir, requireTool, run } from '../../helpers/tools.js';

interface Case {
  readonly title: string;
  readonly surface: Surface;
  readonly options: PacmanFixtureOptions;
  /** A detached signature to put beside the package, as Forgejo serves it. */
  readonly signed?: boolean;
}

// pacman.md §10.4 item 5.
const CASES: readonly Case[] = [
  {
    title: 'every field, an epoch, a multi-space pkgdesc, a nested dotfile, zstd',
    surface: 'arch',
    options: {
      name: 'hello',
      base: 'hello-base',
      version: '1:2.1.0-3',
      description: 'A  friendly \t  greeter',
      url: 'https://example.com/hello',
      packager: 'Test   Packager <test@example.com>',
      size: '9007199254740993',
      licenses: ['MIT', 'GPL-3.0-or-later'],
      groups: ['greeters', 'demo'],
      depends: ['glibc>=2.36', 'bash'],
      optdepends: ['figlet: fancy   output', 'cowsay'],
      makedepends: ['gcc', 'make'],
      checkdepends: ['bats'],
      conflicts: ['hallo'],
      provides: ['greeter=2.1'],
      replaces: ['hi'],
      backup: ['etc/hello.conf'],
      extra: ['xdata = pkgtype=pkg'],
      files: {
        'etc/': '',
        'etc/hello.conf': 'greeting=hi\n',
        'usr/': '',
        'usr/bin/': '',
        'usr/bin/hello': '#!/bin/sh\necho hi\n',
        'usr/share/hello/.hidden': 'x',
        'usr/share/hello/Zeta': 'z',
        'usr/share/hello/alpha': 'a',
        'usr/share/hello/é': 'e',
        '.dotdir/': '',
        '.dotdir/skipped': 's',
      },
    },
    signed: true,
  },
  {
    title: 'an empty payload, xz',
    surface: 'arch',
    options: { name: 'meta', version: '3-1', compression: 'xz', files: {}, arch: 'any' },
  },
  {
    title: 'few fields and size 0, gzip',
    surface: 'arch',
    options: {
      name: 'tiny',
      version: '0.1-1.1',
      compression: 'gz',
      description: null,
      packager: null,
      builddate: null,
      size: 0,
      files: { 'usr/': '', 'usr/lib/': '', 'usr/lib/tiny.so': 'ELF' },
    },
  },
  {
    title: 'no pkgbase and no .MTREE, plain tar (Vieter)',
    surface: 'vieter',
    options: { name: 'plain', base: null, version: '2.0-1', compression: 'none', mtree: false },
  },
];

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function extract(archive: string, member: string): Promise<string> {
  return (await run('bsdtar', ['-xOf', archive, member])).stdout.toString('utf8');
}

async function sortedListing(archive: string | Buffer): Promise<string[]> {
  const out =
    typeof archive === 'string'
      ? await run('bsdtar', ['-tf', archive])
      : await run('bsdtar', ['-tf', '-'], { input: archive });
  return out.stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .sort();
}

describe('pacman desc, files and archives against repo-add (pacman.md §10.4)', function () {
  this.timeout(120_000);
  let peer: string;
  const built: {
    readonly c: Case;
    readonly fixture: PacmanFixture;
    readonly pkg: PacmanPackage;
    readonly desc: string;
    readonly files: string;
  }[] = [];

  before(async () => {
    for (const [command, debian] of [
      ['repo-add', 'pacman-package-manager'],
      ['bsdtar', 'libarchive-tools'],
      ['zstd', 'zstd'],
      ['xz', 'xz-utils'],
      ['gzip', 'gzip'],
    ] as const) {
      requireTool(command, debian);
    }
    peer = await makeTempDir('repo-add-peer');
    for (const c of CASES) {
      const fixture = await buildPacmanPackage({ ...c.options, outDir: peer });
      const bytes = await readFile(fixture.path);
      let pgpsig: string | undefined;
      if (c.signed) {
        // repo-add only base64s the binary .sig; its content does not matter here.
        const signature = randomBytes(566);
        await writeFile(`${fixture.path}.sig`, signature);
        pgpsig = signature.toString('base64');
      }
      const pkg = await readPackage(createReadStream(fixture.path), c.surface);
      assert.equal(pkg.fileName, fixture.fileName);
      const desc = formatDesc({
        ...pkg.info,
        fileName: pkg.fileName,
        csize: bytes.length,
        md5: md5(bytes),
        sha256: sha256(bytes),
        pgpsig,
      });
      built.push({ c, fixture, pkg, desc, files: formatFiles(pkg.files) });
    }
    await run('repo-add', ['-q', join(peer, 'R.db.tar.gz'), ...built.map((b) => b.fixture.path)], {
      cwd: peer,
      env: { LC_ALL: 'C.UTF-8' }, // bsdtar escapes non-ASCII names as octal in the C locale
    });
  });

  after(async () => {
    if (peer) await rm(peer, { recursive: true, force: true });
  });

  for (const c of CASES) {
    describe(c.title, () => {
      const one = () => {
        const found = built.find((b) => b.c === c);
        assert.ok(found, 'built in before()');
        return found;
      };

      it('writes the desc repo-add writes, byte for byte', async () => {
        const { fixture, desc } = one();
        assert.equal(desc, await extract(join(peer, 'R.db.tar.gz'), `${fixture.dir}/desc`));
        assert.equal(desc, await extract(join(peer, 'R.files.tar.gz'), `${fixture.dir}/desc`));
      });

      it('writes the files entry repo-add writes, byte for byte', async () => {
        const { fixture, files } = one();
        assert.equal(files, await extract(join(peer, 'R.files.tar.gz'), `${fixture.dir}/files`));
      });
    });
  }

  it('covers what the cases claim: collapsed spaces, 64-bit size, signature, dotfiles, empty list', () => {
    const [hello, meta] = built;
    assert.ok(hello && meta);
    assert.match(hello.desc, /%DESC%\nA friendly greeter\n\n/);
    assert.match(hello.desc, /%ISIZE%\n9007199254740993\n\n/);
    assert.match(hello.desc, /%PGPSIG%\n[A-Za-z0-9+/]+=*\n\n/);
    assert.match(hello.files, /\nusr\/share\/hello\/\.hidden\n/);
    assert.doesNotMatch(hello.files, /dotdir|PKGINFO|MTREE/);
    assert.equal(meta.files, '%FILES%\n');
  });

  it("builds archives whose sorted listings equal repo-add's", async () => {
    const mtimeS = 1_700_000_000;
    const entries: (ManifestEntry & { readonly db: Buffer; readonly files: Buffer })[] = [];
    let fileId = 1;
    for (const b of built) {
      const db = await buildMember({ dir: b.pkg.dir, desc: b.desc }, mtimeS);
      const files = await buildMember({ dir: b.pkg.dir, desc: b.desc, files: b.files }, mtimeS);
      entries.push({
        dir: b.pkg.dir,
        fileId: fileId++,
        dbLen: db.length,
        filesLen: files.length,
        db,
        files,
      });
    }
    const { manifest } = planSplice([], [], entries);
    const ours = {
      db: Buffer.concat([...manifest.map((e) => e.db), TRAILER]),
      files: Buffer.concat([...manifest.map((e) => e.files), TRAILER]),
    };
    assert.deepEqual(await sortedListing(ours.db), await sortedListing(join(peer, 'R.db.tar.gz')));
    assert.deepEqual(
      await sortedListing(ours.files),
      await sortedListing(join(peer, 'R.files.tar.gz')),
    );
    for (const b of built) {
      const ourDesc = await run('bsdtar', ['-xOf', '-', `${b.pkg.dir}/desc`], { input: ours.db });
      assert.equal(
        ourDesc.stdout.toString('utf8'),
        await extract(join(peer, 'R.db'), `${b.pkg.dir}/desc`),
      );
    }
  });
});
