import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readPkglistWithLibrpm, simulateAptRpm, type LibrpmDependency, type LibrpmHeader } from '../../helpers/alt-client.js';
import { FIXTURES, buildRpm, rpmQuery, type RpmFixture } from '../../helpers/rpm-fixtures.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { ENGINES } from '../../setup.js';

// apt-rpm is not in Debian (alt.md §13): librpm (python3-rpm) reads our pkglist as apt-rpm's
// own librpm does, and simulateAptRpm walks release → lists → packages the way apt-get does.

const U = '/api/packages/acme/alt';
const SEP = '\x1f';
const END = '\x1e';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const blake2b = (b: Buffer) => createHash('blake2b512').update(b).digest('hex');
const base = (group: string) => (group === '' ? `${U}/alt.repo` : `${U}/${group}.repo`);
const noneToNull = (s: string) => (s === '(none)' ? null : s);
/** Forgejo's layout writes these strings even when the package lacks them (alt.md §5.2). */
const noneToEmpty = (s: string) => (s === '(none)' ? '' : s);

/** What librpm must find in our entry for `f`, read from the fixture itself with `rpm -qp`. */
async function expectedHeader(f: RpmFixture): Promise<LibrpmHeader> {
  const scalars = ['NAME', 'EPOCH', 'VERSION', 'RELEASE', 'ARCH', 'SUMMARY', 'DESCRIPTION', 'SIZE', 'BUILDTIME', 'LICENSE', 'PACKAGER', 'GROUP', 'URL', 'SOURCERPM'];
  const v = (await rpmQuery(f.path, scalars.map((t) => `%{${t}}`).join(SEP))).split(SEP);
  const array = async (format: string) => (await rpmQuery(f.path, `[${format}${END}]`)).split(END).slice(0, -1);
  const deps = async (kind: string): Promise<LibrpmDependency[]> =>
    (await array(`%{${kind}NAME}${SEP}%{${kind}FLAGS}${SEP}%{${kind}VERSION}`)).map((l) => {
      const [name, flags, version] = l.split(SEP) as [string, string, string];
      return { name, flags: Number(flags), version };
    });
  const paths = await array('%{FILENAMES}');
  const changelog = (await array(`%{CHANGELOGTIME}${SEP}%{CHANGELOGNAME}${SEP}%{CHANGELOGTEXT}`)).map((l) => {
    const [time, name, text] = l.split(SEP) as [string, string, string];
    return { time: Number(time), name, text };
  });
  return {
    name: v[0]!,
    epoch: noneToNull(v[1]!) === null ? null : Number(v[1]),
    version: v[2]!,
    release: v[3]!,
    arch: v[4]!,
    summary: v[5]!,
    description: v[6]!,
    size: Number(v[7]),
    buildtime: Number(v[8]),
    license: v[9]!,
    packager: noneToEmpty(v[10]!),
    group: v[11]!,
    url: noneToEmpty(v[12]!),
    sourcerpm: v[13]!,
    provides: await deps('PROVIDE'),
    requires: await deps('REQUIRE'),
    conflicts: await deps('CONFLICT'),
    obsoletes: await deps('OBSOLETE'),
    // One DIRNAMES per file and no DIRINDEXES, as Forgejo writes them (alt.md §5.2).
    basenames: paths.map((p) => p.slice(p.lastIndexOf('/') + 1)),
    dirnames: paths.map((p) => p.slice(0, p.lastIndexOf('/') + 1)),
    dirindexes: [],
    changelog,
    fileName: f.fileName,
    fileSize: f.bytes.length,
    md5: md5(f.bytes),
    blake2b: blake2b(f.bytes),
    directory: 'RPMS.classic',
  };
}

/**
 * librpm may append a self-provide (`name = [E:]V-R`, flags 8) to a legacy header (alt.md §13):
 * ours must be a prefix of what it reads.
 */
