import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPacmanPackage } from '../test/helpers/pacman-fixtures.js';
import { spawnStowage } from '../test/helpers/processes.js';
import { freePort } from '../test/helpers/proxies.js';
import { makeTempDir, requireTool } from '../test/helpers/tools.js';
import { timeSteps, type BenchRow } from './measure.js';

const KEY = 'bench-admin-key-0123456789abcdef';
const CONCURRENCY = 8;

/** Fetches `url` and reads the whole body, checking its length. */
async function download(url: string, size: number): Promise<void> {
  const res = await fetch(url);
  const got = (await res.arrayBuffer()).byteLength;
  if (res.status !== 200 || got !== size) throw new Error(`${url}: ${res.status}, ${got} bytes`);
}

/** Serving one package file to parallel clients: Stowage against nginx serving the same file. */
export async function benchDownload(rounds: number): Promise<BenchRow> {
  requireTool('nginx', 'nginx');
  const work = await makeTempDir('bench-download');
  // A 16 MiB payload of incompressible bytes, like a real package.
  const payload = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
  const pkg = await buildPacmanPackage({
    outDir: join(work, 'pkg'),
    name: 'big',
    version: '1-1',
    compression: 'gz',
    files: { 'usr/': '', 'usr/share/big': payload },
  });
  const bytes = await readFile(pkg.path);
  const tail = Math.min(10, rounds);
  const round = (url: string) => Promise.all(Array.from({ length: CONCURRENCY }, () => download(url, bytes.length)));

  const stowage = await spawnStowage({ STOWAGE_DATA_DIR: join(work, 'stowage'), STOWAGE_API_KEY: KEY });
  let ours;
  try {
    const put = await fetch(`${stowage.url}/api/packages/bench/arch/core`, {
      method: 'PUT',
      body: bytes,
      headers: { Authorization: `token ${KEY}` },
    });
    if (put.status !== 201) throw new Error(`upload: ${put.status}`);
    const url = `${stowage.url}/api/packages/bench/arch/core/x86_64/${pkg.fileName}`;
    ours = await timeSteps(rounds, tail, stowage.child.pid!, () => round(url).then(() => {}));
  } finally {
    await stowage.stop();
  }

  const root = join(work, 'nginx');
  await mkdir(join(root, 'www'), { recursive: true });
  await writeFile(join(root, 'www', pkg.fileName), bytes);
  const port = await freePort();
  await writeFile(
    join(root, 'nginx.conf'),
    [
      'daemon off;',
      'master_process off;',
      `pid ${root}/nginx.pid;`,
      `error_log ${root}/error.log;`,
      'events {}',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${root}/tmp;`,
      `  server { listen 127.0.0.1:${port}; root ${root}/www; sendfile on; }`,
      '}',
      '',
    ].join('\n'),
  );
  const nginx = spawn('nginx', ['-p', root, '-c', join(root, 'nginx.conf')], { stdio: 'ignore' });
  let theirs;
  try {
    const url = `http://127.0.0.1:${port}/${pkg.fileName}`;
    for (let i = 0; ; i++) {
      try {
        await download(url, bytes.length);
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    theirs = await timeSteps(rounds, tail, nginx.pid!, () => round(url).then(() => {}));
  } finally {
    nginx.kill('SIGTERM');
  }
  return { name: `downloads: ${rounds} rounds of ${CONCURRENCY} parallel GETs of a ${(bytes.length / 2 ** 20).toFixed(0)} MiB package`, peer: 'nginx', tail, ours, theirs };
}
