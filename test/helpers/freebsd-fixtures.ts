import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pack } from 'tar-stream';
import { makeTempDir, requireTool, run } from './tools.js';

// freebsd.md §9.1: `.pkg` fixtures built at test time, by bsdtar as `pkg create` lays them out,
// or by tar-stream plus the compression CLIs for archives no well-behaved tool writes.

/** How a fixture is compressed; `bzip2` is for the refused case. */
export type FreeBsdCompression = 'zst' | 'xz' | 'gz' | 'none' | 'bzip2';

/** The manifest of the spec's example entry (freebsd.md §4.1), minus computed keys. */
export const HELLO_MANIFEST: Readonly<Record<string, unknown>> = {
  name: 'hello',
  origin: 'misc/hello',
  version: '1.0_1',
  comment: 'Hello',
  maintainer: 'pkg@example.org',
  www: 'https://example.org/hello',
  abi: 'FreeBSD:14:amd64',
  arch: 'freebsd:14:x86:64',
  prefix: '/usr/local',
  flatsize: 26,
  licenselogic: 'single',
  licenses: ['BSD2CLAUSE'],
  desc: 'Demo %c3%a9t%c3%a9 100%25',
  categories: ['misc'],
  annotations: { FreeBSD_version: '1402000' },
};

export interface FreeBsdFixtureOptions {
  /** Merged over HELLO_MANIFEST; a key set to `undefined` is left out. */
  readonly manifest?: Readonly<Record<string, unknown>>;
  /** Raw `+COMPACT_MANIFEST` text instead of the JSON; `null` writes none. */
  readonly compact?: string | null;
  /** Raw `+MANIFEST` text instead of the JSON with `files`; `null` writes none. */
  readonly full?: string | null;
  /** Installed files: absolute path → content. Default: `<prefix>/bin/<name>`. */
  readonly files?: Readonly<Record<string, string>>;
  readonly compression?: FreeBsdCompression;
  /** Where to write the package; default: a new temp dir. */
  readonly outDir?: string;
}

export interface FreeBsdFixture {
  readonly path: string;
  readonly bytes: Buffer<ArrayBuffer>;
  /** `<name>-<version>.pkg`. */
  readonly fileName: string;
  readonly sha256: string;
  /** The compact manifest object as written (before any raw override). */
  readonly manifest: Readonly<Record<string, unknown>>;
}

const BSDTAR_FLAGS: Readonly<Record<FreeBsdCompression, readonly string[]>> = {
  zst: ['--zstd'],
  xz: ['-J'],
  gz: ['-z'],
  none: [],
  bzip2: ['-j'],
};

const COMPRESSORS: Readonly<Record<FreeBsdCompression, readonly [string, string[], string] | undefined>> = {
  zst: ['zstd', ['-q', '-c'], 'zstd'],
  xz: ['xz', ['-c'], 'xz-utils'],
  gz: ['gzip', ['-c', '-n'], 'gzip'],
  none: undefined,
  bzip2: ['bzip2', ['-c'], 'bzip2'],
};

let counter = 0;

/** The manifest object for these options: HELLO_MANIFEST with the overrides applied. */
export function fixtureManifest(o: FreeBsdFixtureOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...HELLO_MANIFEST };
  for (const [key, value] of Object.entries(o.manifest ?? {})) {
    if (value === undefined) delete out[key];
    else out[key] = value;
  }
  return out;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * A `.pkg` as `pkg create` lays it out: `+COMPACT_MANIFEST`, `+MANIFEST`, then the files under
 * absolute names, packed by bsdtar (freebsd.md §9.1).
 */
export async function buildFreeBsdPackage(o: FreeBsdFixtureOptions = {}): Promise<FreeBsdFixture> {
  requireTool('bsdtar', 'libarchive-tools');
  const manifest = fixtureManifest(o);
  const name = String(manifest.name ?? 'hello');
  const version = String(manifest.version ?? '1.0');
  const prefix = typeof manifest.prefix === 'string' ? manifest.prefix : '/usr/local';
  const files = o.files ?? { [`${prefix}/bin/${name.replace(/[^A-Za-z0-9._+-]/g, '_')}`]: `#!/bin/sh\necho ${name}\n` };
  const work = o.outDir ?? (await makeTempDir('freebsd-fixture'));
  const stage = join(work, `stage-${process.pid}-${++counter}`);
  const members: string[] = [];

  if (o.compact !== null) {
    await mkdir(stage, { recursive: true });
    await writeFile(join(stage, '+COMPACT_MANIFEST'), o.compact ?? JSON.stringify(manifest));
    members.push('+COMPACT_MANIFEST');
  }
  if (o.full !== null) {
    const sums = Object.fromEntries(Object.entries(files).map(([p, c]) => [p, `1$${sha256(Buffer.from(c))}`]));
    const full = o.full ?? JSON.stringify({ ...manifest, files: sums, scripts: { 'post-install': 'echo installed' } });
    await mkdir(stage, { recursive: true });
    await writeFile(join(stage, '+MANIFEST'), full);
    members.push('+MANIFEST');
  }
  for (const [path, content] of Object.entries(files)) {
    const staged = join(stage, 'files', path);
    await mkdir(dirname(staged), { recursive: true });
    await writeFile(staged, content);
    members.push(`files${path}`);
  }
  const compression = o.compression ?? 'zst';
  const out = join(work, `${name}-${version}-${counter}.pkg`);
  await run('bsdtar', [
    ...BSDTAR_FLAGS[compression],
    '-cf',
    out,
    '-P',
    '--uid',
    '0',
    '--gid',
    '0',
    '--uname',
    'root',
    '--gname',
    'wheel',
    '-C',
    stage,
    '-s',
    ',^files/,/,',
    ...members,
  ]);
  const bytes = Buffer.from(await readFile(out));
  return { path: out, bytes, fileName: `${name}-${version}.pkg`, sha256: sha256(bytes), manifest };
}

/** One member of a hand-made archive. */
export interface RawMember {
  readonly name: string;
  readonly content?: string | Buffer;
  readonly type?: 'file' | 'directory';
}

/** A tar with exactly these members (tar-stream), compressed by the real tool. */
export async function buildRawFreeBsdPackage(
  members: readonly RawMember[],
  compression: FreeBsdCompression = 'zst',
): Promise<Buffer<ArrayBuffer>> {
  const tar = pack();
  for (const m of members) {
    const header = { name: m.name, mode: 0o644, uid: 0, gid: 0, uname: 'root', gname: 'wheel' };
    if (m.type === 'directory') tar.entry({ ...header, type: 'directory', mode: 0o755 });
    else tar.entry({ ...header, type: 'file' }, m.content ?? '');
  }
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(Buffer.from(chunk as Uint8Array));
  const plain = Buffer.concat(chunks);
  const compressor = COMPRESSORS[compression];
  if (!compressor) return Buffer.from(plain);
  requireTool(compressor[0], compressor[2]);
  return Buffer.from((await run(compressor[0], compressor[1], { input: plain })).stdout);
}
