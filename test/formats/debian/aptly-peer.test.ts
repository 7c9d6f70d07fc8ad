import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startAptlyPeer, type AptlyPeer } from '../../helpers/aptly-peer.js';
import { buildDeb, type DebFixture } from '../../helpers/deb-fixtures.js';
import { assertRebuilds } from '../../helpers/deb-trees.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { makeTempDir } from '../../helpers/tools.js';

const B = '/api/packages/alice/debian';

interface Answer {
  readonly status: number;
  readonly json: unknown;
}

/** The same call to both servers (debian.md §9.4). */
async function both(
  peer: AptlyPeer,
  s: TestStowage,
  method: string,
  path: string,
  body?: unknown | (() => FormData),
): Promise<{ ours: Answer; theirs: Answer }> {
  const send = async (base: string, headers: Record<string, string>) => {
    const isForm = typeof body === 'function';
    const init: RequestInit = {
      method,
      headers: { ...headers, ...(body !== undefined && !isForm ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : isForm ? (body as () => FormData)() : JSON.stringify(body),
    };
    const res = await fetch(`${base}/api${path}`, init);
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // aptly answers some errors in plain text (A4)
    }
    return { status: res.status, json };
  };
  return { ours: await send(`${s.url}${B}/aptly`, ADMIN), theirs: await send(peer.url, {}) };
}

/** Parsed JSON without the keys either side may lack or fill differently. */
function comparable(value: unknown, drop: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => comparable(v, drop));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => !drop.includes(k))
        .map(([k, v]) => [k, comparable(v, drop)])
        .sort(([a], [b]) => (a! < b! ? -1 : 1)),
    );
  }
  return value;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

/** Release without the lines a peer legitimately differs in (§9.4). */
function releaseCore(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^(Date|Description): /.test(l))
    .filter((l) => !/^ [0-9a-f]+ +\d+ .*(\.gz|\.bz2|\.xz|\/Release)$/.test(l))
    .join('\n');
}

