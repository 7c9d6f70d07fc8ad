import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aptProblems, createAptSandbox, type AptSandbox } from '../../helpers/apt-client.js';
import { buildDeb, type DebFixture } from '../../helpers/deb-fixtures.js';
import { assertRebuilds } from '../../helpers/deb-trees.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { makeTempDir, requireTool, run } from '../../helpers/tools.js';
import { ENGINES } from '../../setup.js';

const B = '/api/packages/alice/debian';

/** The request log lines for paths matching `pattern`. */
function requests(s: TestStowage, pattern: RegExp): { method: string; status: number; path: string }[] {
  return s.logs
    .map((l) => JSON.parse(l) as { msg?: string; method: string; status: number; path: string })
    .filter((l) => l.msg === 'request' && pattern.test(decodeURIComponent(l.path)));
}

for (const engine of ENGINES) {
  describe(`apt-get against a registry distribution (${engine})`, function () {
    this.timeout(240_000);
    let s: TestStowage;
    let work: string;
    let apt: AptSandbox;
    let key: string;
    const fixtures: DebFixture[] = [];

    before(async () => {
      requireTool('apt-get', 'apt');
      s = await startStowage({ engine });
      work = await makeTempDir('apt-e2e');
      fixtures.push(
        await buildDeb({ outDir: work, name: 'hello-world', version: '1:1.0.0-1', compression: 'xz', extra: ['Depends: libc6 (>= 2.17), libfoo'] }),
        await buildDeb({ outDir: work, name: 'hello-gzip', version: '1.0-1', compression: 'gzip' }),
        await buildDeb({ outDir: work, name: 'hello-zstd', version: '1.0-1', compression: 'zstd' }),
        await buildDeb({ outDir: work, name: 'hello-none', version: '1.0-1', compression: 'none' }),
        await buildDeb({ outDir: work, name: 'hello-data', version: '2.0', architecture: 'all' }),
        await buildDeb({ outDir: work, name: 'libfoo1', version: '1.2-3+b1', extra: ['Source: foo (1.2-3)'] }),
      );
      for (const f of fixtures) {
        const res = await s.fetch(`${B}/pool/bookworm/main/upload`, { method: 'PUT', body: new Uint8Array(f.bytes), headers: ADMIN });
        assert.equal(res.status, 201, f.name);
      }
      key = await (await s.fetch(`${B}/repository.key`)).text();
      apt = await createAptSandbox();
      await apt.setSources([{ url: `${s.url}${B}`, suite: 'bookworm', components: ['main'], key }]);
    });
    after(async () => {
      await apt?.remove();
      await s?.stop();
    });

    it('updates with signed-by and --error-on=any, without a warning', async () => {
      const res = await apt.update();
      assert.deepEqual(aptProblems(res.stderr), []);
      assert.equal(requests(s, /\/dists\/bookworm\/InRelease$/).at(-1)?.status, 200);
      // apt 2.6 takes the strongest hash of a by-hash tree.
      assert.ok(requests(s, /\/main\/binary-amd64\/by-hash\/SHA512\/[0-9a-f]{128}$/).some((r) => r.status === 200));
      assert.ok(requests(s, /\/main\/binary-all\/by-hash\/SHA512\//).some((r) => r.status === 200));
    });

    it('downloads every package, each compression, the epoch and `all`, byte for byte', async () => {
      const specs = fixtures.map((f) => `${f.name}=${f.version}`);
      const dir = await apt.download(specs);
      for (const f of fixtures) {
        const name = `${f.name}_${f.version.replace(':', '%3a')}_${f.architecture}.deb`;
        assert.deepEqual(await readFile(join(dir, name)), f.bytes, name);
      }
      assert.equal(requests(s, /\/pool\/bookworm\/main\/hello-world_1:1\.0\.0-1_amd64\.deb$/).at(-1)?.status, 200);
    });

    it('shows the metadata with apt-cache', async () => {
      const shown = (await apt.aptCache(['show', 'hello-world'])).stdout.toString();
      assert.match(shown, /^Version: 1:1\.0\.0-1$/m);
      assert.match(shown, /^Depends: libc6 \(>= 2\.17\), libfoo$/m);
      assert.match(shown, /^Filename: pool\/bookworm\/main\/hello-world_1:1\.0\.0-1_amd64\.deb$/m);
      assert.match((await apt.aptCache(['show', 'libfoo1'])).stdout.toString(), /^Source: foo \(1\.2-3\)$/m);
    });

    it('gets 304 for an unchanged InRelease, and 200 for a change in the same second', async () => {
      await apt.update();
      assert.equal(requests(s, /\/dists\/bookworm\/InRelease$/).at(-1)?.status, 304);
      const extra = await buildDeb({ outDir: work, name: 'late-arrival', version: '1.0' });
      assert.equal((await s.fetch(`${B}/pool/bookworm/main/upload`, { method: 'PUT', body: new Uint8Array(extra.bytes), headers: ADMIN })).status, 201);
      const res = await apt.update();
      assert.deepEqual(aptProblems(res.stderr), []);
      assert.equal(requests(s, /\/dists\/bookworm\/InRelease$/).at(-1)?.status, 200);
      assert.match((await apt.aptCache(['show', 'late-arrival'])).stdout.toString(), /^Package: late-arrival$/m);
      await assertRebuilds(s, '.', 'bookworm');
    });

    it('fails to update with the wrong signed-by key', async () => {
      const other = await createAptSandbox();
      try {
        const wrong = (await run('gpg', ['--batch', '--export', '--armor'], { env: { GNUPGHOME: await gpgHomeWithKey(work) } })).stdout.toString();
        await other.setSources([{ url: `${s.url}${B}`, suite: 'bookworm', components: ['main'], key: wrong }]);
        const res = await other.update({ allowFail: true });
        assert.notEqual(res.code, 0);
        assert.match(res.stderr, /NO_PUBKEY|not signed|signature/i);
      } finally {
        await run('gpgconf', ['--homedir', join(work, 'wrong-key-home'), '--kill', 'gpg-agent'], { allowFail: true });
        await other.remove();
      }
    });

    it('signs InRelease and Release.gpg so that gpgv accepts them', async () => {
      requireTool('gpgv', 'gpgv');
      const dir = await makeTempDir('gpgv');
      const keyring = join(dir, 'k.gpg');
      await writeFile(keyring, (await run('gpg', ['--dearmor'], { input: key })).stdout);
      for (const f of ['InRelease', 'Release', 'Release.gpg']) {
        await writeFile(join(dir, f), Buffer.from(await (await s.fetch(`${B}/dists/bookworm/${f}`)).arrayBuffer()));
      }
      await run('gpgv', ['--keyring', keyring, join(dir, 'InRelease')]);
      await run('gpgv', ['--keyring', keyring, join(dir, 'Release.gpg'), join(dir, 'Release')]);
    });
  });
}

/** A GnuPG home with a fresh unrelated key (the "wrong key" of debian.md §9.2). */
async function gpgHomeWithKey(work: string): Promise<string> {
  const home = join(work, `wrong-key-home`);
  await run('mkdir', ['-p', '-m', '700', home]);
  const listed = await run('gpg', ['--homedir', home, '--batch', '--list-keys'], { allowFail: true });
  if (!listed.stdout.toString().includes('pub')) {
    await run('gpg', ['--homedir', home, '--batch', '--passphrase', '', '--quick-generate-key', 'Wrong Key <wrong@example.org>', 'rsa2048', 'sign', 'never']);
  }
  return home;
}

describe('apt-get against aptly publishes, at the root and under a prefix', function () {
  this.timeout(240_000);
  let s: TestStowage;
  let apt: AptSandbox;
  let work: string;
  let hello: DebFixture;
  let data: DebFixture;
  const A = `${B}/aptly/api`;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await s.fetch(`${A}${path}`, { method, headers: { ...ADMIN, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as unknown };
  };

  before(async () => {
    s = await startStowage({ engine: 'sqlite' });
    work = await makeTempDir('apt-aptly');
    hello = await buildDeb({ outDir: work, name: 'hello-world', version: '1:1.0.0-1', extra: ['Section: utils'] });
    data = await buildDeb({ outDir: work, name: 'hello-data', version: '2.0', architecture: 'all' });
    assert.equal((await api('POST', '/repos', { Name: 'r', DefaultDistribution: 'bookworm', DefaultComponent: 'main' })).status, 201);
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(hello.bytes)]), 'hello.deb');
    form.append('file', new Blob([new Uint8Array(data.bytes)]), 'hello-data_2.0_all.deb');
    assert.equal((await s.fetch(`${A}/files/up`, { method: 'POST', body: form, headers: ADMIN })).status, 200);
    assert.equal((await api('POST', '/repos/r/file/up')).status, 200);
    assert.equal((await api('POST', '/repos/r/snapshots', { Name: 'snap' })).status, 201);
    // aptly's documented calls: a signed local publish at the root, a snapshot under a prefix.
    assert.equal((await api('POST', '/publish/:.', { SourceKind: 'local', Sources: [{ Name: 'r' }], AcquireByHash: true })).status, 201);
    const prefixed = await api('POST', '/publish/ppa_stable', { SourceKind: 'snapshot', Sources: [{ Component: 'contrib', Name: 'snap' }], Distribution: 'stable' });
    assert.equal(prefixed.status, 201);
    apt = await createAptSandbox();
  });
  after(async () => {
    await apt?.remove();
    await s?.stop();
  });

  it('updates, shows and downloads from both, checking signatures with signed-by', async () => {
    const key = await (await s.fetch(`${B}/repository.key`)).text();
    await apt.setSources([
      { url: `${s.url}${B}`, suite: 'bookworm', components: ['main'], key },
      { url: `${s.url}${B}/ppa/stable`, suite: 'stable', components: ['contrib'], key },
    ]);
    const res = await apt.update();
    assert.deepEqual(aptProblems(res.stderr), []);
    assert.ok(requests(s, /\/dists\/bookworm\/main\/binary-amd64\/by-hash\/SHA512\//).some((r) => r.status === 200));
    assert.ok(requests(s, /\/ppa\/stable\/dists\/stable\/InRelease$/).some((r) => r.status === 200));
    const shown = (await apt.aptCache(['show', 'hello-world'])).stdout.toString();
    assert.match(shown, /^Filename: pool\/main\/h\/hello-world\/hello\.deb$/m);
    const madison = (await apt.aptCache(['madison', 'hello-world'])).stdout.toString();
    assert.match(madison, /\/debian bookworm\/main amd64 Packages$/m);
    assert.match(madison, /\/debian\/ppa\/stable stable\/contrib amd64 Packages$/m);
    const dir = await apt.download(['hello-world=1:1.0.0-1', 'hello-data']);
    assert.deepEqual(await readFile(join(dir, 'hello-world_1%3a1.0.0-1_amd64.deb')), hello.bytes);
    assert.deepEqual(await readFile(join(dir, 'hello-data_2.0_all.deb')), data.bytes);
  });

  it('drops InRelease and Release.gpg when a publish goes unsigned (A9)', async () => {
    assert.equal((await api('PUT', '/publish/ppa_stable/stable', { Signing: { Skip: true } })).status, 200);
    assert.equal((await s.fetch(`${B}/ppa/stable/dists/stable/InRelease`)).status, 404);
    assert.equal((await s.fetch(`${B}/ppa/stable/dists/stable/Release.gpg`)).status, 404);
    // apt refuses a source that was signed and no longer is: a fresh apt state, trusted=yes.
    const fresh = await createAptSandbox();
    try {
      await fresh.setSources([{ url: `${s.url}${B}/ppa/stable`, suite: 'stable', components: ['contrib'], trusted: true }]);
      const res = await fresh.update();
      assert.deepEqual(aptProblems(res.stderr), []);
      const stale = await apt.update({ allowFail: true });
      assert.match(stale.stderr, /is no longer signed/);
    } finally {
      await fresh.remove();
    }
    await assertRebuilds(s, 'ppa/stable', 'stable');
    await assertRebuilds(s, '.', 'bookworm');
  });
});
