import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, requireTool, run, type RunResult } from './tools.js';

export interface PacmanRepoConf {
  readonly name: string;
  readonly server: string;
}

/** A throwaway pacman: its own config, db, cache, root and keyring (pacman.md §10.2). */
export interface PacmanSandbox {
  readonly dir: string;
  readonly conf: string;
  pacman(args: readonly string[], allowFail?: boolean): Promise<RunResult>;
  /** pacman-key --init, --add the key, --lsign-key the user ID's address. */
  trust(armoredKey: string, email: string): Promise<void>;
  remove(): Promise<void>;
}

export async function createPacmanSandbox(
  repos: readonly PacmanRepoConf[],
  sigLevel = 'Optional TrustAll',
): Promise<PacmanSandbox> {
  requireTool('pacman', 'pacman-package-manager');
  const dir = await makeTempDir('pacman');
  for (const sub of ['db', 'cache', 'root', 'gnupg']) await mkdir(join(dir, sub), { recursive: true });
  const conf = join(dir, 'pacman.conf');
  const text = [
    '[options]',
    'Architecture = x86_64',
    `DBPath   = ${dir}/db/`,
    `CacheDir = ${dir}/cache/`,
    `RootDir  = ${dir}/root/`,
    `GPGDir   = ${dir}/gnupg/`,
    `LogFile  = ${dir}/pacman.log`,
    `SigLevel = ${sigLevel}`,
    'LocalFileSigLevel = Optional',
    'DisableDownloadTimeout',
    '',
    ...repos.flatMap((r) => [`[${r.name}]`, `Server = ${r.server}`, '']),
  ].join('\n');
  await writeFile(conf, text);
  return {
    dir,
    conf,
    pacman: (args, allowFail = false) =>
      run('pacman', ['--config', conf, '--noconfirm', ...args], { allowFail, env: { LC_ALL: 'C' } }),
    async trust(armoredKey, email) {
      requireTool('pacman-key', 'pacman-package-manager');
      const keyFile = join(dir, 'repository.key');
      await writeFile(keyFile, armoredKey);
      const gpgdir = ['--gpgdir', join(dir, 'gnupg'), '--config', conf];
      await run('pacman-key', [...gpgdir, '--init']);
      await run('pacman-key', [...gpgdir, '--add', keyFile]);
      await run('pacman-key', [...gpgdir, '--lsign-key', email]);
    },
    async remove() {
      // gpg-agent started by pacman-key lives in the sandbox's keyring dir.
      await run('gpgconf', ['--homedir', join(dir, 'gnupg'), '--kill', 'gpg-agent'], { allowFail: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
