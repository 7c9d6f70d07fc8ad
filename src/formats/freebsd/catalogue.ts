import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { compressor } from '../../codecs/compress.js';
import { signatureMembers, type DigestSigner } from './signature.js';

// freebsd.md §5.2: constant, 167 bytes. The member and archive names are what clients ask for.
export const META_CONF =
  'version = 2;\n' +
  'packing_format = "tgz";\n' +
  'manifests = "packagesite.yaml";\n' +
  'data = "data";\n' +
  'filesite = "files";\n' +
  'manifests_archive = "packagesite";\n' +
  'filesite_archive = "files";\n';

/** The two catalogue archives and the member each signs and carries (freebsd.md §5.4, §5.5). */
export type CatalogueKind = 'data' | 'packagesite';

export const CATALOGUE_MEMBER: Readonly<Record<CatalogueKind, string>> = {
  data: 'data',
  packagesite: 'packagesite.yaml',
};

/** What a name under a view serves (freebsd.md §5.7), or undefined for a 404. */
export type CatalogueFile = { readonly kind: 'meta' } | { readonly kind: CatalogueKind };

// pkg 1.13–1.16 ask `packagesite.<packing_format>`, pkg < 1.13 `packagesite.txz`: same bytes.
const ARCHIVE_NAME = /^(data|packagesite)\.(pkg|tzst|txz|tbz|tgz|tar)$/;

export function catalogueFileOf(name: string): CatalogueFile | undefined {
  if (name === 'meta.conf' || name === 'meta') return { kind: 'meta' };
  const m = ARCHIVE_NAME.exec(name);
  return m ? { kind: m[1] as CatalogueKind } : undefined;
}

/** How a member frames its entries: data (§5.4) is one JSON line, packagesite (§5.5) one per line. */
interface Framing {
  readonly prefix: Buffer;
  readonly separator: Buffer;
  readonly terminator: Buffer;
  readonly suffix: Buffer;
}

const EMPTY = Buffer.alloc(0);
const FRAMING: Readonly<Record<CatalogueKind, Framing>> = {
  // One line, no newline, keys in pkg's order: a pretty-printed `data` is "Invalid data".
  data: {
    prefix: Buffer.from('{"groups":[],"expired_packages":[],"packages":['),
    separator: Buffer.from(','),
    terminator: EMPTY,
    suffix: Buffer.from(']}'),
  },
  packagesite: { prefix: EMPTY, separator: EMPTY, terminator: Buffer.from('\n'), suffix: EMPTY },
};
/** Entries are small; batching them keeps chunk counts (and hashing calls) low. */
const CHUNK_BYTES = 64 * 1024;

async function* framed(framing: Framing, entries: AsyncIterable<string>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [framing.prefix];
  let bytes = framing.prefix.length;
  let first = true;
  for await (const entry of entries) {
    const text = Buffer.from(entry, 'utf8');
    if (!first) pending.push(framing.separator);
    first = false;
    pending.push(text, framing.terminator);
    bytes += framing.separator.length + text.length + framing.terminator.length;
    if (bytes >= CHUNK_BYTES) {
      yield Buffer.concat(pending);
      pending = [];
      bytes = 0;
    }
  }
  pending.push(framing.suffix);
  const last = Buffer.concat(pending);
  if (last.length > 0) yield last;
}

/**
 * A catalogue member from entries that are each one line of JSON (freebsd.md §4.1): `data`
 * (§5.4) or `packagesite.yaml` (§5.5, same entries, same order).
 */
export function catalogueMember(kind: CatalogueKind, entries: AsyncIterable<string>): AsyncGenerator<Buffer> {
  return framed(FRAMING[kind], entries);
}

export interface MemberDigest {
  readonly size: number;
  readonly sha256: string;
}

/** Size and hex SHA-256 of both members in one pass over the entries, keeping none of them. */
export async function measureMembers(entries: AsyncIterable<string>): Promise<Record<CatalogueKind, MemberDigest>> {
  const kinds = Object.keys(FRAMING) as CatalogueKind[];
  const state = kinds.map((kind) => ({ kind, framing: FRAMING[kind], hash: createHash('sha256'), size: 0 }));
  const add = (s: (typeof state)[number], bytes: Buffer) => {
    s.hash.update(bytes);
    s.size += bytes.length;
  };
  for (const s of state) add(s, s.framing.prefix);
  let first = true;
  for await (const entry of entries) {
    const text = Buffer.from(entry, 'utf8');
    for (const s of state) {
      if (!first) add(s, s.framing.separator);
      add(s, text);
      add(s, s.framing.terminator);
    }
    first = false;
  }
  const out = {} as Record<CatalogueKind, MemberDigest>;
  for (const s of state) {
    add(s, s.framing.suffix);
    out[s.kind] = { size: s.size, sha256: s.hash.digest('hex') };
  }
  return out;
}

export interface CatalogueArchive {
  readonly kind: CatalogueKind;
  /** The member's bytes, streamed; called once, after `size` and `sha256` were measured. */
  readonly content: () => AsyncIterable<Buffer>;
  readonly size: number;
  readonly sha256: string;
  readonly sign: DigestSigner;
  readonly publicKeyPem: string;
  /** Catalogue time in whole seconds: every member's mtime (freebsd.md §5.3). */
  readonly mtimeS: number;
}

/**
 * One catalogue archive (freebsd.md §5.3, §6): a gzip'd ustar with the signature members, then
 * the catalogue member streamed. Same inputs, same bytes: PKCS#1 v1.5 signing is deterministic
 * and gzip runs at a fixed level with mtime 0.
 */
export function writeCatalogueArchive(a: CatalogueArchive): Readable {
  const member = CATALOGUE_MEMBER[a.kind];
  const header = (name: string, size: number) => ({
    name,
    size,
    type: 'file' as const,
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: 'root',
    gname: 'wheel',
    mtime: new Date(a.mtimeS * 1000),
  });
  async function* tarBytes(): AsyncGenerator<Buffer> {
    const tar = pack();
    const fill = (async () => {
      for (const m of signatureMembers(member, a.sign(a.sha256), a.publicKeyPem)) {
        tar.entry(header(m.name, m.content.length), m.content);
      }
      const body = tar.entry(header(member, a.size));
      body.on('error', () => {}); // destroyed with the archive, which reports the cause
      const hash = createHash('sha256');
      let written = 0;
      for await (const chunk of a.content()) {
        hash.update(chunk);
        written += chunk.length;
        if (!body.write(chunk)) await new Promise<void>((resolve) => body.once('drain', () => resolve()));
      }
      // The signature covers what was measured: a member that changed since must not ship.
      if (written !== a.size || hash.digest('hex') !== a.sha256) throw new Error('catalogue member changed while written');
      await new Promise<void>((resolve, reject) => body.end((err?: Error | null) => (err ? reject(err) : resolve())));
      tar.finalize();
    })();
    fill.catch((err: unknown) => tar.destroy(err instanceof Error ? err : new Error(String(err))));
    for await (const chunk of tar) yield Buffer.from(chunk as Uint8Array);
    await fill;
  }
  const out = compressor('gz');
  pipeline(Readable.from(tarBytes()), out).catch(() => {}); // `out` carries the error to its reader
  return out;
}
