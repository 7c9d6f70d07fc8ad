import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { makeTempDir, requireTool, run } from './tools.js';

/** `dpkg-deb -Z`: also the control.tar compression since dpkg 1.21. */
export type DebCompression = 'xz' | 'gzip' | 'zstd' | 'none';

export interface DebFixtureOptions {
  readonly name?: string;
  readonly version?: string;
  readonly architecture?: string;
  readonly description?: string;
  /** More control lines, written as given (`Depends:  libc6 ,libfoo`). */
  readonly extra?: readonly string[];
  /** The whole control file, instead of generating one. */
  readonly control?: string;
  /** Payload: path → content; default one file in usr/bin. */
  readonly files?: Readonly<Record<string, string>>;
  readonly compression?: DebCompression;
  /** `dpkg-deb --nocheck`: for fields dpkg-deb itself refuses. */
  readonly nocheck?: boolean;
  /** File name to write; default `{name}_{version without epoch}_{arch}.deb`. */
  readonly fileName?: string;
  readonly outDir?: string;
}

export interface DebFixture {
  readonly path: string;
  readonly fileName: string;
  readonly bytes: Buffer;
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
}

let counter = 0;

/** The control text buildDeb writes for these options. */
export function fixtureControl(o: DebFixtureOptions): string {
  if (o.control !== undefined) return o.control;
  const lines = [
    `Package: ${o.name ?? 'hello-world'}`,
    `Version: ${o.version ?? '1.0.0-1'}`,
    `Architecture: ${o.architecture ?? 'amd64'}`,
    'Maintainer: Test User <test@example.com>',
    ...(o.extra ?? []),
    `Description: ${o.description ?? 'A test package'}`,
    ' This is a longer description',
    ' .',
    ' with a paragraph.',
  ];
  return `${lines.join('\n')}\n`;
}

/** A `.deb` built by the real dpkg-deb (debian.md §9.1). */
export async function buildDeb(o: DebFixtureOptions = {}): Promise<DebFixture> {
  requireTool('dpkg-deb', 'dpkg');
  const name = o.name ?? 'hello-world';
  const version = o.version ?? '1.0.0-1';
  const architecture = o.architecture ?? 'amd64';
  const outDir = o.outDir ?? (await makeTempDir('deb'));
  const root = join(outDir, `root-${process.pid}-${++counter}`);
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await writeFile(join(root, 'DEBIAN', 'control'), fixtureControl(o));
  const files = o.files ?? { [`usr/bin/${name}`]: 'hi\n' };
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) {
      await mkdir(join(root, path), { recursive: true });
      continue;
    }
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  const fileName = o.fileName ?? `${name}_${version.replace(/^\d+:/, '')}_${architecture}.deb`;
  const path = join(outDir, fileName);
  const args = ['--root-owner-group', `-Z${o.compression ?? 'xz'}`, ...(o.nocheck ? ['--nocheck'] : []), '-b', root, path];
  await run('dpkg-deb', args, { env: { SOURCE_DATE_EPOCH: '1700000000' } });
  return { path, fileName, bytes: await readFile(path), name, version, architecture };
}

/** One ar member for arArchive. */
export interface ArMember {
  readonly name: string;
  readonly data: Buffer | string;
}

/** The ten-line ar writer of debian.md §9.1: for containers dpkg-deb never writes. */
export function arArchive(members: readonly ArMember[], magic = '!<arch>\n'): Buffer {
  const parts: Buffer[] = [Buffer.from(magic)];
  for (const m of members) {
    const data = Buffer.from(m.data);
    const field = (v: string, n: number) => v.padEnd(n, ' ').slice(0, n);
    const header = `${field(m.name, 16)}${field('0', 12)}${field('0', 6)}${field('0', 6)}${field('100644', 8)}${field(String(data.length), 10)}\`\n`;
    parts.push(Buffer.from(header, 'latin1'), data);
    if (data.length % 2 === 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** A tar holding exactly these entries (tar-stream's encoder). */
export async function tarOf(entries: readonly { name: string; body: string | Buffer; size?: number }[]): Promise<Buffer> {
  const tar = pack();
  for (const e of entries) {
    const body = Buffer.from(e.body);
    tar.entry({ name: e.name, mode: 0o644, size: body.length }, body);
  }
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const c of tar) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * Forgejo's test archive: an ar with only `control.tar.gz`, whose `control` is cut after 50
 * bytes (its tar header says 50 and Go's writer stops there).
 */
export async function forgejoArchive(name: string, version: string, architecture: string): Promise<Buffer> {
  const text = `Package: ${name}\nVersion: ${version}\nArchitecture: ${architecture}\nDescription: Package Description\n`;
  const control = await tarOf([{ name: 'control', body: Buffer.from(text).subarray(0, 50) }]);
  return arArchive([{ name: 'control.tar.gz', data: gzipSync(control) }]);
}

/** A control.tar in the given compression, made by the real tools. */
export async function compressTar(tar: Buffer, kind: 'gz' | 'xz' | 'zst' | 'bz2' | 'none'): Promise<Buffer> {
  if (kind === 'none') return tar;
  if (kind === 'gz') return gzipSync(tar);
  const tools = { xz: ['xz', 'xz-utils'], zst: ['zstd', 'zstd'], bz2: ['bzip2', 'bzip2'] } as const;
  const [cmd, pkg] = tools[kind];
  requireTool(cmd, pkg);
  return (await run(cmd, kind === 'zst' ? ['-q', '-c'] : ['-c'], { input: tar })).stdout;
}
