import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunOptions {
  readonly cwd?: string;
  readonly input?: Buffer | string;
  readonly env?: Readonly<Record<string, string>>;
  /** Resolve with a non-zero exit code instead of rejecting. */
  readonly allowFail?: boolean;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

const checked = new Map<string, boolean>();

/**
 * Fails (never skips) when `command` is not installed, naming the Debian package to install:
 * a test that cannot run its real tool has not passed.
 */
export function requireTool(command: string, debianPackage: string): void {
  let found = checked.get(command);
  if (found === undefined) {
    found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command]).status === 0;
    checked.set(command, found);
  }
  if (!found) throw new Error(`missing tool ${command}: apt-get install ${debianPackage}`);
}

/** Runs `command` without a shell; rejects on a non-zero exit unless `allowFail`. */
export function run(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.stdin.on('error', () => {}); // the tool may exit before reading all input
    child.on('close', (code, signal) => {
      const result = {
        code: code ?? 128,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString('utf8'),
      };
      if (result.code !== 0 && !options.allowFail) {
        const why = signal ? `signal ${signal}` : `exit ${result.code}`;
        reject(new Error(`${command} ${args.join(' ')}: ${why}: ${result.stderr.trim()}`));
      } else resolve(result);
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A fresh directory under the OS temp dir; the caller removes it. */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `stowage-${prefix}-`));
}
