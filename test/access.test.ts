import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { startFakeForge, type FakeForge } from './helpers/fake-forge.js';
import { SCENARIOS, type Outcome, type Scenario } from './helpers/forge-scenarios.js';
import { buildPacmanPackage } from './helpers/pacman-fixtures.js';
import { startStowage, type TestStowage } from './helpers/stowage.js';
import { ENGINES, type Engine } from './setup.js';

const PUBLIC_URL = 'https://git.example.org/';
const CHALLENGE = 'Basic realm="Gitea Package API"';

/** A Stowage in forge mode against the double, with a clock the test moves. */
async function forgeStowage(engine: Engine, forge: FakeForge, clock: { now: number }): Promise<TestStowage> {
  return startStowage({
    engine,
    now: () => clock.now,
    env: {
      FORGE_URL: `${forge.url}/`,
      PUBLIC_URL,
      FORGE_SERVICE_TOKEN: forge.token('service'),
      FORGE_TIMEOUT_MS: '1500',
    },
  });
}

interface Probe {
  readonly read: (owner: string) => string;
  readonly write: (owner: string) => { path: string; method: string };
  /** The status and body of an allowed request that finds nothing. */
  readonly allowed: Readonly<Record<'read' | 'write', readonly [number, string]>>;
  /** How the family renders each refusal. */
  readonly rendered: (outcome: Exclude<Outcome, 'ok' | 307>) => { status: number; body: string; challenge: string | null };
}

// Forgejo's Arch, Alt and Debian routes render forge.md §4 exactly; Vieter's answer every refusal with 401.
const FORGEJO_REFUSALS: Probe['rendered'] = (outcome) =>
  ({
    C: { status: 401, body: 'reqPackageAccess\n', challenge: CHALLENGE },
    B: { status: 401, body: 'authGroup.Verify\n', challenge: null },
    403: { status: 403, body: 'reqToken\n', challenge: null },
    404: { status: 404, body: 'Not found.\n', challenge: null },
  })[outcome];

const FAMILIES: Record<'arch' | 'vieter' | 'alt' | 'debian' | 'freebsd', Probe> = {
  arch: {
    read: (o) => `/api/packages/${o}/arch/g/x86_64/g.db`,
    write: (o) => ({ path: `/api/packages/${o}/arch/g/nothing/1-1/x86_64`, method: 'DELETE' }),
    allowed: { read: [404, ''], write: [404, 'Not Found'] },
    rendered: FORGEJO_REFUSALS,
  },
  // Alt (alt.md §1.2): read access on every path first; delete needs write before any lookup.
  alt: {
    read: (o) => `/api/packages/${o}/alt/g.repo/x86_64/base/release`,
    write: (o) => ({ path: `/api/packages/${o}/alt/g.repo/x86_64/RPMS.classic/nothing-1-1.x86_64.rpm`, method: 'DELETE' }),
    allowed: { read: [404, 'package file does not exist'], write: [404, 'package file does not exist'] },
    rendered: FORGEJO_REFUSALS,
  },
  // Debian (debian.md §1, §6): tree reads need read; a registry delete needs write first.
  debian: {
    read: (o) => `/api/packages/${o}/debian/dists/bookworm/InRelease`,
    write: (o) => ({ path: `/api/packages/${o}/debian/pool/bookworm/main/nothing/1.0/amd64`, method: 'DELETE' }),
    allowed: { read: [404, 'not found'], write: [404, 'package file does not exist'] },
    rendered: FORGEJO_REFUSALS,
  },
  // FreeBSD (freebsd.md §2.2): our API, rendered as Forgejo's; a catalogue read, a version delete.
  freebsd: {
    read: (o) => `/api/packages/${o}/freebsd/r/FreeBSD:14:amd64/meta.conf`,
    write: (o) => ({ path: `/api/packages/${o}/freebsd/r/nothing/1.0`, method: 'DELETE' }),
    allowed: { read: [404, ''], write: [404, ''] },
    rendered: FORGEJO_REFUSALS,
  },
  vieter: {
    read: (o) => `/api/packages/${o}/vieter/r/x86_64/r.db`,
    write: (o) => ({ path: `/api/packages/${o}/vieter/r`, method: 'DELETE' }),
    allowed: { read: [404, ''], write: [404, ''] },
    rendered: (outcome) =>
      outcome === 404
        ? { status: 404, body: '404 Not Found', challenge: null }
        : { status: 401, body: '401 Unauthorized', challenge: null },
  },
};

