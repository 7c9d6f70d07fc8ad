import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { makeTempDir, requireTool } from './tools.js';

/** Debian's `aptly api serve` on a throwaway root (debian.md §9.4). */
export interface AptlyPeer {
  readonly url: string;
  readonly rootDir: string;
  /** `1.5.0` on Debian 12; branch on it where the API differs. */
  readonly version: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startAptlyPeer(timeoutMs = 30_000): Promise<AptlyPeer> {
  requireTool('aptly', 'aptly');
  const dir = await makeTempDir('aptly-peer');
  const rootDir = join(dir, 'aptly');
  const config = join(dir, 'aptly.conf');
  await writeFile(config, JSON.stringify({ rootDir, architectures: [], gpgDisableSign: true, gpgDisableVerify: true }));
  const port = await freePort();
  const child: ChildProcess = spawn('aptly', [`-config=${config}`, 'api', 'serve', `-listen=127.0.0.1:${port}`, '-no-lock'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  let version = '';
  for (;;) {
    if (child.exitCode !== null) throw new Error(`aptly exited: ${output.join('')}`);
    try {
      const res = await fetch(`${url}/api/version`);
      version = ((await res.json()) as { Version: string }).Version;
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`aptly did not start: ${output.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    rootDir,
    version: /^(\d+\.\d+\.\d+)/.exec(version)?.[1] ?? version,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
