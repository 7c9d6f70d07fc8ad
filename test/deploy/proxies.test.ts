import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { STOWAGE_PATH_PATTERN, STOWAGE_TYPES } from '../../src/http/passthrough.js';
import { startFakeForge, type FakeForge } from '../helpers/fake-forge.js';
import { createPacmanSandbox } from '../helpers/pacman-client.js';
import { buildPacmanPackage } from '../helpers/pacman-fixtures.js';
import { spawnStowage, waitForOutput, type StowageProcess } from '../helpers/processes.js';
import { memoryOf, processTree, PROXIES, rawRequest, startProxy, type ProxyKind, type RunningProxy } from '../helpers/proxies.js';
import { makeTempDir, requireTool, run } from '../helpers/tools.js';
import { TEST_ROOT } from '../setup.js';
import { ESCAPE_PATHS, FORGE_PATHS, ROUTING_VECTORS, namesStowageType } from './routing-vectors.js';

const PUBLIC_HOST = 'git.example.org';
const MB = 1024 * 1024;
const BIG_BYTES = 200 * MB;
const KINDS: readonly ProxyKind[] = ['nginx', 'caddy', 'haproxy'];

const hostOf = (url: string) => new URL(url).host;
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** Where a request sent through the proxy ended up. */
type Landing = 'stowage' | 'forge' | 'refused';

