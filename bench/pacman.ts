import { mkdir, readFile, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildPacmanPackage, type PacmanFixture } from '../test/helpers/pacman-fixtures.js';
import { spawnStowage } from '../test/helpers/processes.js';
import { makeTempDir, requireTool } from '../test/helpers/tools.js';
import { timeSteps, type BenchRow, type Measure } from './measure.js';

const KEY = 'bench-admin-key-0123456789abcdef';
const ADMIN = { Authorization: `token ${KEY}` };

// Peak RSS of a whole command (the largest process it ran), from the kernel's rusage.
const RUSAGE =
  'import resource, subprocess, sys\n' +
  'subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n' +
  'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';

/** Runs a command; wall time and the peak RSS of the largest process it started. */
function timed(cmd: string, args: readonly string[], cwd: string): Promise<{ seconds: number; peakMiB: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/python3', ['-c', RUSAGE, cmd, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd}: exit ${code}: ${err}`));
      resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, peakMiB: Number(out.trim()) / 1024 });
    });
  });
}

/**
 * Adding packages one at a time to one repository, as CI jobs do: Stowage's Forgejo Arch upload
 * (which also signs the package and both databases) against `repo-add` (unsigned) on the same
 * files. repo-add rewrites the whole database each time; Stowage splices.
 */
export async function benchPacman(count: number): Promise<BenchRow> {
  requireTool('repo-add', 'pacman-package-manager');
  const work = await makeTempDir('bench-pacman');
  const fixtures: PacmanFixture[] = [];
  for (let i = 0; i < count; i += 10) {
    fixtures.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(10, count - i) }, (_, j) =>
          buildPacmanPackage({
            outDir: join(work, 'pkgs'),
            name: `bench${i + j}`,
            version: '1.0-1',
            compression: 'gz',
            files: Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`usr/share/bench${i + j}/file${k}`, `${k}\n`])),
          }),
        ),
      )),
    );
  }
  const tail = Math.min(20, count);

  // Stowage: a separate process on SQLite, as `npm start` runs it.
  const dataDir = join(work, 'stowage');
  const stowage = await spawnStowage({ STOWAGE_DATA_DIR: dataDir, STOWAGE_API_KEY: KEY });
  // The owner's signing key is made once, on first need (seconds of RSA work), not per upload:
  // one upload into another group makes it before the clock starts.
  await fetch(`${stowage.url}/api/packages/bench/arch/warmup`, { method: 'PUT', body: await readFile(fixtures[0]!.path), headers: ADMIN });
  let ours: Measure;
  try {
    ours = await timeSteps(count, tail, stowage.child.pid!, async (i) => {
      const f = fixtures[i]!;
      const res = await fetch(`${stowage.url}/api/packages/bench/arch/core`, {
        method: 'PUT',
        body: await readFile(f.path),
        headers: ADMIN,
      });
      if (res.status !== 201) throw new Error(`upload ${f.fileName}: ${res.status} ${await res.text()}`);
    });
  } finally {
    await stowage.stop();
  }

  // repo-add, one package per call into the same database.
  const peerDir = join(work, 'peer');
  await rm(peerDir, { recursive: true, force: true });
  await mkdir(peerDir, { recursive: true });
  let theirs = 0;
  let theirsTail = 0;
  let theirsPeak = 0;
  for (const [i, f] of fixtures.entries()) {
    const r = await timed('repo-add', ['-q', join(peerDir, 'core.db.tar.gz'), f.path], peerDir);
    theirs += r.seconds;
    if (i >= count - tail) theirsTail += r.seconds;
    theirsPeak = Math.max(theirsPeak, r.peakMiB);
  }
  await rm(work, { recursive: true, force: true });

  return {
    name: `pacman: add ${count} packages one by one to one repository`,
    peer: 'repo-add',
    tail,
    ours,
    theirs: { seconds: theirs, tailSeconds: theirsTail, peakMiB: theirsPeak },
  };
}