describe('aptly as a reference peer (debian.md §9.4)', function () {
  this.timeout(240_000);
  let peer: AptlyPeer;
  let s: TestStowage;
  let fixtures: { name: string; deb: DebFixture }[];
  let v150: boolean;
  /** Keys aptly 1.5.0 does not have; HEAD has them and so do we. */
  let missingIn150: string[];

  before(async () => {
    peer = await startAptlyPeer();
    v150 = peer.version === '1.5.0';
    missingIn150 = v150 ? ['Codename', 'MultiDist', 'SignedBy', 'Version', 'NumPackages'] : [];
    s = await startStowage({ engine: 'sqlite' });
    const work = await makeTempDir('aptly-peer-fixtures');
    fixtures = [
      { name: 'hello.deb', deb: await buildDeb({ outDir: work, name: 'hello-world', version: '1:1.0.0-1', extra: ['Section: utils', 'Depends:  libc6 (>= 2.17) ,libfoo', 'Homepage: https://example.com', 'Multi-Arch: foreign'] }) },
      { name: 'libfoo1_1.2-3+b1_amd64.deb', deb: await buildDeb({ outDir: work, name: 'libfoo1', version: '1.2-3+b1', extra: ['Source: foo (1.2-3)', 'Section: libs', 'Priority: optional'], files: { 'usr/lib/libfoo.so.1': 'x', 'usr/share/doc/libfoo1/copyright': 'c' } }) },
      { name: 'hello-data_2.0_all.deb', deb: await buildDeb({ outDir: work, name: 'hello-data', version: '2.0', architecture: 'all', compression: 'gzip', files: { 'usr/share/hello/words': 'w', 'usr/bin/hello-world': 'dup path' } }) },
      { name: 'hello-udeb_1.0_amd64.udeb', deb: await buildDeb({ outDir: work, name: 'hello-udeb', version: '1.0', compression: 'xz', fileName: 'hello-udeb_1.0_amd64.udeb' }) },
      { name: 'tool_0.1_i386.deb', deb: await buildDeb({ outDir: work, name: 'tool', version: '0.1', architecture: 'i386', compression: 'zstd', extra: ['Essential: yes'] }) },
    ];
  });
  after(async () => {
    await peer?.stop();
    await s?.stop();
  });

  const same = async (method: string, path: string, body?: unknown, drop: readonly string[] = []) => {
    const { ours, theirs } = await both(peer, s, method, path, body);
    assert.equal(ours.status, theirs.status, `${method} ${path}: ${JSON.stringify(ours.json)} vs ${JSON.stringify(theirs.json)}`);
    if (ours.status < 300) assert.deepEqual(comparable(ours.json, [...drop, ...missingIn150]), comparable(theirs.json, [...drop, ...missingIn150]), `${method} ${path}`);
    return ours;
  };

  it('creates a repo, takes uploads and adds them: the same statuses and JSON', async () => {
    await same('POST', '/repos', { Name: 'peer', Comment: 'from the peer test', DefaultDistribution: 'bookworm', DefaultComponent: 'main' });
    const form = () => {
      const f = new FormData();
      for (const x of fixtures) f.append('file', new Blob([new Uint8Array(x.deb.bytes)]), x.name);
      return f;
    };
    await same('POST', '/files/up', form);
    await same('GET', '/files');
    await same('GET', '/files/up');
    await same('POST', '/repos/peer/file/up');
    await same('GET', '/repos/peer');
    await same('GET', '/repos', undefined, ['NumPackages']);
  });

  it('lists identical package keys and details', async () => {
    const { ours, theirs } = await both(peer, s, 'GET', '/repos/peer/packages');
    assert.deepEqual(ours.json, [...(theirs.json as string[])].sort());
    const details = await both(peer, s, 'GET', '/repos/peer/packages?format=details');
    const byKey = (list: unknown) => [...(list as { Key: string }[])].sort((a, b) => (a.Key < b.Key ? -1 : 1));
    assert.deepEqual(comparable(byKey(details.ours.json), []), comparable(byKey(details.theirs.json), []));
    for (const q of ['hello-world', 'Name (% hello*)', '$Architecture (i386)', '$Source (foo)', 'Section (utils) | Priority', '!$PackageType (udeb)']) {
      const r = await both(peer, s, 'GET', `/repos/peer/packages?q=${encodeURIComponent(q)}`);
      assert.deepEqual(r.ours.json, [...(r.theirs.json as string[])].sort(), q);
    }
    await same('GET', `/packages/${encodeURIComponent((ours.json as string[])[0]!)}`);
  });

  it('snapshots and publishes (root and prefix): the same JSON, Packages and Contents bytes', async () => {
    await same('POST', '/repos/peer/snapshots', { Name: 'snap' }, ['CreatedAt']);
    await same('GET', '/snapshots', undefined, ['CreatedAt', 'NumPackages']);
    await same('POST', '/publish', { SourceKind: 'snapshot', Sources: [{ Name: 'snap' }], Signing: { Skip: true } });
    await same('POST', '/publish/ppa', {
      SourceKind: 'local',
      Sources: [{ Name: 'peer', Component: 'contrib' }],
      Distribution: 'stable',
      Architectures: ['amd64', 'i386'],
      Origin: 'Peer',
      Label: 'Peer label',
      Signing: { Skip: true },
    });
    await same('GET', '/publish');
    await compareTrees('.', 'bookworm');
    await compareTrees('ppa', 'stable');
  });

  async function compareTrees(prefix: string, distribution: string): Promise<void> {
    const theirRoot = join(peer.rootDir, 'public', prefix === '.' ? '' : prefix);
    const oursBase = `${B}${prefix === '.' ? '' : `/${prefix}`}`;
    const theirDists = join(theirRoot, 'dists', distribution);
    const theirFiles = (await filesUnder(theirDists)).filter((f) => !f.includes('by-hash'));
    for (const f of theirFiles) {
      const mine = await s.fetch(`${oursBase}/dists/${distribution}/${f}`);
      const ok = mine.status === 200 || (f.endsWith('.bz2') && mine.status === 404); // A10
      assert.ok(ok, `${f}: ${mine.status}`);
      const name = f.split('/').pop()!;
      if (name === 'Packages') assert.deepEqual(Buffer.from(await mine.arrayBuffer()), await readFile(join(theirDists, f)), f);
      if (/^Contents-.*\.gz$/.test(name)) {
        const plain = await s.fetch(`${oursBase}/dists/${distribution}/${f.slice(0, -3)}`);
        assert.equal(await plain.text(), gunzipSync(await readFile(join(theirDists, f))).toString(), f);
      }
    }
    const release = await (await s.fetch(`${oursBase}/dists/${distribution}/Release`)).text();
    assert.equal(releaseCore(release), releaseCore(await readFile(join(theirDists, 'Release'), 'utf8')));
    // Pool paths: every file aptly linked, we serve with the same bytes.
    for (const f of await filesUnder(join(theirRoot, 'pool'))) {
      const mine = await s.fetch(`${oursBase}/pool/${f}`);
      assert.equal(mine.status, 200, f);
      assert.deepEqual(Buffer.from(await mine.arrayBuffer()), await readFile(join(theirRoot, 'pool', f)), f);
    }
    await assertRebuilds(s, prefix, distribution);
  }

  it('updates a publish after a repo change, and drops one: the same results', async () => {
    const extra = await buildDeb({ name: 'later', version: '0.9', architecture: 'all' });
    const form = () => {
      const f = new FormData();
      f.append('file', new Blob([new Uint8Array(extra.bytes)]), 'later_0.9_all.deb');
      return f;
    };
    await same('POST', '/files/late', form);
    await same('POST', '/repos/peer/file/late');
    await same('PUT', '/publish/ppa/stable', { Signing: { Skip: true } });
    await compareTrees('ppa', 'stable');
    await same('DELETE', '/publish/ppa/stable');
    await same('GET', '/publish');
  });

  it('answers client mistakes with the same statuses (or the documented deviations)', async () => {
    await same('GET', '/repos/nope');
    await same('GET', '/snapshots/nope');
    await same('DELETE', '/repos/nope');
    await same('POST', '/repos/nope/packages', { PackageRefs: [] });
    const skip = { Signing: { Skip: true } };
    await same('POST', '/publish/x', { SourceKind: 'local', Sources: [], ...skip });
    await same('POST', '/publish/x', { SourceKind: 'local', Sources: [{ Name: 'nope' }], ...skip });
    await same('POST', '/publish/x', { SourceKind: 'mirror', Sources: [{ Name: 'nope' }], ...skip });
    await same('POST', '/publish', { SourceKind: 'snapshot', Sources: [{ Name: 'snap' }], Signing: { Skip: true } }); // taken: 400
    await same('DELETE', '/snapshots/snap'); // published: 409
    const dup = await both(peer, s, 'POST', '/repos', { Name: 'peer' });
    assert.deepEqual([dup.ours.status, dup.theirs.status], [409, v150 ? 400 : 409]);
    const drop = await both(peer, s, 'DELETE', '/publish/x/nope');
    assert.deepEqual([drop.ours.status, drop.theirs.status], [404, v150 ? 500 : 404]);
    const show = await both(peer, s, 'GET', '/publish/:./bookworm');
    assert.equal(show.ours.status, 200);
    if (v150) assert.equal(show.theirs.status, 404); // 1.5.0 has no publish show
  });
});
