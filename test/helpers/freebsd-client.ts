import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { decompressor } from '../../src/codecs/decompress.js';
import { sniffCompression } from '../../src/codecs/sniff.js';

// freebsd.md §9.4: the real `pkg` is not packaged in Debian, so this does what `pkg update` and
// `pkg install` do against a running server, with the client's rules written out from pkg's
// code (libpkg/pkg_repo.c, pkg_manifest.c, utils.c is_valid_abi) rather than from ours.

export type SignatureMode = 'pubkey' | 'fingerprints' | 'none';

export interface PkgClient {
  /** The repository `url` with `${ABI}` expanded. */
  readonly url: string;
  /** The client's ABI (`pkg config ABI`). */
  readonly abi: string;
  /** The client's OSVERSION; entries built for a newer FreeBSD_version are refused. */
  readonly osversion?: number;
  readonly mode: SignatureMode;
  /** `pubkey:` — the PEM the user saved from repository.key. */
  readonly pubkey?: string;
  /** `fingerprints:` — SHA-256 fingerprints in `trusted/`. */
  readonly trusted?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
}

export interface PkgUpdate {
  /** The archive that was loaded, e.g. `data.pkg`, `packagesite.tgz`. */
  readonly archive: string;
  readonly packages: readonly Record<string, unknown>[];
  /** `Last-Modified` of the archive: pkg's next If-Modified-Since. */
  readonly lastModified: string | null;
}

type UclType = 'string' | 'int' | 'array' | 'object' | 'boolean';

// pkg_manifest.c manifest_keys: a key of another type is "Bad format in manifest for key",
// fatal for the whole repository.
const KEY_TYPES: Readonly<Record<string, readonly UclType[]>> = {
  annotations: ['object'],
  abi: ['string'],
  arch: ['string'],
  categories: ['array'],
  comment: ['string'],
  conflicts: ['array'],
  config: ['array'],
  dep_formula: ['string'],
  deps: ['object'],
  desc: ['string'],
  directories: ['object'],
  dirs: ['array'],
  files: ['object'],
  flatsize: ['int'],
  groups: ['array'],
  licenselogic: ['string'],
  licenses: ['array'],
  maintainer: ['string'],
  messages: ['string', 'array'],
  message: ['string', 'array'],
  name: ['string', 'int'],
  options: ['object'],
  option_defaults: ['object'],
  option_descriptions: ['object'],
  origin: ['string'],
  path: ['string'],
  repopath: ['string'],
  pkgsize: ['int'],
  prefix: ['string'],
  provides: ['array'],
  requires: ['array'],
  scripts: ['object'],
  shlibs: ['array'],
  shlibs_provided: ['array'],
  shlibs_required: ['array'],
  sum: ['string'],
  users: ['array'],
  version: ['string', 'int'],
  vital: ['boolean'],
  www: ['string'],
};
const LICENSE_LOGIC = ['single', 'or', 'dual', 'and', 'multi'];
const PACKING_FORMATS = ['tzst', 'txz', 'tbz', 'tgz', 'tar'];
const MAX_SIGNATURE_MEMBERS = 8;

const uclType = (v: unknown): UclType | 'null' | 'float' =>
  v === null
    ? 'null'
    : typeof v === 'string'
      ? 'string'
      : typeof v === 'boolean'
        ? 'boolean'
        : typeof v === 'number'
          ? Number.isInteger(v)
            ? 'int'
            : 'float'
          : Array.isArray(v)
            ? 'array'
            : 'object';

const hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** fnmatch(3) without FNM_PATHNAME, case-insensitive: `*`, `?`, `[...]`. */
function fnmatch(pattern: string, text: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'is').test(text);
}

/** libpkg's is_valid_abi: the entry's ABI is a case-insensitive prefix of ours, or a glob matching it. */
export function isValidAbi(entryAbi: string, clientAbi: string): boolean {
  return clientAbi.toLowerCase().startsWith(entryAbi.toLowerCase()) || fnmatch(entryAbi, clientAbi);
}

