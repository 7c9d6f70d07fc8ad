import assert from 'node:assert/strict';
import { buildDeb, type DebFixture } from '../../helpers/deb-fixtures.js';
import { assertRebuilds } from '../../helpers/deb-trees.js';
import { spawnStowage } from '../../helpers/processes.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { makeTempDir } from '../../helpers/tools.js';
import { ENGINES } from '../../setup.js';

const B = '/api/packages/alice/debian';
const A = `${B}/aptly/api`;

let work: string;

interface Answer {
  readonly status: number;
  readonly json: unknown;
  readonly type: string | null;
}

async function call(s: TestStowage | string, method: string, path: string, body?: unknown, headers: Record<string, string> = ADMIN): Promise<Answer> {
  const init: RequestInit = {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  };
  const res = typeof s === 'string' ? await fetch(`${s}${A}${path}`, init) : await s.fetch(`${A}${path}`, init);
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // plain text (auth failures)
  }
  return { status: res.status, json, type: res.headers.get('content-type') };
}

async function uploadFiles(s: TestStowage, dir: string, files: readonly { name: string; bytes: Buffer }[]): Promise<Answer> {
  const form = new FormData();
  for (const f of files) form.append('file', new Blob([new Uint8Array(f.bytes)]), f.name);
  const res = await s.fetch(`${A}/files/${dir}`, { method: 'POST', body: form, headers: ADMIN });
  return { status: res.status, json: (await res.json()) as unknown, type: res.headers.get('content-type') };
}

const errorOf = (a: Answer) => (a.json as { error?: string }).error;