async function check(s: TestStowage, row: Scenario, forge: FakeForge, family: Probe, mode: 'read' | 'write') {
  const { headers, query } = await row.request(forge);
  const target = mode === 'read' ? { path: family.read(row.owner), method: 'GET' } : family.write(row.owner);
  const search = new URLSearchParams(query).toString();
  const res = await s.fetch(`${target.path}${search ? `?${search}` : ''}`, {
    method: target.method,
    headers,
    redirect: 'manual',
  });
  const body = await res.text();
  const expected = mode === 'read' ? row.read : row.write;
  const label = `${row.caller} → ${row.owner} (${mode})`;
  if (expected === 'ok') {
    assert.deepEqual([res.status, body], family.allowed[mode], label);
  } else if (expected === 307) {
    assert.equal(res.status, 307, label);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.origin, new URL(PUBLIC_URL).origin, label);
    assert.equal(location.pathname, target.path.replace(`/${row.owner}/`, `/${row.renamedTo}/`), label);
    assert.equal(location.search, search ? `?${search}` : '', label);
  } else {
    const want = family.rendered(expected);
    assert.deepEqual(
      [res.status, body, res.headers.get('www-authenticate')],
      [want.status, want.body, want.challenge],
      label,
    );
  }
}

describe('forge permission rules on the package routes (forge.md §10.5)', function () {
  this.timeout(300_000);
  let forge: FakeForge;
  let s: TestStowage;
  const clock = { now: Date.now() };

  before(async () => {
    forge = await startFakeForge();
    s = await forgeStowage('sqlite', forge, clock);
  });
  after(async () => {
    await s?.stop();
    await forge?.close();
  });

  for (const [name, family] of Object.entries(FAMILIES)) {
    it(`renders every scenario row on the ${name} routes`, async () => {
      for (const row of SCENARIOS) {
        // Rows that change the forge's settings must not meet cached answers from other rows
        // (and vice versa): a minute later every entry has expired. Other rows differ in
        // credential or owner, so their cache entries are their own.
        if (row.knobs) {
          clock.now += 61_000;
          forge.set(row.knobs);
        }
        try {
          forge.resetCalls();
          await check(s, row, forge, family, 'read');
          await check(s, row, forge, family, 'write');
          if (row.noProbe) {
            assert.deepEqual(
              forge.calls.filter((c) => c.path.startsWith('/api/packages/')),
              [],
              `${row.caller}: no probe`,
            );
          }
        } finally {
          if (row.knobs) {
            forge.reset();
            clock.now += 61_000;
          }
        }
      }
    });
  }

  it('answers 503 "forge unavailable" with Retry-After while the forge hangs', async () => {
    clock.now += 120_000;
    forge.fault('any', 'hang');
    try {
      const res = await s.fetch('/api/packages/alice/arch/g/x86_64/g.db');
      assert.deepEqual(
        [res.status, await res.text(), res.headers.get('retry-after')],
        [503, 'forge unavailable', '5'],
      );
      const vieter = await s.fetch('/api/packages/alice/vieter/r/x86_64/r.db');
      assert.equal(vieter.status, 503);
    } finally {
      forge.reset();
    }
  });

  it('answers a denied upload with 401 before reading the body, without 100 Continue', async () => {
    clock.now += 120_000;
    const url = new URL('/api/packages/alice/arch/g', s.url);
    const outcome = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = request(url, {
        method: 'PUT',
        headers: { Expect: '100-continue', 'Content-Length': '1000000' },
      });
      req.on('continue', () => {
        continued = true;
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, continued });
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.deepEqual(outcome, { status: 401, continued: false });
  });

  it('keeps the logs free of every fixture secret the scenarios sent', () => {
    const logs = s.logs.join('\n');
    for (const secret of forge.secrets()) assert.equal(logs.includes(secret), false, 'a secret reached the log');
  });
});

for (const engine of ENGINES) {
  describe(`uploads in forge mode (${engine})`, function () {
    this.timeout(120_000);
    let forge: FakeForge;
    let s: TestStowage;
    const clock = { now: Date.now() };
    before(async () => {
      forge = await startFakeForge();
      s = await forgeStowage(engine, forge, clock);
    });
    after(async () => {
      await s?.stop();
      await forge?.close();
    });

    it('records the uploader from the forge, by id and login, under the owner id', async () => {
      const pkg = await buildPacmanPackage({ name: 'who', version: '1-1' });
      const res = await s.fetch('/api/packages/acme/arch/core', {
        method: 'PUT',
        body: await readFile(pkg.path),
        headers: { Authorization: `token ${forge.token('carol-write')}` },
      });
      assert.equal(res.status, 201);
      const row = await s.db('package_files').first('uploader_id', 'uploader_login');
      assert.deepEqual({ id: Number(row.uploader_id), login: row.uploader_login }, { id: 4, login: 'carol' });
      const repo = await s.db('repositories').first('owner_id', 'name');
      assert.deepEqual([Number(repo.owner_id), repo.name], [100, 'core']);
    });

    it('keeps packages under the owner id when the owner is renamed', async () => {
      clock.now += 120_000;
      forge.rename('acme', 'acme-new');
      try {
        const res = await s.fetch('/api/packages/acme-new/arch/core/x86_64/core.db');
        assert.equal(res.status, 200);
      } finally {
        forge.reset();
      }
    });
  });
}
