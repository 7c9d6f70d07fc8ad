import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HEADER_INTRO_BYTES, RpmHeader, parseHeaderIntro } from '../../src/formats/alt/rpm-header.js';
import { makeTempDir, requireTool, run } from './tools.js';

/** Debian's python3 has the rpm module (python3-rpm); a pyenv python3 on PATH may not. */
const SYSTEM_PYTHON = '/usr/bin/python3';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const blake2b = (b: Buffer) => createHash('blake2b512').update(b).digest('hex');

/** The headers of a pkglist.classic, read with our own header reader. */
export function splitPkglist(bytes: Buffer): RpmHeader[] {
  const out: RpmHeader[] = [];
  for (let at = 0; at < bytes.length; ) {
    const intro = parseHeaderIntro(bytes.subarray(at, at + HEADER_INTRO_BYTES));
    out.push(RpmHeader.parse(bytes.subarray(at, at + intro.totalBytes)));
    at += intro.totalBytes;
  }
  return out;
}

export interface ReleaseLine {
  readonly sum: string;
  readonly size: number;
  readonly name: string;
}

export interface ParsedRelease {
  readonly fields: Readonly<Record<string, string>>;
  readonly md5: readonly ReleaseLine[];
  readonly blake2b: readonly ReleaseLine[];
}

/** `release` as apt-rpm reads it: `Key: value` lines, then the MD5Sum: and BLAKE2b: blocks. */
export function parseRelease(text: string): ParsedRelease {
  const fields: Record<string, string> = {};
  const blocks: Record<string, ReleaseLine[]> = { 'MD5Sum': [], 'BLAKE2b': [] };
  let block: ReleaseLine[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith(' ')) {
      const [sum, size, name] = line.slice(1).split(' ') as [string, string, string];
      block?.push({ sum, size: Number(size), name });
    } else if (line !== '') {
      const colon = line.indexOf(':');
      const key = line.slice(0, colon);
      block = blocks[key];
      if (!block) fields[key] = line.slice(colon + 1).trim();
    }
  }
  return { fields, md5: blocks.MD5Sum!, blake2b: blocks.BLAKE2b! };
}

export interface LibrpmDependency {
  readonly name: string;
  readonly flags: number;
  readonly version: string;
}

/** One pkglist entry as librpm 4.18 loads it (python3-rpm). */
export interface LibrpmHeader {
  readonly name: string;
  readonly epoch: number | null;
  readonly version: string;
  readonly release: string;
  readonly arch: string;
  readonly summary: string;
  readonly description: string;
  readonly size: number;
  readonly buildtime: number;
  readonly license: string;
  readonly packager: string;
  readonly group: string;
  readonly url: string;
  readonly sourcerpm: string;
  readonly provides: readonly LibrpmDependency[];
  readonly requires: readonly LibrpmDependency[];
  readonly conflicts: readonly LibrpmDependency[];
  readonly obsoletes: readonly LibrpmDependency[];
  readonly basenames: readonly string[];
  readonly dirnames: readonly string[];
  readonly dirindexes: readonly number[];
  readonly changelog: readonly { readonly time: number; readonly name: string; readonly text: string }[];
  readonly fileName: string;
  readonly fileSize: number;
  readonly md5: string;
  readonly blake2b: string;
  readonly directory: string;
}

const READ_PKGLIST = `
import json, os, rpm, sys
def deps(h, kind):
    names, flags, versions = h[kind + 'name'], h[kind + 'flags'], h[kind + 'version']
    return [{'name': n, 'flags': f, 'version': v} for n, f, v in zip(names, flags, versions)]
out = []
fd = os.open(sys.argv[1], os.O_RDONLY)
for h in rpm.readHeaderListFromFD(fd):
    out.append({
        'name': h['name'], 'epoch': h['epoch'], 'version': h['version'], 'release': h['release'],
        'arch': h['arch'], 'summary': h['summary'], 'description': h['description'],
        'size': h['size'], 'buildtime': h['buildtime'], 'license': h['license'],
        'packager': h['packager'], 'group': h['group'], 'url': h['url'], 'sourcerpm': h['sourcerpm'],
        'provides': deps(h, 'provide'), 'requires': deps(h, 'require'),
        'conflicts': deps(h, 'conflict'), 'obsoletes': deps(h, 'obsolete'),
        'basenames': h['basenames'], 'dirnames': h['dirnames'], 'dirindexes': h['dirindexes'],
        'changelog': [{'time': t, 'name': n, 'text': x} for t, n, x in
                      zip(h['changelogtime'], h['changelogname'], h['changelogtext'])],
        'fileName': h[1000000], 'fileSize': h[1000001], 'md5': h[1000005], 'blake2b': h[1000009],
        'directory': h[1000010],
    })
os.close(fd)
json.dump(out, sys.stdout)
`;