for (const engine of ENGINES) {
  describe(`aptly API /api/packages/:owner/debian/aptly/api (${engine})`, function () {
    this.timeout(180_000);
    let s: TestStowage;
    let hello: DebFixture;
    let libfoo: DebFixture;
    let data: DebFixture;
    let udeb: DebFixture;
    let helloKey: string;

    before(async () => {
      work ??= await makeTempDir('aptly-routes');
      s = await startStowage({ engine });
      hello = await buildDeb({ outDir: work, name: 'hello-world', version: '1:1.0.0-1', extra: ['Section: utils', 'Provides: hello'] });
      libfoo = await buildDeb({ outDir: work, name: 'libfoo1', version: '1.2-3+b1', extra: ['Source: foo (1.2-3)', 'Section: libs'] });
      data = await buildDeb({ outDir: work, name: 'hello-data', version: '2.0', architecture: 'all' });
      udeb = await buildDeb({ outDir: work, name: 'hello-udeb', version: '1.0', fileName: 'hello-udeb_1.0_amd64.udeb' });
      // The owner exists (and its aptly lock row) from here on.
      assert.equal((await call(s, 'POST', '/repos', { Name: 'seed' })).status, 201);
    });
    after(() => s?.stop());

    describe('misc and conventions', () => {
      it('answers version, ready and healthy', async () => {
        assert.deepEqual((await call(s, 'GET', '/version')).json, { Version: '1.6.3' });
        assert.deepEqual((await call(s, 'GET', '/ready')).json, { Status: 'Aptly is ready' });
        assert.deepEqual((await call(s, 'GET', '/healthy')).json, { Status: 'Aptly is healthy' });
        assert.equal((await call(s, 'GET', '/version')).type, 'application/json; charset=utf-8');
      });

      it('renders auth failures as forge.md §4, before anything else', async () => {
        const anon = await call(s, 'POST', '/repos', { Name: 'x' }, {});
        assert.deepEqual([anon.status, anon.json], [401, 'reqPackageAccess\n']);
        assert.equal((await call(s, 'GET', '/tasks', undefined, {})).status, 401);
        assert.equal((await call(s, 'GET', '/repos', undefined, {})).status, 200); // public owner, read
      });

      it('answers 501 for what is not provided and 404 JSON for unknown routes', async () => {
        for (const [method, path] of [
          ['GET', '/mirrors'],
          ['POST', '/repos/seed/include/dir'],
          ['POST', '/repos/seed/copy/other/file'],
          ['GET', '/gpg/keys'],
          ['GET', '/graph.png'],
          ['POST', '/db/cleanup'],
          ['GET', '/s3'],
          ['GET', '/storage'],
          ['GET', '/snapshots/a/diff/b'],
          ['POST', '/snapshots/a/merge'],
        ] as const) {
          const res = await call(s, method, path);
          assert.deepEqual([res.status, res.json], [501, { error: 'not implemented' }], `${method} ${path}`);
        }
        assert.deepEqual([(await call(s, 'GET', '/nope')).status, errorOf(await call(s, 'GET', '/nope'))], [404, 'not found']);
      });

      it('answers 400 naming the field to bad JSON, missing or mistyped fields, and changes nothing', async () => {
        const before = await s.snapshot();
        for (const [body, message] of [
          ['{"Name": ', /^invalid JSON/],
          [{}, /^field Name is required$/],
          [{ Name: 42 }, /^field Name must be a string$/],
          [{ name: 'a/b' }, /^invalid name a\/b$/],
        ] as const) {
          const res = await call(s, 'POST', '/repos', body);
          assert.equal(res.status, 400);
          assert.match(errorOf(res)!, message);
        }
        assert.deepEqual(await s.snapshot(), before);
      });
    });

    describe('files', () => {
      it('stores every file part in order, lists dirs and files sorted', async () => {
        const res = await uploadFiles(s, 'up', [
          { name: 'hello.deb', bytes: hello.bytes },
          { name: 'libfoo1_1.2-3+b1_amd64.deb', bytes: libfoo.bytes },
          { name: 'hello-data_2.0_all.deb', bytes: data.bytes },
          { name: 'hello-udeb_1.0_amd64.udeb', bytes: udeb.bytes },
          { name: 'broken.deb', bytes: Buffer.from('not a deb at all') },
          { name: 'notes.txt', bytes: Buffer.from('hi') },
        ]);
        assert.deepEqual([res.status, res.json], [
          200,
          ['up/hello.deb', 'up/libfoo1_1.2-3+b1_amd64.deb', 'up/hello-data_2.0_all.deb', 'up/hello-udeb_1.0_amd64.udeb', 'up/broken.deb', 'up/notes.txt'],
        ]);
        const put = await s.fetch(`${A}/files/other/x.deb`, { method: 'PUT', body: new Uint8Array(hello.bytes), headers: ADMIN });
        assert.deepEqual([put.status, await put.json()], [200, ['other/x.deb']]);
        assert.deepEqual((await call(s, 'GET', '/files')).json, ['other', 'up']);
        assert.deepEqual((await call(s, 'GET', '/files/up')).json, ['broken.deb', 'hello-data_2.0_all.deb', 'hello-udeb_1.0_amd64.udeb', 'hello.deb', 'libfoo1_1.2-3+b1_amd64.deb', 'notes.txt']);
      });

      it('answers 404 to a missing dir, 400 to bad names, 200 {} to deletes of missing files', async () => {
        assert.deepEqual([(await call(s, 'GET', '/files/nope')).status, errorOf(await call(s, 'GET', '/files/nope'))], [404, 'upload directory nope not found']);
        assert.deepEqual([(await call(s, 'GET', '/files/%24')).status, errorOf(await call(s, 'GET', '/files/%24'))], [400, 'wrong dir']);
        assert.equal(errorOf(await call(s, 'PUT', '/files/up/%24')), 'wrong file');
        assert.equal((await call(s, 'DELETE', '/files')).status, 404);
        const before = await s.snapshot();
        assert.deepEqual((await call(s, 'DELETE', '/files/nope')).json, {});
        assert.deepEqual((await call(s, 'DELETE', '/files/up/nope.deb')).json, {});
        assert.deepEqual(await s.snapshot(), before);
      });
    });

    describe('repos', () => {
      it('creates (201), lists with NumPackages, shows, and refuses duplicates (409)', async () => {
        const created = await call(s, 'POST', '/repos', { Name: 'main-repo', Comment: 'c', DefaultDistribution: 'bookworm', DefaultComponent: 'main' });
        assert.deepEqual([created.status, created.json], [201, { Name: 'main-repo', Comment: 'c', DefaultDistribution: 'bookworm', DefaultComponent: 'main' }]);
        assert.equal(JSON.stringify(created.json), '{"Name":"main-repo","Comment":"c","DefaultDistribution":"bookworm","DefaultComponent":"main"}');
        const dup = await call(s, 'POST', '/repos', { Name: 'main-repo' });
        assert.deepEqual([dup.status, errorOf(dup)], [409, 'local repo with name main-repo already exists']);
        assert.deepEqual((await call(s, 'GET', '/repos/nope')).status, 404);
        assert.equal(errorOf(await call(s, 'GET', '/repos/nope')), 'local repo with name nope not found');
        const list = (await call(s, 'GET', '/repos')).json as { Name: string; NumPackages: number }[];
        assert.deepEqual(list.map((r) => [r.Name, r.NumPackages]), [['main-repo', 0], ['seed', 0]]);
      });

      it('adds a dir’s packages with a report: failures kept, others ignored, processed files removed', async () => {
        const res = await call(s, 'POST', '/repos/main-repo/file/up');
        assert.equal(res.status, 200);
        assert.deepEqual(res.json, {
          FailedFiles: ['up/broken.deb'],
          Report: {
            Warnings: ['Unable to read file up/broken.deb: invalid .deb: not an ar archive'],
            Added: ['hello-data_2.0_all added', 'hello-udeb_1.0_amd64 added', 'hello-world_1:1.0.0-1_amd64 added', 'libfoo1_1.2-3+b1_amd64 added'],
            Removed: [],
          },
        });
        assert.deepEqual((await call(s, 'GET', '/files/up')).json, ['broken.deb', 'notes.txt']);
        const keys = (await call(s, 'GET', '/repos/main-repo/packages')).json as string[];
        assert.equal(keys.length, 4);
        assert.deepEqual([...keys].sort(), keys);
        helloKey = keys.find((k) => k.startsWith('Pamd64 hello-world '))!;
        assert.match(helloKey, /^Pamd64 hello-world 1:1\.0\.0-1 [0-9a-f]{8,16}$/);
      });

      it('reports a different file under a taken short key, and replaces it with forceReplace', async () => {
        const other = await buildDeb({ outDir: work, name: 'hello-world', version: '1:1.0.0-1', description: 'changed' });
        await uploadFiles(s, 'again', [{ name: 'hello.deb', bytes: other.bytes }]);
        const res = await call(s, 'POST', '/repos/main-repo/file/again/hello.deb?noRemove=1');
        assert.deepEqual(res.json, {
          FailedFiles: ['again/hello.deb'],
          Report: { Warnings: ['Unable to add package: package already exists and is different: hello-world_1:1.0.0-1_amd64'], Added: [], Removed: [] },
        });
        const unknown = await call(s, 'POST', '/repos/main-repo/file/again/notes.txt');
        assert.equal(unknown.status, 200);
        const replaced = await call(s, 'POST', '/repos/seed/file/other/x.deb?noRemove=1');
        assert.deepEqual((replaced.json as { Report: { Added: string[] } }).Report.Added, ['hello-world_1:1.0.0-1_amd64 added']);
        const forced = await call(s, 'POST', '/repos/seed/file/again/hello.deb?forceReplace=1');
        assert.deepEqual((forced.json as { Report: unknown }).Report, {
          Warnings: [],
          Added: ['hello-world_1:1.0.0-1_amd64 added'],
          Removed: ['hello-world_1:1.0.0-1_amd64 removed due to conflict with package being added'],
        });
      });

      it('adds and removes packages by key; unknown keys are 404, conflicts 400', async () => {
        const add = await call(s, 'POST', '/repos/seed/packages', { PackageRefs: [helloKey] });
        assert.deepEqual([add.status, errorOf(add)], [400, 'package already exists and is different: hello-world_1:1.0.0-1_amd64']);
        const missing = await call(s, 'POST', '/repos/seed/packages', { PackageRefs: ['Pamd64 nope 1 00000000'] });
        assert.deepEqual([missing.status, errorOf(missing)], [404, 'packages Pamd64 nope 1 00000000: key not found']);
        const seedKeys = (await call(s, 'GET', '/repos/seed/packages')).json as string[];
        assert.equal((await call(s, 'DELETE', '/repos/seed/packages', { PackageRefs: seedKeys })).status, 200);
        assert.deepEqual((await call(s, 'GET', '/repos/seed/packages')).json, []);
        assert.equal((await call(s, 'POST', '/repos/seed/packages', { PackageRefs: [helloKey] })).status, 200);
      });

      it('edits a repo and refuses a taken name (409)', async () => {
        assert.equal((await call(s, 'POST', '/repos', { Name: 'tmp' })).status, 201);
        const taken = await call(s, 'PUT', '/repos/tmp', { Name: 'seed' });
        assert.deepEqual([taken.status, errorOf(taken)], [409, 'unable to rename: local repo "seed" already exists']);
        const edited = await call(s, 'PUT', '/repos/tmp', { Name: 'tmp2', Comment: 'x' });
        assert.deepEqual(edited.json, { Name: 'tmp2', Comment: 'x', DefaultDistribution: '', DefaultComponent: '' });
        assert.deepEqual((await call(s, 'DELETE', '/repos/tmp2')).json, {});
      });
    });

    describe('package queries', () => {
      const q = async (query: string, extra = '') =>
        (await call(s, 'GET', `/repos/main-repo/packages?q=${encodeURIComponent(query)}${extra}`)).json as string[];
      it('matches names, versions, fields, provides, architectures and refs', async () => {
        assert.deepEqual((await q('hello-world')).length, 1);
        assert.deepEqual((await q('hello')).length, 1); // Provides
        assert.equal((await q('Name (% hello*)')).length, 3);
        assert.equal((await q('$Source (foo)')).length, 1);
        assert.equal((await q('$SourceVersion (1.2-3)')).length, 1);
        assert.equal((await q('$PackageType (udeb)')).length, 1);
        assert.equal((await q('$Architecture (amd64)')).length, 4); // `all` matches too
        assert.equal((await q('Section (utils) | Section (libs)')).length, 2);
        assert.equal((await q('!Section, $Architecture (all)')).length, 1);
        assert.equal((await q('hello-world (>= 1:1.0), hello-world (<< 2:0)')).length, 1);
        assert.equal((await q('hello-world_1:1.0.0-1_amd64')).length, 1);
        assert.equal((await q('hello-data {amd64}')).length, 1);
      });

      it('returns details with aptly’s fields, and answers 400 to bad queries', async () => {
        const [d] = (await call(s, 'GET', `/repos/main-repo/packages?format=details&q=hello-world`)).json as Record<string, string>[];
        assert.equal(d!.Key, helloKey);
        assert.equal(d!.ShortKey, 'Pamd64 hello-world 1:1.0.0-1');
        assert.equal(d!.Filename, 'hello.deb');
        assert.equal(d!.Description, ' A test package\n This is a longer description\n .\n with a paragraph.\n');
        assert.match(d!.Size!, /^\d+$/);
        const pkg = await call(s, 'GET', `/packages/${encodeURIComponent(helloKey)}`);
        assert.deepEqual(pkg.json, d);
        assert.equal((await call(s, 'GET', `/packages/${encodeURIComponent('Pamd64 nope 1 0')}`)).status, 404);
        for (const [bad, message] of [
          ['Name (~ x)', 'regexp queries are not supported'],
          ['(a', "parsing failed: unexpected token <EOL>: expecting ')'"],
          ['a |', 'parsing failed: unexpected token <EOL>: expecting field or package name'],
        ] as const) {
          const res = await call(s, 'GET', `/repos/main-repo/packages?q=${encodeURIComponent(bad)}`);
          assert.deepEqual([res.status, errorOf(res)], [400, message], bad);
        }
        assert.equal(errorOf(await call(s, 'GET', '/repos/main-repo/packages?q=a&withDeps=1')), 'withDeps is not supported');
        const all = (await call(s, 'GET', '/packages?q=Name')).json as string[];
        assert.ok(all.includes(helloKey));
      });
    });

    describe('snapshots', () => {
      it('snapshots a repo (201), refuses a taken name (400), lists and sorts', async () => {
        const snap = await call(s, 'POST', '/repos/main-repo/snapshots', { Name: 'snap1' });
        assert.equal(snap.status, 201);
        assert.deepEqual(Object.keys(snap.json as object), ['Name', 'CreatedAt', 'SourceKind', 'Description', 'Origin', 'NotAutomatic', 'ButAutomaticUpgrades']);
        assert.equal((snap.json as { Description: string }).Description, 'Snapshot from local repo [main-repo]: c');
        const dup = await call(s, 'POST', '/repos/main-repo/snapshots', { Name: 'snap1' });
        assert.deepEqual([dup.status, errorOf(dup)], [400, 'snapshot with name snap1 already exists']);
        assert.equal((await call(s, 'POST', '/snapshots', { Name: 'empty' })).status, 201);
        assert.equal((await call(s, 'GET', '/snapshots/empty')).json && ((await call(s, 'GET', '/snapshots/empty')).json as { Description: string }).Description, 'Created as empty');
        const merged = await call(s, 'POST', '/snapshots', { Name: 'merged', SourceSnapshots: ['snap1'], PackageRefs: [helloKey] });
        assert.equal(merged.status, 201);
        assert.equal(((await call(s, 'GET', '/snapshots/merged/packages')).json as string[]).length, 4);
        assert.equal((await call(s, 'GET', '/snapshots?sort=bad')).status, 400);
        const names = ((await call(s, 'GET', '/snapshots?sort=name')).json as { Name: string }[]).map((x) => x.Name);
        assert.deepEqual(names, ['empty', 'merged', 'snap1']);
        assert.equal((await call(s, 'POST', '/snapshots', { Name: 'x', SourceSnapshots: ['nope'] })).status, 404);
      });

      it('renames (409 when taken) and refuses to drop a source without force', async () => {
        const taken = await call(s, 'PUT', '/snapshots/empty', { Name: 'snap1' });
        assert.deepEqual([taken.status, errorOf(taken)], [409, 'unable to rename: snapshot snap1 already exists']);
        const used = await call(s, 'DELETE', '/snapshots/snap1');
        assert.deepEqual([used.status, errorOf(used)], [409, "won't delete snapshot that was used as source for other snapshots, use ?force=1 to override"]);
        assert.deepEqual((await call(s, 'DELETE', '/snapshots/empty')).json, {});
        const repoDrop = await call(s, 'DELETE', '/repos/main-repo');
        assert.deepEqual([repoDrop.status, errorOf(repoDrop)], [409, 'unable to drop, local repo has snapshots, use ?force=1 to override']);
      });
    });

    describe('publish', () => {
      it('publishes a local repo at the root with guessed D and C (201), signed', async () => {
        const res = await call(s, 'POST', '/publish', { SourceKind: 'local', Sources: [{ Name: 'main-repo' }] });
        assert.equal(res.status, 201, JSON.stringify(res.json));
        assert.deepEqual(res.json, {
          AcquireByHash: false,
          Architectures: ['amd64'],
          ButAutomaticUpgrades: '',
          Codename: '',
          Distribution: 'bookworm',
          Label: '',
          MultiDist: false,
          NotAutomatic: '',
          Origin: '',
          Path: './bookworm',
          Prefix: '.',
          SignedBy: '',
          SkipContents: false,
          SourceKind: 'local',
          Sources: [{ Component: 'main', Name: 'main-repo' }],
          Storage: '',
          Suite: '',
          Version: '',
        });
        const release = await (await s.fetch(`${B}/dists/bookworm/Release`)).text();
        assert.match(release, /^Origin: \. bookworm$/m);
        assert.match(release, / main\/debian-installer\/binary-amd64\/Packages$/m);
        assert.match(release, / main\/Contents-udeb-amd64\.gz$/m);
        assert.equal((await s.fetch(`${B}/dists/bookworm/InRelease`)).status, 200);
        const pool = await s.fetch(`${B}/pool/main/f/foo/libfoo1_1.2-3+b1_amd64.deb`);
        assert.equal(pool.status, 200);
        assert.equal((await s.fetch(`${B}/pool/main/h/hello-world/hello.deb`)).status, 200);
        await assertRebuilds(s, '.', 'bookworm');
      });

      it('publishes a snapshot under an encoded prefix, unsigned, with by-hash', async () => {
        const res = await call(s, 'POST', '/publish/ppa_my__stable', {
          SourceKind: 'snapshot',
          Sources: [{ Component: 'main', Name: 'snap1' }],
          Distribution: 'stable',
          Architectures: ['amd64', 'i386', 'source'],
          AcquireByHash: true,
          Origin: 'Stowage test',
          Signing: { Skip: true },
        });
        assert.equal(res.status, 201, JSON.stringify(res.json));
        assert.equal((res.json as { Prefix: string }).Prefix, 'ppa/my_stable');
        const P = `${B}/ppa/my_stable/dists/stable`;
        assert.equal((await s.fetch(`${P}/InRelease`)).status, 404);
        const release = await (await s.fetch(`${P}/Release`)).text();
        assert.match(release, /^Architectures: amd64 i386$/m);
        assert.match(release, /^Acquire-By-Hash: yes$/m);
        assert.match(release, / main\/source\/Sources\.xz$/m);
        assert.equal((await s.fetch(`${P}/main/binary-i386/Packages`)).status, 200);
        assert.equal((await s.fetch(`${B}/ppa/my_stable/pool/main/h/hello-world/hello.deb`)).status, 200);
        const shown = await call(s, 'GET', '/publish/ppa_my__stable/stable');
        assert.equal((shown.json as { Path: string }).Path, 'ppa/my_stable/stable');
        await assertRebuilds(s, 'ppa/my_stable', 'stable');
      });

      it('checks create in the spec’s order with its statuses, changing nothing', async () => {
        const before = await s.snapshot();
        const cases: [unknown, string, number, string][] = [
          [{ Sources: [] }, '', 400, 'field SourceKind is required'],
          [{ SourceKind: 'local', Sources: [{ Name: 'main-repo' }], Signing: { GpgKey: 'ABCDEF12' } }, '', 400, 'unable to initialize GPG signer: unknown key ABCDEF12'],
          [{ SourceKind: 'local', Sources: [] }, '', 400, 'unable to publish: sources are empty'],
          [{ SourceKind: 'mirror', Sources: [{ Name: 'x' }] }, '', 400, 'unknown SourceKind'],
          [{ SourceKind: 'local', Sources: [{ Name: 'nope' }] }, '', 404, 'unable to publish: local repo with name nope not found'],
          [{ SourceKind: 'snapshot', Sources: [{ Name: 'nope' }] }, '', 404, 'unable to publish: snapshot with name nope not found'],
          [{ SourceKind: 'local', Sources: [{ Name: 'main-repo' }] }, '/s3:bucket:x', 400, 'unable to publish: unknown published storage format: s3:bucket'],
          [{ SourceKind: 'local', Sources: [{ Name: 'main-repo' }] }, '/x_dists', 400, 'unable to publish: invalid prefix x/dists'],
          [{ SourceKind: 'local', Sources: [{ Name: 'seed' }] }, '/p', 400, 'unable to publish: unable to guess distribution name, please specify explicitly'],
          [{ SourceKind: 'local', Sources: [{ Name: 'seed' }, { Name: 'main-repo' }], Distribution: 'x' }, '/p', 400, 'unable to publish: unable to figure out component name for [seed]'],
          [{ SourceKind: 'local', Sources: [{ Name: 'seed', Component: 'a' }, { Name: 'main-repo', Component: 'a' }], Distribution: 'x' }, '/p', 400, 'unable to publish: duplicate component name: a'],
          [{ SourceKind: 'local', Sources: [{ Name: 'main-repo' }] }, '', 400, 'prefix/distribution already used by another published repo: ./bookworm'],
          [{ SourceKind: 'local', Sources: [{ Name: 'main-repo' }], Distribution: 'bookworm/updates' }, '', 400, 'prefix/distribution already used by another published repo: ./bookworm'],
          [{ SourceKind: 'snapshot', Sources: [{ Name: 'merged' }], Distribution: 'empty', Architectures: ['AMD64'] }, '/q', 400, 'unable to publish: invalid architecture AMD64'],
        ];
        for (const [body, prefix, status, message] of cases) {
          const res = await call(s, 'POST', `/publish${prefix}`, body);
          assert.deepEqual([res.status, errorOf(res)], [status, message], JSON.stringify(body));
        }
        assert.equal((await call(s, 'POST', '/snapshots', { Name: 'nothing' })).status, 201);
        const beforeNoArch = await s.snapshot();
        const noArch = await call(s, 'POST', '/publish/q', { SourceKind: 'snapshot', Sources: [{ Name: 'nothing' }], Distribution: 'd' });
        assert.deepEqual([noArch.status, errorOf(noArch)], [400, 'unable to publish: unable to figure out list of architectures, please supply explicit list']);
        assert.deepEqual(await s.snapshot(), beforeNoArch);
        assert.equal((await call(s, 'DELETE', '/snapshots/nothing')).status, 200);
        void before;
      });

      it('refuses a pool path holding other bytes (400)', async () => {
        // Another hello.deb: the same pool path in the root prefix, other bytes.
        const other = await buildDeb({ outDir: work, name: 'hello-world', version: '1:1.0.0-1', description: 'clashing' });
        await uploadFiles(s, 'clash', [{ name: 'hello.deb', bytes: other.bytes }]);
        assert.equal((await call(s, 'POST', '/repos', { Name: 'clash' })).status, 201);
        assert.equal((await call(s, 'POST', '/repos/clash/file/clash')).status, 200);
        const before = await s.snapshot();
        const res = await call(s, 'POST', '/publish', { SourceKind: 'local', Sources: [{ Name: 'clash' }], Distribution: 'trixie' });
        assert.deepEqual([res.status, errorOf(res)], [400, 'unable to publish: unable to process packages: error linking file to pool/main/h/hello-world/hello.deb: file already exists and is different']);
        assert.deepEqual(await s.snapshot(), before);
      });

      it('keeps the registry and the aptly API apart at the root: 400 one way, 409 the other', async () => {
        const registry = await s.fetch(`${B}/pool/reg/main/upload`, { method: 'PUT', body: new Uint8Array(hello.bytes), headers: ADMIN });
        assert.equal(registry.status, 201);
        const taken = await call(s, 'POST', '/publish', { SourceKind: 'local', Sources: [{ Name: 'main-repo' }], Distribution: 'reg' });
        assert.deepEqual([taken.status, errorOf(taken)], [400, 'prefix/distribution already used by another published repo: ./reg']);
        const up = await s.fetch(`${B}/pool/bookworm/main/upload`, { method: 'PUT', body: new Uint8Array(hello.bytes), headers: ADMIN });
        assert.deepEqual([up.status, await up.text()], [409, 'distribution bookworm is published through the aptly API']);
      });

      it('updates: new packages of the local repo, settings, 400 for Snapshots on local, 404 unknown', async () => {
        const extra = await buildDeb({ outDir: work, name: 'later', version: '1.0', architecture: 'all' });
        await uploadFiles(s, 'late', [{ name: 'later_1.0_all.deb', bytes: extra.bytes }]);
        assert.equal((await call(s, 'POST', '/repos/main-repo/file/late')).status, 200);
        assert.equal((await (await s.fetch(`${B}/dists/bookworm/main/binary-amd64/Packages`)).text()).includes('Package: later'), false);
        const bad = await call(s, 'PUT', '/publish/:./bookworm', { Snapshots: [{ Component: 'main', Name: 'snap1' }] });
        assert.deepEqual([bad.status, errorOf(bad)], [400, "snapshots shouldn't be given when updating local repo"]);
        const missing = await call(s, 'PUT', '/publish/:./nope', {});
        assert.deepEqual([missing.status, errorOf(missing)], [404, 'unable to update: published repo with storage:prefix/distribution ./nope not found']);
        const res = await call(s, 'PUT', '/publish/:./bookworm', { Label: 'Stowage', AcquireByHash: true });
        assert.equal(res.status, 200, JSON.stringify(res.json));
        const packages = await (await s.fetch(`${B}/dists/bookworm/main/binary-amd64/Packages`)).text();
        assert.match(packages, /^Package: later$/m);
        assert.match(await (await s.fetch(`${B}/dists/bookworm/Release`)).text(), /^Label: Stowage$/m);
        await assertRebuilds(s, '.', 'bookworm');
      });

      it('switches snapshot publishes and keeps staged sources until /update', async () => {
        assert.equal((await call(s, 'POST', '/snapshots', { Name: 'only-hello', PackageRefs: [helloKey] })).status, 201);
        const P = '/publish/ppa_my__stable/stable';
        assert.equal((await call(s, 'GET', `${P}/sources`)).status, 404);
        assert.equal((await call(s, 'POST', `${P}/sources`, { Component: 'extra', Name: 'only-hello' })).status, 201);
        const dup = await call(s, 'POST', `${P}/sources`, { Component: 'extra', Name: 'x' });
        assert.deepEqual([dup.status, errorOf(dup)], [400, "unable to create: Component 'extra' already exists"]);
        assert.deepEqual((await call(s, 'GET', `${P}/sources`)).json, [
          { Component: 'extra', Name: 'only-hello' },
          { Component: 'main', Name: 'snap1' },
        ]);
        assert.equal(errorOf(await call(s, 'PUT', `${P}/sources/nope`, { Name: 'x' })), "unable to update: Component 'nope' does not exist");
        assert.equal((await call(s, 'PUT', `${P}/sources/main`, { Name: 'merged' })).status, 200);
        const applied = await call(s, 'POST', `${P}/update`, { Signing: { Skip: true } });
        assert.equal(applied.status, 200, JSON.stringify(applied.json));
        assert.deepEqual((applied.json as { Sources: unknown }).Sources, [
          { Component: 'extra', Name: 'only-hello' },
          { Component: 'main', Name: 'merged' },
        ]);
        assert.equal((await call(s, 'GET', `${P}/sources`)).status, 404);
        const switched = await call(s, 'PUT', P, { Snapshots: [{ Component: 'main', Name: 'snap1' }], Signing: { Skip: true } });
        assert.equal(switched.status, 200);
        assert.equal((await s.fetch(`${B}/ppa/my_stable/dists/stable/extra/binary-amd64/Packages`)).status, 200);
        await assertRebuilds(s, 'ppa/my_stable', 'stable');
      });

      it('runs ?_async=1 calls as tasks with states, output and return values', async () => {
        const res = await call(s, 'PUT', '/publish/ppa_my__stable/stable?_async=1', { Signing: { Skip: true } });
        assert.equal(res.status, 202);
        const task = res.json as { ID: number; Name: string; State: number };
        assert.equal(task.Name, 'Update published repository ppa/my_stable/stable');
        const waited = (await call(s, 'GET', `/tasks/${task.ID}/wait`)).json as { State: number };
        assert.equal(waited.State, 2);
        assert.equal(((await call(s, 'GET', `/tasks/${task.ID}/return_value`)).json as { Code: number }).Code, 200);
        assert.match((await call(s, 'GET', `/tasks/${task.ID}/output`)).json as string, /Task succeeded\n$/);
        assert.deepEqual(Object.keys((await call(s, 'GET', `/tasks/${task.ID}/detail`)).json as object), ['TotalNumberOfPackages', 'RemainingNumberOfPackages']);
        const failing = (await call(s, 'POST', '/repos?_async', { Name: 'seed' })).json as { ID: number };
        await call(s, 'GET', `/tasks/${failing.ID}/wait`);
        assert.equal(((await call(s, 'GET', `/tasks/${failing.ID}`)).json as { State: number }).State, 3);
        assert.deepEqual((await call(s, 'GET', `/tasks/${failing.ID}/return_value`)).json, { Code: 409, Value: null });
        assert.match((await call(s, 'GET', `/tasks/${failing.ID}/output`)).json as string, /Task failed with error: local repo with name seed already exists\n$/);
        assert.equal((await call(s, 'GET', '/tasks/99999')).status, 404);
        assert.equal((await call(s, 'GET', '/tasks/99999/wait')).status, 400);
        assert.deepEqual((await call(s, 'GET', '/tasks-wait')).json, {});
        assert.equal((await call(s, 'DELETE', `/tasks/${failing.ID}`)).status, 200);
        assert.deepEqual((await call(s, 'POST', '/tasks-clear')).json, {});
        assert.deepEqual((await call(s, 'GET', '/tasks')).json, []);
        const sync = await call(s, 'PUT', '/publish/ppa_my__stable/stable?_async=off', { Signing: { Skip: true } });
        assert.equal(sync.status, 200);
      });

      it('puts a MultiDist publish’s pool under its distribution, and moves it back on a toggle', async () => {
        const res = await call(s, 'POST', '/publish/md', { SourceKind: 'local', Sources: [{ Name: 'main-repo' }], Distribution: 'one', MultiDist: true, Signing: { Skip: true } });
        assert.equal(res.status, 201, JSON.stringify(res.json));
        assert.equal((await s.fetch(`${B}/md/pool/one/main/h/hello-world/hello.deb`)).status, 200);
        assert.match(await (await s.fetch(`${B}/md/dists/one/main/binary-amd64/Packages`)).text(), /^Filename: pool\/one\/main\/h\/hello-world\/hello\.deb$/m);
        const toggled = await call(s, 'PUT', '/publish/md/one', { MultiDist: false, Signing: { Skip: true } });
        assert.equal((toggled.json as { MultiDist: boolean }).MultiDist, false);
        assert.equal((await s.fetch(`${B}/md/pool/main/h/hello-world/hello.deb`)).status, 200);
        assert.equal((await s.fetch(`${B}/md/pool/one/main/h/hello-world/hello.deb`)).status, 404); // cleaned up
        assert.match(await (await s.fetch(`${B}/md/dists/one/main/binary-amd64/Packages`)).text(), /^Filename: pool\/main\/h\/hello-world\/hello\.deb$/m);
        await assertRebuilds(s, 'md', 'one');
        assert.equal((await call(s, 'DELETE', '/publish/md/one')).status, 200);
        assert.equal((await s.fetch(`${B}/md/pool/main/h/hello-world/hello.deb`)).status, 404);
      });

      it('takes the calls of aptly’s publish documentation as they are written', async () => {
        // POST /api/publish/:. with SourceKind, Sources, Architectures, Distribution; then the
        // switch by PUT with Snapshots and the Signing options of the docs (passphrases ignored).
        assert.equal((await call(s, 'POST', '/snapshots', { Name: 'snap2', SourceSnapshots: ['snap1'] })).status, 201);
        const created = await call(s, 'POST', '/publish/:.', {
          SourceKind: 'snapshot',
          Sources: [{ Name: 'snap1' }],
          Architectures: ['i386', 'amd64'],
          Distribution: 'wheezy',
          Signing: { Batch: true, Passphrase: 'verysecure', Keyring: 'trustedkeys.gpg' },
        });
        assert.equal(created.status, 201, JSON.stringify(created.json));
        assert.deepEqual((created.json as { Architectures: string[] }).Architectures, ['amd64', 'i386']);
        const switched = await call(s, 'PUT', '/publish/:./wheezy', { Snapshots: [{ Component: 'main', Name: 'snap2' }], Signing: { Batch: true } });
        assert.deepEqual([switched.status, (switched.json as { Sources: unknown }).Sources], [200, [{ Component: 'main', Name: 'snap2' }]]);
        assert.equal((await s.fetch(`${B}/dists/wheezy/InRelease`)).status, 200);
        await assertRebuilds(s, '.', 'wheezy');
        assert.deepEqual((await call(s, 'DELETE', '/publish/:./wheezy')).json, {});
      });

      it('drops a publish: 404 unknown, files gone, pool kept with SkipCleanup', async () => {
        const missing = await call(s, 'DELETE', '/publish/ppa_my__stable/nope');
        assert.deepEqual([missing.status, errorOf(missing)], [404, 'unable to drop: published repo with storage:prefix/distribution ppa/my_stable/nope not found']);
        assert.equal((await call(s, 'DELETE', '/publish/ppa_my__stable/stable?SkipCleanup=1')).status, 200);
        assert.equal((await s.fetch(`${B}/ppa/my_stable/dists/stable/Release`)).status, 404);
        assert.equal((await s.fetch(`${B}/ppa/my_stable/pool/main/h/hello-world/hello.deb`)).status, 200);
        const dropRepo = await call(s, 'DELETE', '/repos/main-repo?force=1');
        assert.deepEqual([dropRepo.status, errorOf(dropRepo)], [409, 'unable to drop, local repo is published']);
        assert.equal((await call(s, 'DELETE', '/publish/:./bookworm')).status, 200);
        assert.equal((await s.fetch(`${B}/pool/main/h/hello-world/hello.deb`)).status, 404);
        assert.equal((await s.fetch(`${B}/dists/bookworm/InRelease`)).status, 404);
        assert.equal((await call(s, 'GET', '/publish')).json && ((await call(s, 'GET', '/publish')).json as unknown[]).length, 0);
      });
    });
  });
}

