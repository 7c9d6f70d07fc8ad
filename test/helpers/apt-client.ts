import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, requireTool, run, type RunResult } from './tools.js';

/** One `sources.list` line; `key` is the armored key for `signed-by`, or `trusted` for none. */
export interface AptSource {
  readonly url: string;
  readonly suite: string;
  readonly components: readonly string[];
  readonly key?: string;
  readonly trusted?: boolean;
}

/** A throwaway apt: its own lists, cache, status and sources (debian.md §9.2). */
export interface AptSandbox {
  readonly dir: string;
  setSources(sources: readonly AptSource[]): Promise<void>;
  /** `apt-get update --error-on=any`; rejects on failure unless `allowFail`. */
  update(options?: { allowFail?: boolean; extra?: readonly string[] }): Promise<RunResult>;
  /** `apt-get download spec…` into a fresh directory; returns it. */
  download(specs: readonly string[], extra?: readonly string[]): Promise<string>;
  aptCache(args: readonly string[]): Promise<RunResult>;
  remove(): Promise<void>;
}

/** Warnings and errors apt printed: a passing run has none. */
export const aptProblems = (stderr: string): string[] => stderr.split('\n').filter((l) => /^(W|E): /.test(l));

export async function createAptSandbox(architecture = 'amd64'): Promise<AptSandbox> {
  requireTool('apt-get', 'apt');
  requireTool('gpgv', 'gpgv');
  const dir = await makeTempDir('apt');
  const a = (p: string) => join(dir, p);
  for (const d of ['lists/partial', 'cache/archives/partial', 'parts', 'keys']) await mkdir(a(d), { recursive: true });
  await writeFile(a('status'), '');
  await writeFile(a('sources.list'), '');
  const options = [
    `Dir::Etc::sourcelist=${a('sources.list')}`,
    `Dir::Etc::sourceparts=${a('parts')}`,
    `Dir::Etc::trustedparts=${a('parts')}`,
    `Dir::Etc::trusted=${a('trusted.gpg')}`,
    `Dir::Etc::preferencesparts=${a('parts')}`,
    `Dir::State::Lists=${a('lists')}`,
    `Dir::State::status=${a('status')}`,
    `Dir::Cache=${a('cache')}`,
    'Debug::NoLocking=1',
    'APT::Sandbox::User=root',
    'Acquire::Languages=none',
    `APT::Architecture=${architecture}`,
    `APT::Architectures=${architecture}`,
  ].flatMap((o) => ['-o', o]);
  const env = { LC_ALL: 'C' };
  let keys = 0;
  return {
    dir,
    async setSources(sources) {
      const lines: string[] = [];
      for (const s of sources) {
        const opts: string[] = [];
        if (s.key !== undefined) {
          const file = a(`keys/key-${++keys}.asc`);
          await writeFile(file, s.key);
          opts.push(`signed-by=${file}`);
        }
        if (s.trusted) opts.push('trusted=yes');
        lines.push(`deb ${opts.length ? `[${opts.join(' ')}] ` : ''}${s.url} ${s.suite} ${s.components.join(' ')}`);
      }
      await writeFile(a('sources.list'), `${lines.join('\n')}\n`);
    },
    update(o = {}) {
      return run('apt-get', [...options, ...(o.extra ?? []), '--error-on=any', 'update'], { env, allowFail: o.allowFail });
    },
    async download(specs, extra = []) {
      const out = await makeTempDir('apt-dl');
      await run('apt-get', [...options, ...extra, 'download', ...specs], { cwd: out, env });
      return out;
    },
    aptCache(args) {
      return run('apt-cache', [...options, ...args], { env });
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
