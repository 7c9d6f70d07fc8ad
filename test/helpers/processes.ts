import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export interface StowageProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
  stop(): Promise<void>;
}

/** Starts `src/main.ts` as a separate Node process (another replica) and waits until it listens. */
export async function spawnStowage(env: Record<string, string>, timeoutMs = 60_000): Promise<StowageProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve('src/main.ts')], {
    env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`stowage did not start:\n${output.join('\n')}`)), timeoutMs);
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        output.push(line);
        const m = /"msg":"listening"/.test(line) ? /"url":"([^"]+)"/.exec(line) : null;
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]!);
        }
      }
    };
    child.stdout!.on('data', onLine);
    child.stderr!.on('data', (c: Buffer) => output.push(c.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stowage exited with ${code}:\n${output.join('\n')}`));
    });
  });
  return {
    url,
    child,
    output,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Waits until the process has written enough matching lines: its log reaches us through a pipe,
 * after the response does, so a test that just got an answer polls with a deadline.
 */
export async function waitForOutput(
  proc: StowageProcess,
  matches: (line: string) => boolean,
  count = 1,
  timeoutMs = 10_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = proc.output.filter(matches);
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 20));
  }
}
