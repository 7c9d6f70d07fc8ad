import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { META_CONF } from '../../../src/formats/freebsd/catalogue.js';
import { checkLikePkg, pkgUpdate, type PkgClient, type SignatureMode } from '../../helpers/freebsd-client.js';
import {
  HELLO_MANIFEST,
  buildFreeBsdPackage,
  buildRawFreeBsdPackage,
  type FreeBsdFixture,
  type FreeBsdFixtureOptions,
} from '../../helpers/freebsd-fixtures.js';
import { spawnStowage } from '../../helpers/processes.js';
import { ADMIN, startStowage, type TestStowage } from '../../helpers/stowage.js';
import { makeTempDir, requireTool, run } from '../../helpers/tools.js';
import { ENGINES } from '../../setup.js';
import { chunkedPut } from '../../helpers/http.js';

const B = '/api/packages/alice/freebsd';
const MAX_UPLOAD = 400_000;
const BAD_KEY = { Authorization: `token ${'0'.repeat(40)}` };
const CHALLENGE = 'Basic realm="Gitea Package API"';
const START_MS = Date.UTC(2026, 7, 21, 10, 0, 0);

let work: string;
const pkg = (manifest: Record<string, unknown> = {}, o: FreeBsdFixtureOptions = {}) =>
  buildFreeBsdPackage({ outDir: work, manifest, ...o });
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const body = async (res: Response) => Buffer.from(await res.arrayBuffer());


before(async () => {
  work = await makeTempDir('freebsd-routes');
});