/** pkg's meta.conf schema: `version` must be an integer; strings for the names. */
function parseMetaConf(text: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^\s*([a-z_]+)\s*=\s*(?:"([^"]*)"|(\d+))\s*;\s*$/.exec(line);
    assert.ok(m, `meta.conf: unparsable line ${JSON.stringify(line)}`);
    out[m[1]!] = m[2] !== undefined ? m[2] : Number(m[3]);
  }
  assert.ok(out.version === 1 || out.version === 2, 'meta.conf: version must be the integer 1 or 2');
  return out;
}

/** Every member of a catalogue archive, with pkg's checks on names and counts. */
async function readArchive(bytes: Buffer): Promise<Map<string, Buffer>> {
  const kind = sniffCompression(bytes);
  assert.ok(kind, 'catalogue archive: unknown compression');
  const members = new Map<string, Buffer>();
  const tar = extract();
  tar.on('entry', (header, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: unknown) => parts.push(Buffer.from(c as Uint8Array)));
    stream.on('end', () => {
      assert.equal(header.type, 'file', `${header.name}: not a regular file`);
      assert.ok(!members.has(header.name), `duplicate member ${header.name}`);
      members.set(header.name, Buffer.concat(parts));
      next();
    });
  });
  await pipeline(Readable.from([bytes]), decompressor(kind), tar);
  const signatures = [...members.keys()].filter((n) => n.endsWith('.sig') || n.endsWith('.pub'));
  assert.ok(signatures.length <= 2 * MAX_SIGNATURE_MEMBERS, 'too many signature members');
  for (const n of signatures) assert.ok(members.get(n)!.length <= 1024 * 1024, `${n} over 1 MiB`);
  return members;
}

/** pkg_repo.c: the signature checks of one mode over the catalogue member. */
function checkSignature(client: PkgClient, members: Map<string, Buffer>, member: string): void {
  const content = members.get(member);
  assert.ok(content, `archive lacks ${member}`);
  const digest = Buffer.from(hex(content), 'ascii');
  if (client.mode === 'none') return;
  if (client.mode === 'pubkey') {
    const raw = members.get('signature');
    assert.ok(raw, 'No signature found');
    // pkg ≥ 1.21 strips one trailing NUL; older ones always drop the last byte: the same here.
    const signature = raw[raw.length - 1] === 0 ? raw.subarray(0, -1) : raw;
    assert.ok(client.pubkey, 'pubkey mode without a pubkey');
    assert.ok(verify('sha256', digest, createPublicKey(client.pubkey), signature), 'Invalid signature, removing repository');
    return;
  }
  const pairs = [...members.keys()].filter((n) => n.endsWith('.sig')).map((n) => n.slice(0, -4));
  assert.ok(pairs.length > 0, 'No signature found');
  let trustedValid = 0;
  for (const base of pairs) {
    const signature = members.get(`${base}.sig`)!;
    const pub = members.get(`${base}.pub`);
    assert.ok(pub, `${base}.sig without ${base}.pub`);
    if (!(client.trusted ?? []).includes(hex(pub))) continue;
    assert.ok(verify('sha256', digest, createPublicKey(pub), signature), 'Invalid signature, removing repository');
    trustedValid++;
  }
  assert.ok(trustedValid > 0, 'No trusted public keys found');
}

/** Per-entry rules: one bad entry aborts the repository's update (freebsd.md §5.8). */
export function checkEntry(client: PkgClient, entry: unknown): Record<string, unknown> {
  assert.equal(uclType(entry), 'object', 'entry is not an object');
  const e = entry as Record<string, unknown>;
  for (const [key, value] of Object.entries(e)) {
    const allowed = KEY_TYPES[key];
    if (allowed) assert.ok((allowed as readonly string[]).includes(uclType(value)), `Bad format in manifest for key: ${key}`);
  }
  if (e.licenselogic !== undefined) assert.ok(LICENSE_LOGIC.includes(String(e.licenselogic)), 'Unknown license logic');
  for (const key of ['name', 'version', 'comment', 'desc', 'maintainer', 'prefix', 'sum']) {
    assert.ok(e[key] !== undefined && e[key] !== null, `entry without ${key}`);
  }
  assert.ok(e.abi !== undefined || e.arch !== undefined, 'entry without abi');
  assert.ok(e.path !== undefined || e.repopath !== undefined, 'entry without path');
  const abi = String(e.abi ?? e.arch);
  assert.ok(isValidAbi(abi, client.abi), `wrong ABI ${abi} for ${client.abi}`);
  const annotations = e.annotations as Record<string, unknown> | undefined;
  const built = annotations?.FreeBSD_version;
  if (built !== undefined && client.osversion !== undefined) {
    assert.ok(Number(built) <= client.osversion, `built for FreeBSD_version ${String(built)} > ${client.osversion}`);
  }
  assert.match(String(e.sum), /^[0-9a-f]{64}$/, 'sum is not lowercase hex SHA-256');
  assert.ok(Number.isSafeInteger(e.pkgsize), 'pkgsize is not an integer');
  return e;
}