function withoutAddedSelfProvide(got: LibrpmHeader, want: LibrpmHeader): LibrpmHeader {
  const extra = got.provides.slice(want.provides.length);
  for (const p of extra) assert.deepEqual([p.name, p.flags], [got.name, 8], `unexpected provide ${p.name}`);
  return { ...got, provides: got.provides.slice(0, want.provides.length) };
}

async function expectListed(headers: readonly LibrpmHeader[], fixtures: readonly RpmFixture[]): Promise<void> {
  assert.deepEqual(
    headers.map((h) => h.fileName),
    fixtures.map((f) => f.fileName),
  );
  for (const [i, f] of fixtures.entries()) {
    const want = await expectedHeader(f);
    assert.deepEqual(withoutAddedSelfProvide(headers[i]!, want), want, f.fileName);
  }
}

for (const engine of ENGINES) {
  describe(`apt-rpm client simulation with librpm (${engine})`, function () {
    this.timeout(120_000);
    let s: TestStowage;
    let full: RpmFixture;
    let noarch: RpmFixture;
    let lettered: RpmFixture;
    let plain: RpmFixture;

    const put = (group: string, f: RpmFixture) =>
      s.fetch(group === '' ? `${U}/upload` : `${U}/${group}/upload`, { method: 'PUT', body: f.bytes, headers: ADMIN });
    const remove = (group: string, f: RpmFixture) =>
      s.fetch(`${base(group)}/${f.options.arch ?? 'x86_64'}/RPMS.classic/${f.fileName}`, { method: 'DELETE', headers: ADMIN });

    before(async () => {
      s = await startStowage({ engine, env: { APP_NAME: 'Forgejo' } });
      [full, noarch, lettered, plain] = await Promise.all([
        buildRpm(FIXTURES.full),
        buildRpm(FIXTURES.noarch),
        buildRpm(FIXTURES.lettered),
        // Nothing optional: no URL, packager, changelog, extra dependencies or epoch.
        buildRpm({ name: 'bare', version: '0.1', release: '1', files: { '/usr/share/bare/x': 'x' } }),
      ]);
      for (const group of ['', 'p10/main']) {
        for (const f of [full, lettered, noarch, plain]) assert.equal((await put(group, f)).status, 201, `${group} ${f.fileName}`);
      }
    });
    after(() => s?.stop());

    for (const group of ['', 'p10/main']) {
      it(`reads every entry of ${group || 'the root group'} back with librpm, x86_64 and noarch`, async () => {
        await expectListed(await simulateAptRpm(s.fetch, base(group), 'x86_64'), [full, lettered, plain]);
        await expectListed(await simulateAptRpm(s.fetch, base(group), 'noarch'), [noarch]);
      });
    }

    it('still agrees with librpm after deletes, a refused duplicate and a re-upload', async () => {
      const group = 'p10/main';
      assert.equal((await remove(group, full)).status, 204);
      await expectListed(await simulateAptRpm(s.fetch, base(group), 'x86_64'), [lettered, plain]);
      assert.equal((await put(group, lettered)).status, 409);
      assert.equal((await put(group, full)).status, 201);
      await expectListed(await simulateAptRpm(s.fetch, base(group), 'x86_64'), [lettered, plain, full]);
      assert.equal((await remove(group, noarch)).status, 204);
      assert.equal((await s.fetch(`${base(group)}/noarch/base/release`)).status, 404);
      // The root group did not move.
      await expectListed(await simulateAptRpm(s.fetch, base(''), 'x86_64'), [full, lettered, plain]);
    });

    it('serves a pkglist librpm reads whole: as many headers as uploads, no DIRINDEXES', async () => {
      const res = await s.fetch(`${base('')}/x86_64/base/pkglist.classic`);
      const headers = await readPkglistWithLibrpm(Buffer.from(await res.arrayBuffer()));
      assert.equal(headers.length, 3);
      for (const h of headers) assert.deepEqual(h.dirindexes, []);
    });
  });
}