for (const engine of ENGINES) {
  describe(`FreeBSD routes /api/packages/:owner/freebsd (${engine})`, function () {
    this.timeout(120_000);
    let s: TestStowage;
    const clock = { now: START_MS };
    let hello: FreeBsdFixture;
    let pubkey: string;

    const put = (repo: string, data: BodyInit, headers: Record<string, string> = ADMIN) =>
      s.fetch(`${B}/${repo}/upload`, { method: 'PUT', body: data, headers });
    const del = (path: string, headers: Record<string, string> = ADMIN) => s.fetch(`${B}/${path}`, { method: 'DELETE', headers });
    const client = (repo: string, abi: string, mode: SignatureMode = 'pubkey'): PkgClient => ({
      url: `${s.url}${B}/${repo}/${abi}`,
      abi,
      osversion: Number(abi.split(':')[1]) * 100000 + 99999,
      mode,
      pubkey,
      trusted: [sha256(pubkey)],
    });
    /** What pkg would install from a view, after the full client checks in every mode. */
    async function names(repo: string, abi: string): Promise<string[]> {
      let listed: string[] | undefined;
      for (const mode of ['pubkey', 'fingerprints', 'none'] as const) {
        const update = await checkLikePkg(client(repo, abi, mode));
        const now = update.packages.map((p) => `${String(p.name)}-${String(p.version)}`);
        if (listed) assert.deepEqual(now, listed, mode);
        listed = now;
      }
      return listed!;
    }

    before(async () => {
      s = await startStowage({ engine, now: () => clock.now, env: { STOWAGE_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
      hello = await pkg();
    });
    after(() => s?.stop());

    describe('PUT /{repo}/upload', () => {
      it('answers 201 with an empty body; the catalogue lists the package for pkg', async () => {
        const res = await put('latest', hello.bytes);
        assert.deepEqual([res.status, await res.text()], [201, '']);
        pubkey = await (await s.fetch(`${B}/repository.key`)).text();
        assert.deepEqual(await names('latest', 'FreeBSD:14:amd64'), ['hello-1.0_1']);
        const update = await pkgUpdate(client('latest', 'FreeBSD:14:amd64'));
        assert.notEqual(update, 'up to date');
        if (update !== 'up to date') {
          assert.equal(update.archive, 'data.pkg');
          const entry = update.packages[0]!;
          assert.deepEqual([entry.sum, entry.pkgsize, entry.path, entry.repopath], [hello.sha256, hello.bytes.length, 'All/hello-1.0_1.pkg', 'All/hello-1.0_1.pkg']);
          assert.equal(entry.desc, HELLO_MANIFEST.desc, 'desc is copied verbatim');
          assert.ok(!('files' in entry) && !('scripts' in entry));
        }
      });

      it('answers 409 to the same package, a byte-identical copy and an overlapping ABI, changing nothing', async () => {
        const before = await s.snapshot();
        for (const data of [hello.bytes, (await pkg({ comment: 'other bytes' })).bytes, (await pkg({ abi: 'FreeBSD:14:*' })).bytes, (await pkg({ abi: '*' })).bytes, (await pkg({ abi: 'freebsd:14:AMD64' })).bytes]) {
          const res = await put('latest', data);
          assert.deepEqual([res.status, await res.text()], [409, 'package already exists']);
        }
        assert.deepEqual(await s.snapshot(), before);
      });

      it('takes the same version for another ABI, and another version for the same ABI', async () => {
        assert.equal((await put('latest', (await pkg({ abi: 'FreeBSD:14:aarch64' })).bytes)).status, 201);
        assert.equal((await put('latest', (await pkg({ abi: 'FreeBSD:15:amd64', annotations: { FreeBSD_version: '1500000' } })).bytes)).status, 201);
        assert.equal((await put('latest', (await pkg({ version: '1.1' })).bytes)).status, 201);
        assert.deepEqual(await names('latest', 'FreeBSD:14:amd64'), ['hello-1.0_1', 'hello-1.1']);
        assert.deepEqual(await names('latest', 'FreeBSD:14:aarch64'), ['hello-1.0_1']);
        assert.deepEqual(await names('latest', 'FreeBSD:15:amd64'), ['hello-1.0_1']);
      });

      it('takes the first file part of a multipart form, and xz, gzip and plain tar packages', async () => {
        const form = new FormData();
        form.append('note', 'ignored');
        const multi = await pkg({ name: 'multi' }, { compression: 'xz' });
        form.append('file', new Blob([multi.bytes]), 'whatever.bin');
        assert.equal((await s.fetch(`${B}/formats/upload`, { method: 'PUT', body: form, headers: ADMIN })).status, 201);
        for (const compression of ['gz', 'none'] as const) {
          const res = await put('formats', (await pkg({ name: `c-${compression}` }, { compression })).bytes);
          assert.equal(res.status, 201, compression);
        }
        const plus = await pkg({ name: 'compact-less' }, { compact: null });
        assert.equal((await put('formats', plus.bytes)).status, 201);
        assert.deepEqual(await names('formats', 'FreeBSD:14:amd64'), ['c-gz-1.0_1', 'c-none-1.0_1', 'compact-less-1.0_1', 'multi-1.0_1']);
      });

      it('answers 401 with the challenge to an anonymous upload, a bare 401 to a bad key', async () => {
        const anon = await put('latest', hello.bytes, {});
        assert.deepEqual([anon.status, await anon.text(), anon.headers.get('www-authenticate')], [401, 'reqPackageAccess\n', CHALLENGE]);
        const bad = await put('latest', hello.bytes, BAD_KEY);
        assert.deepEqual([bad.status, bad.headers.get('www-authenticate')], [401, null]);
      });

      const compact = JSON.stringify(HELLO_MANIFEST);
      const badInputs: [string, () => Promise<BodyInit>, string, number, string?][] = [
        ['an empty body', async () => Buffer.alloc(0), 'empty body', 400],
        ['random bytes', async () => Buffer.from('not a package at all, '.repeat(20)), 'invalid package: unknown compression', 400],
        ['bzip2', async () => (await pkg({ name: 'bz' }, { compression: 'bzip2' })).bytes, 'invalid package: unsupported compression bzip2', 400],
        ['a truncated archive', async () => (await pkg({ name: 'cut' })).bytes.subarray(0, 60), 'invalid package: corrupt or truncated archive', 400],
        ['no manifest', async () => buildRawFreeBsdPackage([{ name: '/usr/local/bin/x', content: 'x' }]), 'invalid package: no manifest', 400],
        ['a manifest after a file', async () => buildRawFreeBsdPackage([{ name: '/x', content: 'x' }, { name: '+COMPACT_MANIFEST', content: compact }]), 'invalid package: no manifest', 400],
        ['./+MANIFEST', async () => buildRawFreeBsdPackage([{ name: './+MANIFEST', content: compact }]), 'invalid package: no manifest', 400],
        ['a UCL manifest', async () => (await pkg({}, { compact: null, full: 'name = "hello";' })).bytes, 'invalid package: manifest is not JSON', 400],
        ['a missing origin', async () => (await pkg({ origin: undefined })).bytes, 'invalid package: origin: missing', 400],
        ['a null comment', async () => (await pkg({ comment: null })).bytes, 'invalid package: comment: must not be null', 400],
        ['a fractional flatsize', async () => (await pkg({ flatsize: 1.5 })).bytes, 'invalid package: flatsize: must be an integer of at least 0', 400],
        ['an unknown licenselogic', async () => (await pkg({ licenselogic: 'multiple' })).bytes, 'invalid package: licenselogic: must be single, or, dual, and or multi', 400],
        ['a message without text', async () => (await pkg({ messages: [{ type: 'install' }] })).bytes, '', 400],
        ['another major in FreeBSD_version', async () => (await pkg({ annotations: { FreeBSD_version: '1500000' } })).bytes, 'invalid package: annotations: FreeBSD_version 1500000 is not a FreeBSD 14 version', 400],
        ['an ABI prefix', async () => (await pkg({ abi: 'FreeBSD:1' })).bytes, 'invalid package: abi: must be FreeBSD:<major>:<arch>, FreeBSD:<major>:* or *', 400],
        ['a bad repository name', async () => hello.bytes, 'invalid repository name', 400, 'bad.name'],
        ['a url-encoded form', async () => 'a=b', 'form-urlencoded bodies are not supported', 400],
        ['a multipart form without a file', async () => {
          const f = new FormData();
          f.append('note', 'no file');
          return f;
        }, 'no file in multipart form', 400],
        ['a body over the limit', async () => Buffer.alloc(MAX_UPLOAD + 1), 'request body too large', 413],
      ];
      for (const [what, make, reason, status, repo] of badInputs) {
        it(`answers ${status} in one line to ${what}, and changes nothing`, async () => {
          const before = await s.snapshot();
          const data = await make();
          const headers = what === 'a url-encoded form' ? { ...ADMIN, 'Content-Type': 'application/x-www-form-urlencoded' } : ADMIN;
          const res = await put(repo ?? 'latest', data, headers);
          const text = await res.text();
          assert.equal(res.status, status, text);
          assert.match(text, /^[^\n]+$/);
          if (reason) assert.equal(text, reason);
          assert.deepEqual(await s.snapshot(), before);
        });
      }

      it('answers 413 to a chunked body once it passes the limit, and changes nothing', async () => {
        const before = await s.snapshot();
        const res = await chunkedPut(`${s.url}${B}/latest/upload`, Buffer.alloc(MAX_UPLOAD * 2), ADMIN);
        assert.equal(res.status, 413);
        assert.deepEqual(await s.snapshot(), before);
      });

      it('refuses a bad package for a repository that does not exist yet without creating it', async () => {
        const before = await s.snapshot();
        assert.equal((await put('fresh', Buffer.from('junk'.repeat(100)))).status, 400);
        assert.deepEqual(await s.snapshot(), before);
        assert.equal((await s.fetch(`${B}/fresh`)).status, 404);
      });
    });

    describe('views: GET /{repo}/{ABI}/…', () => {
      it('shows a FreeBSD:N:* package under every N architecture and a * package everywhere', async () => {
        assert.equal((await put('views', (await pkg({ name: 'any14', abi: 'FreeBSD:14:*' })).bytes)).status, 201);
        assert.equal((await put('views', (await pkg({ name: 'own', abi: 'FreeBSD:14:amd64' })).bytes)).status, 201);
        assert.equal((await put('views', (await pkg({ name: 'everywhere', abi: '*', annotations: {} })).bytes)).status, 201);
        assert.deepEqual(await names('views', 'FreeBSD:14:amd64'), ['any14-1.0_1', 'everywhere-1.0_1', 'own-1.0_1']);
        assert.deepEqual(await names('views', 'FreeBSD:14:aarch64'), ['any14-1.0_1', 'everywhere-1.0_1']);
        assert.deepEqual(await names('views', 'freebsd:14:RISCV64'), ['any14-1.0_1', 'everywhere-1.0_1']);
        assert.deepEqual(await names('views', 'FreeBSD:15:amd64'), ['everywhere-1.0_1']);
      });

      it('serves an empty but valid catalogue to a view nothing matches', async () => {
        assert.deepEqual(await names('latest', 'FreeBSD:13:i386'), []);
        const data = await body(await s.fetch(`${B}/latest/FreeBSD:13:i386/data.pkg`));
        const member = (await run('bsdtar', ['-xOf', '-', 'data'], { input: data })).stdout.toString();
        assert.equal(member, '{"groups":[],"expired_packages":[],"packages":[]}');
        const site = await body(await s.fetch(`${B}/latest/FreeBSD:13:i386/packagesite.pkg`));
        assert.equal((await run('bsdtar', ['-xOf', '-', 'packagesite.yaml'], { input: site })).stdout.length, 0);
      });

      it('serves meta.conf and meta as §5.2, and every archive alias with the same bytes', async () => {
        const view = `${B}/latest/FreeBSD:14:amd64`;
        for (const name of ['meta.conf', 'meta']) {
          const res = await s.fetch(`${view}/${name}`);
          assert.deepEqual([res.status, res.headers.get('content-type'), await res.text()], [200, 'text/plain; charset=utf-8', META_CONF]);
        }
        for (const base of ['data', 'packagesite']) {
          const canonical = await body(await s.fetch(`${view}/${base}.pkg`));
          for (const ext of ['tzst', 'txz', 'tbz', 'tgz', 'tar']) {
            const res = await s.fetch(`${view}/${base}.${ext}`);
            assert.equal(res.headers.get('content-type'), 'application/octet-stream');
            assert.deepEqual(await body(res), canonical, `${base}.${ext}`);
          }
        }
        const list = (await run('bsdtar', ['-tf', '-'], { input: await body(await s.fetch(`${view}/packagesite.pkg`)) })).stdout.toString();
        assert.equal(list, 'signature\npackagesite.yaml.sig\npackagesite.yaml.pub\npackagesite.yaml\n');
      });

      it('answers 404 with an empty body to optional and unknown names, bad ABIs and unknown repos', async () => {
        for (const path of [
          'latest/FreeBSD:14:amd64/meta.txz',
          'latest/FreeBSD:14:amd64/files.pkg',
          'latest/FreeBSD:14:amd64/files.tzst',
          'latest/FreeBSD:14:amd64/digests.txz',
          'latest/FreeBSD:14:amd64/data',
          'latest/FreeBSD:14:amd64/All/nope-1.0.pkg',
          'latest/FreeBSD:14:amd64/All/hello-1.0_1.pkg/x',
          'latest/FreeBSD:14:*/meta.conf',
          'latest/Linux:6:amd64/meta.conf',
          'latest/FreeBSD:14/meta.conf',
          'nosuch/FreeBSD:14:amd64/meta.conf',
          'latest/FreeBSD:14:amd64',
          'latest/x',
          'latest/FreeBSD:15:amd64/All/hello-1.1.pkg',
        ]) {
          const res = await s.fetch(`${B}/${path}`);
          assert.deepEqual([res.status, await res.text()], [404, ''], path);
        }
      });

      it('signs data.pkg and packagesite.pkg so openssl and pkg fingerprints agree', async () => {
        requireTool('openssl', 'openssl');
        const keyFile = join(work, `repository-${engine}.key`);
        const key = await body(await s.fetch(`${B}/repository.key`));
        await writeFile(keyFile, key);
        const fingerprint = await (await s.fetch(`${B}/repository.fingerprint`)).text();
        assert.equal(fingerprint, `function: "sha256"\nfingerprint: "${sha256(key)}"\n`);
        for (const [archive, member] of [['data.pkg', 'data'], ['packagesite.pkg', 'packagesite.yaml']]) {
          const bytes = await body(await s.fetch(`${B}/views/FreeBSD:14:amd64/${archive!}`));
          const out = (name: string) => run('bsdtar', ['-xOf', '-', name], { input: bytes }).then((r) => r.stdout);
          const content = await out(member!);
          const signature = await out('signature');
          assert.equal(signature.length, 513);
          assert.equal(signature[512], 0);
          assert.deepEqual(await out(`${member!}.pub`), key);
          assert.deepEqual(await out(`${member!}.sig`), signature.subarray(0, 512));
          const sigFile = join(work, `${engine}-${member!}.sig`);
          await writeFile(sigFile, signature.subarray(0, 512));
          const verified = await run('openssl', ['dgst', '-sha256', '-verify', keyFile, '-signature', sigFile], { input: sha256(content) });
          assert.match(verified.stdout.toString(), /Verified OK/);
        }
      });
    });

    describe('HTTP behaviour (freebsd.md §7)', () => {
      const url = `${B}/latest/FreeBSD:14:amd64/data.pkg`;

      it('answers HEAD with the headers of GET and no body', async () => {
        for (const path of [url, `${B}/latest/FreeBSD:14:amd64/meta.conf`, `${B}/latest/FreeBSD:14:amd64/All/hello-1.0_1.pkg`, B, `${B}/latest`, `${B}/repository.key`]) {
          const get = await s.fetch(path);
          const head = await s.fetch(path, { method: 'HEAD' });
          const pick = (r: Response) => ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control'].map((h) => r.headers.get(h));
          assert.deepEqual(pick(head), pick(get), path);
          assert.equal((await body(head)).length, 0);
          assert.equal(get.headers.get('content-length'), String((await body(get)).length), path);
        }
      });

      it('sends the full SHA-256 ETag, no-cache, and 304 for If-None-Match or a later If-Modified-Since', async () => {
        const first = await s.fetch(url);
        const bytes = await body(first);
        assert.equal(first.headers.get('etag'), `"${sha256(bytes)}"`);
        assert.equal(first.headers.get('cache-control'), 'no-cache');
        const lastModified = first.headers.get('last-modified')!;
        assert.equal((await s.fetch(url, { headers: { 'If-None-Match': first.headers.get('etag')! } })).status, 304);
        assert.equal((await s.fetch(url, { headers: { 'If-Modified-Since': lastModified } })).status, 304);
        const older = new Date(Date.parse(lastModified) - 1000).toUTCString();
        assert.equal((await s.fetch(url, { headers: { 'If-Modified-Since': older } })).status, 200);
        const withCredentials = await s.fetch(url, { headers: ADMIN });
        assert.equal(withCredentials.headers.get('cache-control'), 'private, no-cache');
      });

      it('moves Last-Modified of every view forward, strictly, even for two changes in one second', async () => {
        clock.now += 60_000;
        const lm = async (path: string) => Date.parse((await s.fetch(path)).headers.get('last-modified')!);
        const before = await lm(url);
        assert.equal((await put('latest', (await pkg({ name: 'tick1' })).bytes)).status, 201);
        const first = await lm(url);
        assert.equal((await put('latest', (await pkg({ name: 'tick2' })).bytes)).status, 201);
        const second = await lm(url);
        assert.ok(before < first && first < second, `${before} ${first} ${second}`);
        // An untouched view of the same repository moves too, and so do meta.conf and packagesite.
        assert.equal(await lm(`${B}/latest/FreeBSD:15:amd64/data.pkg`), second);
        assert.equal(await lm(`${B}/latest/FreeBSD:14:amd64/meta.conf`), second);
        // A client that updated after the first change sees the second one.
        const update = await pkgUpdate(client('latest', 'FreeBSD:14:amd64'), new Date(first).toUTCString());
        assert.notEqual(update, 'up to date');
        assert.equal(await pkgUpdate(client('latest', 'FreeBSD:14:amd64'), new Date(second).toUTCString()), 'up to date');
      });

      it('serves packages with Range (206, 416), Accept-Ranges and the upload time', async () => {
        const path = `${B}/latest/FreeBSD:14:amd64/All/hello-1.0_1.pkg`;
        const full = await s.fetch(path);
        assert.deepEqual(await body(full), hello.bytes);
        assert.equal(full.headers.get('accept-ranges'), 'bytes');
        assert.equal(full.headers.get('last-modified'), new Date(START_MS).toUTCString());
        const tail = await s.fetch(path, { headers: { Range: 'bytes=100-' } });
        assert.equal(tail.status, 206);
        assert.equal(tail.headers.get('content-range'), `bytes 100-${hello.bytes.length - 1}/${hello.bytes.length}`);
        assert.deepEqual(await body(tail), hello.bytes.subarray(100));
        const mid = await s.fetch(path, { headers: { Range: 'bytes=10-19' } });
        assert.deepEqual([mid.status, (await body(mid)).length], [206, 10]);
        const past = await s.fetch(path, { headers: { Range: `bytes=${hello.bytes.length}-` } });
        assert.deepEqual([past.status, past.headers.get('content-range')], [416, `bytes */${hello.bytes.length}`]);
        assert.equal((await s.fetch(path, { headers: { Range: 'bytes=0-1,4-5' } })).status, 200);
        assert.equal((await s.fetch(path, { headers: { Range: 'bytes=0-1', 'If-Range': '"other"' } })).status, 200);
      });

      it('finds packages with + and , in their names literally or percent-encoded, and through //', async () => {
        const sig = await pkg({ name: 'libsig++', version: '1.0_1,1', abi: 'FreeBSD:14:*' });
        assert.equal((await put('latest', sig.bytes)).status, 201);
        for (const path of [
          'latest/FreeBSD:14:amd64/All/libsig++-1.0_1,1.pkg',
          'latest/FreeBSD:14:aarch64/All/libsig%2B%2B-1.0_1%2C1.pkg',
          'latest/FreeBSD:14:amd64//All/libsig++-1.0_1,1.pkg',
          'latest//FreeBSD%3A14%3Ariscv64/All/libsig%2b%2b-1.0_1%2c1.pkg',
        ]) {
          const res = await s.fetch(`${B}/${path}`);
          assert.equal(res.status, 200, path);
          assert.deepEqual(await body(res), sig.bytes, path);
        }
        assert.equal((await s.fetch(`${B}/latest/FreeBSD:14:amd64//meta.conf`)).status, 200);
        assert.equal((await s.fetch(`${B}/latest/FreeBSD:15:amd64/All/libsig++-1.0_1,1.pkg`)).status, 404);
        await names('latest', 'FreeBSD:14:amd64');
      });
    });

    describe('listings and keys', () => {
      it('GET B lists repositories with counts and catalogue times, by name', async () => {
        const res = await s.fetch(B);
        assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
        const { repositories } = (await res.json()) as { repositories: { name: string; packages: number; last_modified: string }[] };
        assert.deepEqual(
          repositories.map((r) => r.name),
          ['formats', 'latest', 'views'],
        );
        for (const r of repositories) assert.match(r.last_modified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.equal(repositories.find((r) => r.name === 'views')!.packages, 3);
      });

      it('GET B/{repo} lists packages by name, version and abi, with the spec fields', async () => {
        const { packages } = (await (await s.fetch(`${B}/latest`)).json()) as { packages: Record<string, unknown>[] };
        assert.deepEqual(
          packages.slice(0, 3).map((p) => `${String(p.name)} ${String(p.version)} ${String(p.abi)}`),
          ['hello 1.0_1 FreeBSD:14:aarch64', 'hello 1.0_1 FreeBSD:14:amd64', 'hello 1.0_1 FreeBSD:15:amd64'],
        );
        assert.deepEqual(packages[1], {
          name: 'hello',
          version: '1.0_1',
          abi: 'FreeBSD:14:amd64',
          origin: 'misc/hello',
          comment: 'Hello',
          filename: 'hello-1.0_1.pkg',
          size: hello.bytes.length,
          sha256: hello.sha256,
          uploaded_at: '2026-08-21T10:00:00Z',
        });
        assert.deepEqual([(await s.fetch(`${B}/nosuch`)).status, (await s.fetch(`${B}/bad.name`)).status], [404, 404]);
      });

      it('serves repository.key and repository.fingerprint as attachments', async () => {
        const key = await s.fetch(`${B}/repository.key`);
        assert.equal(key.headers.get('content-type'), 'application/x-pem-file');
        assert.equal(key.headers.get('content-disposition'), 'attachment; filename="repository.key"');
        assert.match(await key.text(), /^-----BEGIN PUBLIC KEY-----\n/);
        const fp = await s.fetch(`${B}/repository.fingerprint`);
        assert.equal(fp.headers.get('content-type'), 'text/plain; charset=utf-8');
        assert.equal(fp.headers.get('content-disposition'), 'attachment; filename="repository.fingerprint"');
      });

      it('answers 405 with Allow to other methods on known paths, 404 on unknown paths', async () => {
        for (const [method, path, allow] of [
          ['POST', `${B}/latest/upload`, 'PUT'],
          ['GET', `${B}/latest/upload`, 'PUT'],
          ['PUT', `${B}/latest`, 'GET, HEAD, DELETE'],
          ['DELETE', `${B}/latest/FreeBSD:14:amd64/data.pkg`, 'GET, HEAD'],
          ['POST', B, 'GET, HEAD'],
          ['GET', `${B}/latest/hello/1.0_1`, 'DELETE'],
        ] as const) {
          const res = await s.fetch(path, { method, headers: ADMIN });
          assert.deepEqual([res.status, res.headers.get('allow')], [405, allow], `${method} ${path}`);
        }
        for (const path of [`${B}/a/b/c/d/e`, `${B}/latest/FreeBSD:14:amd64/All`]) {
          const res = await s.fetch(path, { headers: ADMIN });
          assert.deepEqual([res.status, await res.text()], [404, ''], path);
        }
      });
    });

    describe('DELETE', () => {
      it('answers 401 with the challenge without credentials, and 404 to what is not there, changing nothing', async () => {
        const anon = await del('latest/hello/1.0_1', {});
        assert.deepEqual([anon.status, anon.headers.get('www-authenticate')], [401, CHALLENGE]);
        const before = await s.snapshot();
        for (const path of ['latest/hello/9.9', 'latest/nope/1.0_1', 'latest/hello/1.0_1/FreeBSD:13:amd64', 'latest/hello/1.0_1/FreeBSD:14:*', 'nosuch/hello/1.0_1', 'nosuch']) {
          const res = await del(path);
          assert.deepEqual([res.status, await res.text()], [404, ''], path);
        }
        assert.deepEqual(await s.snapshot(), before);
      });

      it('/{repo}/{name}/{version}/{abi} removes one ABI variant, compared case-insensitively (204)', async () => {
        const res = await del('latest/hello/1.0_1/freebsd:14:AARCH64');
        assert.deepEqual([res.status, await res.text()], [204, '']);
        assert.deepEqual(await names('latest', 'FreeBSD:14:aarch64'), ['libsig++-1.0_1,1']);
        assert.ok((await names('latest', 'FreeBSD:14:amd64')).includes('hello-1.0_1'));
      });

      it('takes * as %2A: the package whose abi is exactly FreeBSD:14:*', async () => {
        assert.equal((await del('latest/libsig++/1.0_1,1/FreeBSD:14:%2A')).status, 204);
        assert.equal((await del('views/everywhere/1.0_1/%2A')).status, 204);
        assert.deepEqual(await names('views', 'FreeBSD:14:amd64'), ['any14-1.0_1', 'own-1.0_1']);
        assert.deepEqual(await names('views', 'FreeBSD:15:amd64'), []);
      });

      it('/{repo}/{name}/{version} removes every ABI variant of that version', async () => {
        assert.equal((await del('latest/HELLO/1.0_1')).status, 204);
        assert.deepEqual(await names('latest', 'FreeBSD:14:amd64'), ['hello-1.1', 'tick1-1.0_1', 'tick2-1.0_1']);
        assert.deepEqual(await names('latest', 'FreeBSD:15:amd64'), []);
        assert.equal((await s.fetch(`${B}/latest/FreeBSD:14:amd64/All/hello-1.0_1.pkg`)).status, 404);
      });

      it('/{repo} removes the repository, its packages and catalogues', async () => {
        assert.equal((await del('formats')).status, 204);
        assert.equal((await s.fetch(`${B}/formats/FreeBSD:14:amd64/meta.conf`)).status, 404);
        assert.equal((await s.fetch(`${B}/formats`)).status, 404);
        assert.equal((await del('formats')).status, 404);
        const { repositories } = (await (await s.fetch(B)).json()) as { repositories: { name: string }[] };
        assert.deepEqual(
          repositories.map((r) => r.name),
          ['latest', 'views'],
        );
        // Uploading again starts a fresh repository whose times still only move forward.
        assert.equal((await put('formats', (await pkg({ name: 'again' })).bytes)).status, 201);
        assert.deepEqual(await names('formats', 'FreeBSD:14:amd64'), ['again-1.0_1']);
      });
    });

    describe('parallel uploads', () => {
      it('takes the same package once: one 201, the rest 409', async () => {
        const same = await pkg({ name: 'race' });
        const statuses = await Promise.all(Array.from({ length: 6 }, async () => (await put('race', same.bytes)).status));
        assert.deepEqual(statuses.sort(), [201, 409, 409, 409, 409, 409]);
        assert.deepEqual(await names('race', 'FreeBSD:14:amd64'), ['race-1.0_1']);
      });

      it('takes different packages at once and lists them all', async () => {
        const fixtures = await Promise.all(
          Array.from({ length: 10 }, (_, i) => pkg({ name: `par${i}`, abi: i % 3 === 0 ? 'FreeBSD:14:*' : 'FreeBSD:14:amd64' })),
        );
        const statuses = await Promise.all(fixtures.map(async (f) => (await put('par', f.bytes)).status));
        assert.deepEqual(statuses, fixtures.map(() => 201));
        assert.deepEqual(await names('par', 'FreeBSD:14:amd64'), fixtures.map((_, i) => `par${i}-1.0_1`).sort());
        assert.deepEqual(await names('par', 'FreeBSD:14:aarch64'), ['par0-1.0_1', 'par3-1.0_1', 'par6-1.0_1', 'par9-1.0_1']);
        assert.deepEqual(await s.instance.blobs.listStaging(), []);
      });
    });
  });
}

describe('two Stowage processes on one MariaDB database (FreeBSD)', function () {
  this.timeout(180_000);
  it('take parallel uploads and deletes to one repository, and both serve every package', async () => {
    const first = await startStowage({ engine: 'mysql' });
    const second = await spawnStowage(first.env);
    try {
      const fixtures = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          pkg({ name: `multi${i}`, abi: i % 4 === 0 ? 'FreeBSD:14:*' : 'FreeBSD:14:amd64' }),
        ),
      );
      const statuses = await Promise.all(
        fixtures.map(async (f, i) => {
          const url = `${i % 2 ? second.url : first.url}${B}/shared/upload`;
          return (await fetch(url, { method: 'PUT', body: f.bytes, headers: ADMIN })).status;
        }),
      );
      assert.deepEqual(statuses, fixtures.map(() => 201));
      const pubkey = await (await fetch(`${second.url}${B}/repository.key`)).text();
      assert.equal(await (await fetch(`${first.url}${B}/repository.key`)).text(), pubkey, 'one key for both');
      const expected = fixtures.map((_, i) => `multi${i}-1.0_1`).sort();
      for (const url of [first.url, second.url]) {
        const update = await checkLikePkg({ url: `${url}${B}/shared/FreeBSD:14:amd64`, abi: 'FreeBSD:14:amd64', mode: 'pubkey', pubkey });
        assert.deepEqual(update.packages.map((p) => `${String(p.name)}-${String(p.version)}`), expected, url);
      }
      const deletes = await Promise.all(
        fixtures.slice(0, 6).map(async (_, i) => {
          const url = `${i % 2 ? second.url : first.url}${B}/shared/multi${i}/1.0_1`;
          return (await fetch(url, { method: 'DELETE', headers: ADMIN })).status;
        }),
      );
      assert.deepEqual(deletes, [204, 204, 204, 204, 204, 204]);
      const update = await checkLikePkg({ url: `${first.url}${B}/shared/FreeBSD:14:amd64`, abi: 'FreeBSD:14:amd64', mode: 'fingerprints', trusted: [sha256(pubkey)] });
      assert.deepEqual(
        update.packages.map((p) => String(p.name)),
        fixtures.slice(6).map((_, i) => `multi${i + 6}`).sort(),
      );
      assert.deepEqual(await first.instance.blobs.listStaging(), []);
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
