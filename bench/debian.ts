import { spawnStowage } from '../test/helpers/processes.js';
import { startAptlyPeer } from '../test/helpers/aptly-peer.js';
import { buildDeb, type DebFixture } from '../test/helpers/deb-fixtures.js';
import { makeTempDir } from '../test/helpers/tools.js';
import { timeSteps, type BenchRow } from './measure.js';

const KEY = 'bench-admin-key-0123456789abcdef';

/** The aptly REST calls a CI job makes per package: upload, add to the repo, update the publish. */
async function addAndPublish(base: string, headers: Record<string, string>, deb: DebFixture, first: boolean) {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body instanceof FormData ? headers : { ...headers, 'Content-Type': 'application/json' },
      body: body instanceof FormData ? body : body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  };
  if (first) await call('POST', '/api/repos', { Name: 'bench', DefaultDistribution: 'stable', DefaultComponent: 'main' });
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(deb.bytes)]), deb.fileName);
  await call('POST', '/api/files/up', form);
  await call('POST', '/api/repos/bench/file/up');
  const signing = { Skip: true }; // aptly's peer runs without a key; compare like with like
  if (first) {
    await call('POST', '/api/publish/:.', {
      SourceKind: 'local',
      Sources: [{ Name: 'bench' }],
      Distribution: 'stable',
      Architectures: ['amd64'],
      Signing: signing,
    });
  } else await call('PUT', '/api/publish/:./stable', { Signing: signing });
}

/** Adding .debs one at a time through the aptly API: Stowage against `aptly api serve`. */
export async function benchDebian(count: number): Promise<BenchRow> {
  const work = await makeTempDir('bench-debian');
  const debs: DebFixture[] = [];
  for (let i = 0; i < count; i += 10) {
    debs.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(10, count - i) }, (_, j) =>
          buildDeb({ name: `bench${i + j}`, version: '1.0-1', architecture: 'amd64', outDir: work }),
        ),
      )),
    );
  }
  const tail = Math.min(20, count);

  const stowage = await spawnStowage({ STOWAGE_DATA_DIR: `${work}/stowage`, STOWAGE_API_KEY: KEY });
  let ours;
  try {
    const base = `${stowage.url}/api/packages/bench/debian/aptly`;
    ours = await timeSteps(count, tail, stowage.child.pid!, (i) =>
      addAndPublish(base, { Authorization: `token ${KEY}` }, debs[i]!, i === 0),
    );
  } finally {
    await stowage.stop();
  }

  const aptly = await startAptlyPeer();
  let theirs;
  try {
    theirs = await timeSteps(count, tail, aptly.pid, (i) => addAndPublish(aptly.url, {}, debs[i]!, i === 0));
  } finally {
    await aptly.stop();
  }
  return { name: `debian: add ${count} packages one by one through the aptly API, publishing each`, peer: 'aptly', tail, ours, theirs };
}