/** Reads a pkglist.classic with librpm: `rpm.readHeaderListFromFD` on the concatenated headers. */
export async function readPkglistWithLibrpm(bytes: Buffer): Promise<LibrpmHeader[]> {
  requireTool(SYSTEM_PYTHON, 'python3-rpm');
  const dir = await makeTempDir('pkglist');
  try {
    const path = join(dir, 'pkglist.classic');
    await writeFile(path, bytes);
    const result = await run(SYSTEM_PYTHON, ['-c', READ_PKGLIST, path]);
    return JSON.parse(result.stdout.toString('utf8')) as LibrpmHeader[];
  } catch (err) {
    if (String(err).includes("No module named 'rpm'")) throw new Error('missing python3 rpm module: apt-get install python3-rpm');
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `xz -dc`: the real tool, not our codec. */
export async function unxz(bytes: Buffer): Promise<Buffer> {
  requireTool('xz', 'xz-utils');
  return (await run('xz', ['-dc'], { input: bytes })).stdout;
}

type Fetch = (path: string, init?: RequestInit) => Promise<Response>;

async function bytesOf(fetch: Fetch, path: string): Promise<Buffer> {
  const res = await fetch(path);
  assert.equal(res.status, 200, `GET ${path}`);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * What apt-rpm does with `rpm {base} {arch} classic` (alt.md §10, §13): release first, the three
 * files it lists checked by size, MD5 and BLAKE2b, the .xz against the plain list, the headers
 * read with librpm, then every package fetched from RPMS.classic and checked the same way, by
 * `rpm -K --nosignature`, and by its NEVRA. Returns the headers.
 */
export async function simulateAptRpm(fetch: Fetch, base: string, arch: string): Promise<LibrpmHeader[]> {
  requireTool('rpm', 'rpm');
  const release = parseRelease((await bytesOf(fetch, `${base}/${arch}/base/release`)).toString('utf8'));
  assert.equal(release.fields.Architectures, arch);
  const files = new Map<string, Buffer>();
  for (const [i, name] of ['base/pkglist.classic', 'base/pkglist.classic.xz', 'base/release.classic'].entries()) {
    const bytes = await bytesOf(fetch, `${base}/${arch}/${name}`);
    files.set(name, bytes);
    assert.deepEqual(release.md5[i], { sum: md5(bytes), size: bytes.length, name }, `MD5Sum of ${name}`);
    assert.deepEqual(release.blake2b[i], { sum: blake2b(bytes), size: bytes.length, name }, `BLAKE2b of ${name}`);
  }
  const pkglist = files.get('base/pkglist.classic')!;
  assert.ok((await unxz(files.get('base/pkglist.classic.xz')!)).equals(pkglist), '.xz decompresses to the pkglist');
  const headers = await readPkglistWithLibrpm(pkglist);
  const dir = await makeTempDir('apt-rpm');
  try {
    for (const h of headers) {
      const bytes = await bytesOf(fetch, `${base}/${arch}/${h.directory}/${encodeURIComponent(h.fileName)}`);
      assert.deepEqual(
        { size: bytes.length, md5: md5(bytes), blake2b: blake2b(bytes) },
        { size: h.fileSize, md5: h.md5, blake2b: h.blake2b },
        h.fileName,
      );
      const path = join(dir, h.fileName);
      await writeFile(path, bytes);
      const checked = await run('rpm', ['-K', '--nosignature', path]);
      assert.match(checked.stdout.toString('utf8'), /: digests OK\n$/, h.fileName);
      const nevra = (await run('rpm', ['-qp', '--qf', '%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}', path])).stdout.toString();
      assert.equal(nevra, `${h.name}|${h.epoch ?? '(none)'}|${h.version}|${h.release}|${h.arch}`, h.fileName);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return headers;
}