describe('aptly publishes from two Stowage processes on one MariaDB database', function () {
  this.timeout(180_000);
  it('runs ten async PUTs of one publish from both processes: all tasks succeed', async () => {
    work ??= await makeTempDir('aptly-routes');
    const first = await startStowage({ engine: 'mysql' });
    const second = await spawnStowage(first.env);
    try {
      const deb = await buildDeb({ outDir: work, name: 'par', version: '1.0' });
      assert.equal((await call(first, 'POST', '/repos', { Name: 'r', DefaultDistribution: 'd' })).status, 201);
      const put = await first.fetch(`${A}/files/x/par.deb`, { method: 'PUT', body: new Uint8Array(deb.bytes), headers: ADMIN });
      assert.equal(put.status, 200);
      assert.equal((await call(first, 'POST', '/repos/r/file/x')).status, 200);
      assert.equal((await call(first, 'POST', '/publish', { SourceKind: 'local', Sources: [{ Name: 'r' }] })).status, 201);
      const tasks = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const res = await call(i % 2 ? second.url : first, 'PUT', '/publish/:./d?_async=1', { Origin: `o${i}` });
          assert.equal(res.status, 202);
          return (res.json as { ID: number }).ID;
        }),
      );
      for (const id of tasks) {
        const done = (await call(first, 'GET', `/tasks/${id}/wait`)).json as { State: number };
        assert.equal(done.State, 2, `task ${id}`);
      }
      await assertRebuilds(first, '.', 'd');
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