/** An upstream that answers with what it received, and with the response headers deploy.md §4 lists. */
async function echoServer(name: string): Promise<{ server: Server; host: string; last: () => IncomingHttpHeaders | undefined }> {
  let last: IncomingHttpHeaders | undefined;
  const server = createServer((req, res) => {
    last = req.headers;
    req.resume();
    req.on('end', () => {
      res.writeHead(401, {
        'X-Echo': name,
        'WWW-Authenticate': 'Basic realm="Gitea Package API"',
        Location: '/elsewhere?x=1',
        ETag: '"abc"',
        'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT',
        'Accept-Ranges': 'bytes',
        'Content-Range': 'bytes 0-1/2',
        'Retry-After': '5',
      });
      res.end('echo');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}`, last: () => last };
}

/** A 200 MB pacman package of incompressible bytes, built with the real tools once per run. */
async function buildBigPackage(): Promise<{ path: string; sha256: string; size: number }> {
  requireTool('bsdtar', 'libarchive-tools');
  requireTool('zstd', 'zstd');
  const dir = join(TEST_ROOT, 'big-package');
  await mkdir(join(dir, 'root/usr/share/big'), { recursive: true });
  await writeFile(
    join(dir, 'root/.PKGINFO'),
    'pkgname = big\npkgbase = big\npkgver = 1-1\npkgdesc = 200 MB\nbuilddate = 1700000000\nsize = 209715200\narch = x86_64\n',
  );
  const out = join(dir, 'big-1-1-x86_64.pkg.tar.zst');
  await run('sh', [
    '-c',
    [
      'head -c "$1" /dev/urandom > usr/share/big/blob',
      "bsdtar --format=mtree --options='!all,use-set,type,uid,gid,mode,time,size,md5,sha256,link' -cf - .PKGINFO usr | gzip -c -n > .MTREE",
      'bsdtar --uid 0 --gid 0 -cf - .PKGINFO .MTREE usr | zstd -q -1 -o "$2"',
    ].join(' && '),
    'sh',
    String(BIG_BYTES),
    out,
  ], { cwd: join(dir, 'root') });
  await rm(join(dir, 'root'), { recursive: true });
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(out)) hash.update(chunk as Buffer);
  return { path: out, sha256: hash.digest('hex'), size: (await stat(out)).size };
}

/** Streams `path` up as the body of a PUT; never holds it in memory. */
function putFile(base: string, path: string, file: string, size: number, headers: Record<string, string>): Promise<number> {
  const url = new URL(base);
  return new Promise((done, fail) => {
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path, headers: { ...headers, 'Content-Length': size } });
    req.on('error', fail);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    createReadStream(file).pipe(req);
  });
}

/** Streams a download and hashes it. */
function sha256Of(base: string, path: string): Promise<string> {
  const url = new URL(base);
  return new Promise((done, fail) => {
    const req = request({ host: url.hostname, port: url.port, path });
    req.on('error', fail);
    req.on('response', (res) => {
      const hash = createHash('sha256');
      res.on('data', (c: Buffer) => hash.update(c));
      res.on('end', () => done(res.statusCode === 200 ? hash.digest('hex') : `status ${res.statusCode}`));
    });
    req.end();
  });
}

/** Peak memory growth (kB) of each process of a tree while `work` runs. */
async function peakGrowth(pids: readonly number[], work: () => Promise<void>): Promise<Map<number, number>> {
  const before = new Map<number, number>();
  for (const pid of pids) before.set(pid, (await memoryOf(pid)).rssKb);
  await work();
  const growth = new Map<number, number>();
  for (const pid of pids) growth.set(pid, (await memoryOf(pid)).hwmKb - before.get(pid)!);
  return growth;
}

describe('proxy/ configs in the real proxies (deploy.md §2-§5)', function () {
  this.timeout(240_000);
  let forge: FakeForge;
  let stowage: StowageProcess;
  let big: { path: string; sha256: string; size: number };
  const pattern = new RegExp(STOWAGE_PATH_PATTERN);
  const alice = () => basic('alice', forge.token('alice-write'));

  before(async () => {
    for (const kind of KINDS) requireTool(PROXIES[kind].command, PROXIES[kind].debian);
    forge = await startFakeForge();
    stowage = await spawnStowage({
      STOWAGE_DATA_DIR: join(TEST_ROOT, `proxied-${Date.now()}`),
      STOWAGE_KEY_SECRET: 'stowage-test-key-secret-0123456789',
      FORGE_URL: `${forge.url}/`,
      PUBLIC_URL: `https://${PUBLIC_HOST}/`,
      FORGE_SERVICE_TOKEN: forge.token('service'),
      TRUST_PROXY: 'true',
      SHUTDOWN_DELAY_S: '0',
    });
    big = await buildBigPackage();
  });

  after(async () => {
    await stowage?.stop();
    await forge?.close();
  });

  for (const kind of KINDS) {
    describe(`${PROXIES[kind].file} in ${kind}`, () => {
      let proxy: RunningProxy;

      /** Sends `path` raw through the proxy and tells where it landed. */
      async function land(path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Landing> {
        const before = forge.calls.length;
        const res = await rawRequest(proxy.url, { path, ...init });
        if (res.headers['x-request-id']) return 'stowage';
        const raw = path.split('?')[0];
        if (forge.calls.slice(before).some((c) => c.path === raw)) return 'forge';
        assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status} from nobody`);
        return 'refused';
      }

      before(async () => {
        proxy = await startProxy(kind, { stowage: [hostOf(stowage.url)], forge: hostOf(forge.url) });
      });
      after(() => proxy?.stop());

      it('sends the routing vectors to their backend', async () => {
        for (const v of ROUTING_VECTORS) assert.equal(await land(v.path), v.backend, v.path);
      });

      it('sends every one of our types to Stowage, which answers even those it does not serve yet', async () => {
        for (const type of STOWAGE_TYPES) {
          for (const path of [`/api/packages/alice/${type}`, `/api/packages/alice/${type}/x/y`, `/api/packages/Alice/${type}/repository.key`]) {
            assert.equal(await land(path), 'stowage', path);
          }
          // Uploads too: the method does not change the route.
          assert.equal(await land(`/api/packages/alice/${type}/upload`, { method: 'PUT' }), 'stowage', type);
        }
      });

      it('hands Stowage the Host as received and the X-Forwarded-Proto/-Host it logs', async () => {
        const path = `/api/packages/alice/arch/logged-${kind}/x86_64/logged-${kind}.db`;
        assert.equal(await land(path), 'stowage');
        const line = (await waitForOutput(stowage, (l) => l.includes(`"path":"${path}"`)))
          .map((l) => JSON.parse(l) as { host?: string; forwardedProto?: string; forwardedHost?: string })
          .at(-1);
        const host = `127.0.0.1:${proxy.port}`;
        assert.deepEqual([line?.host, line?.forwardedProto, line?.forwardedHost], [host, 'http', host]);
      });

      it('sends other package types and the rest of the site to the forge', async () => {
        for (const path of FORGE_PATHS) assert.equal(await land(path), 'forge', path);
      });

      it('lets no owner-name trick escape the routing: each backend only gets its own paths', async () => {
        for (const path of ESCAPE_PATHS) {
          const landed = await land(path);
          if (landed === 'forge') assert.ok(!namesStowageType(path, pattern), `forge got ${path}`);
          if (landed === 'stowage') assert.ok(namesStowageType(path, pattern), `stowage got ${path}`);
        }
      });

      it('passes Authorization, Host, X-Forwarded-* and conditional headers, strips sign-in headers, returns headers', async () => {
        const ours = await echoServer('stowage');
        const theirs = await echoServer('forge');
        const echoed = await startProxy(kind, { stowage: [ours.host], forge: theirs.host });
        try {
          const host = `127.0.0.1:${echoed.port}`;
          const sent = {
            Authorization: 'token 0123456789abcdef',
            'X-Forgejo-OTP': '123456',
            'X-Api-Key': 'k',
            Range: 'bytes=0-1',
            'If-None-Match': '"abc"',
            'X-WEBAUTH-USER': 'root',
            'X-WEBAUTH-EMAIL': 'root@example.org',
            'X-WEBAUTH-FULLNAME': 'Root',
          };
          const res = await rawRequest(echoed.url, { path: '/api/packages/alice/arch/core/x86_64/core.db', headers: sent });
          assert.equal(res.headers['x-echo'], 'stowage');
          const got = ours.last()!;
          assert.equal(got.authorization, sent.Authorization);
          assert.equal(got['x-forgejo-otp'], '123456');
          assert.equal(got['x-api-key'], 'k');
          assert.equal(got.range, 'bytes=0-1');
          assert.equal(got['if-none-match'], '"abc"');
          assert.equal(got.host, host);
          assert.equal(got['x-forwarded-host'], host);
          assert.equal(got['x-forwarded-proto'], 'http');
          assert.match(String(got['x-forwarded-for']), /(^|, )127\.0\.0\.1$/);
          for (const h of ['x-webauth-user', 'x-webauth-email', 'x-webauth-fullname']) assert.equal(got[h], undefined, h);
          assert.equal(res.status, 401);
          assert.deepEqual(
            ['www-authenticate', 'location', 'etag', 'last-modified', 'accept-ranges', 'content-range', 'retry-after'].map((h) => res.headers[h]),
            ['Basic realm="Gitea Package API"', '/elsewhere?x=1', '"abc"', 'Wed, 21 Oct 2015 07:28:00 GMT', 'bytes', 'bytes 0-1/2', '5'],
          );
          const other = await rawRequest(echoed.url, { path: '/api/packages/alice/npm/left-pad', headers: sent });
          assert.equal(other.headers['x-echo'], 'forge');
          assert.equal(theirs.last()!.authorization, sent.Authorization);
        } finally {
          await echoed.stop();
          ours.server.close();
          theirs.server.close();
        }
      });

      it('lets pacman install, with signatures checked, through the proxy', async () => {
        requireTool('pacman', 'pacman-package-manager');
        const work = await makeTempDir(`proxy-pacman-${kind}`);
        const sandbox = await createPacmanSandbox(
          [{ name: 'proxied', server: `${proxy.url}/api/packages/alice/arch/${kind}/$arch` }],
          'Required DatabaseRequired',
        );
        try {
          const hello = await buildPacmanPackage({ outDir: work, name: 'hello', version: '1.0-1' });
          const up = await rawRequest(proxy.url, {
            method: 'PUT',
            path: `/api/packages/alice/arch/${kind}`,
            headers: { Authorization: alice() },
            body: await readFile(hello.path),
          });
          assert.equal(up.status, 201, up.body.toString());
          const key = await rawRequest(proxy.url, { path: '/api/packages/alice/arch/repository.key' });
          await sandbox.trust(key.body.toString(), `alice@noreply.${PUBLIC_HOST}`);
          await sandbox.pacman(['-Sy']);
          await sandbox.pacman(['-S', 'hello']);
          assert.equal(await readFile(join(sandbox.dir, 'root/usr/bin/hello'), 'utf8'), '#!/bin/sh\necho hi\n');
        } finally {
          await sandbox.remove();
          await rm(work, { recursive: true, force: true });
        }
      });

      it('streams a 200 MB upload through with bounded proxy and Stowage memory', async () => {
        const proxyPids = await processTree(proxy.child.pid!);
        let status = 0;
        const growth = await peakGrowth([...proxyPids, stowage.child.pid!], async () => {
          status = await putFile(proxy.url, `/api/packages/alice/arch/big-${kind}`, big.path, big.size, { Authorization: alice() });
        });
        assert.equal(status, 201);
        for (const pid of proxyPids) assert.ok(growth.get(pid)! < 48 * 1024, `${kind} ${pid} grew ${growth.get(pid)} kB`);
        assert.ok(growth.get(stowage.child.pid!)! < 96 * 1024, `stowage grew ${growth.get(stowage.child.pid!)} kB`);
        // Nothing spooled to disk by the proxy either.
        const spooled = await run('find', [proxy.dir, '-type', 'f', '-size', '+1M'], {});
        assert.equal(spooled.stdout.toString(), '');
        assert.equal(await sha256Of(proxy.url, `/api/packages/alice/arch/big-${kind}/x86_64/big-1-1-x86_64.pkg.tar.zst`), big.sha256);
      });
    });
  }
});