/** Parses `data` exactly as pkg ≥ 1.21 does: one line, three keys, in order. */
function parseData(member: Buffer): unknown[] {
  const text = member.toString('utf8');
  assert.ok(!text.includes('\n'), 'data is not one line: "Invalid data"');
  const value = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(value), ['groups', 'expired_packages', 'packages']);
  assert.ok(Array.isArray(value.groups) && Array.isArray(value.expired_packages) && Array.isArray(value.packages));
  return value.packages as unknown[];
}

/** packagesite.yaml: one JSON object per `\n`-terminated line. */
function parsePackagesite(member: Buffer): unknown[] {
  const text = member.toString('utf8');
  if (text === '') return [];
  assert.ok(text.endsWith('\n'), 'packagesite.yaml does not end in a newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
}

async function get(client: PkgClient, name: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${client.url}/${name}`, { headers: { ...client.headers, ...headers } });
}

/**
 * `pkg update` (freebsd.md §5.8): meta.conf, then data.pkg with its fallbacks, then
 * packagesite; the signature of the mode; every entry's rules. Throws where pkg would fail.
 */
export async function pkgUpdate(client: PkgClient, ifModifiedSince?: string): Promise<PkgUpdate | 'up to date'> {
  const conditional: Record<string, string> = ifModifiedSince ? { 'If-Modified-Since': ifModifiedSince } : {};
  let meta: Record<string, string | number> = { packing_format: 'txz', manifests: 'packagesite.yaml', data: 'data' };
  const metaRes = await get(client, 'meta.conf', conditional);
  if (metaRes.status === 200) meta = parseMetaConf(await metaRes.text());
  else if (metaRes.status === 404) assert.equal((await get(client, 'meta.txz')).status, 404);
  else if (metaRes.status !== 304) assert.fail(`meta.conf: ${metaRes.status}`);
  const format = String(meta.packing_format);
  assert.ok(PACKING_FORMATS.includes(format), `packing_format ${format}`);

  const dataName = String(meta.data ?? 'data');
  const siteName = String(meta.manifests).replace(/\.yaml$/, '');
  for (const [base, member, parse] of [
    [dataName, dataName, parseData],
    [siteName, String(meta.manifests), parsePackagesite],
  ] as const) {
    for (const archive of [`${base}.pkg`, `${base}.${format}`]) {
      const res = await get(client, archive, conditional);
      if (res.status === 404) continue;
      if (res.status === 304) return 'up to date';
      assert.equal(res.status, 200, `${archive}: ${res.status}`);
      const members = await readArchive(Buffer.from(await res.arrayBuffer()));
      checkSignature(client, members, member);
      const packages = parse(members.get(member)!).map((e) => checkEntry(client, e));
      return { archive, packages, lastModified: res.headers.get('last-modified') };
    }
  }
  assert.fail('no catalogue: data and packagesite both 404');
}

/** `pkg install`: fetch `<url>/<path>` verbatim and compare size, then SHA-256, with the entry. */
export async function pkgFetch(client: PkgClient, entry: Record<string, unknown>): Promise<Buffer> {
  const path = String(entry.repopath ?? entry.path);
  const res = await get(client, path);
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(bytes.length, entry.pkgsize, `${path}: size differs from pkgsize`);
  assert.equal(hex(bytes), entry.sum, `${path}: checksum mismatch`);
  return bytes;
}

/** Update, then fetch every listed package: what a user's `pkg update && pkg install -a` does. */
export async function checkLikePkg(client: PkgClient): Promise<PkgUpdate> {
  const update = await pkgUpdate(client);
  if (update === 'up to date') assert.fail('a first update cannot be up to date');
  for (const entry of update.packages) await pkgFetch(client, entry);
  return update;
}
