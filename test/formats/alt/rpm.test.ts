import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { isHttpError } from '../../../src/errors.js';
import { LEAD_BYTES, SIGNATURE_TAG, TAG, UTF8_TEXT, readFields, readRpm, type RpmPackage } from '../../../src/formats/alt/rpm.js';
import { HEADER_INTRO_BYTES, RpmHeader, writeHeader, RPM_TYPE } from '../../../src/formats/alt/rpm-header.js';
import { FIXTURES, buildRpm, rpmQuery, type RpmFixture } from '../../helpers/rpm-fixtures.js';

/** Feeds `bytes` in chunks of `size` bytes, as a slow upload would. */
const chunked = (bytes: Buffer, size: number) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );

const read = (bytes: Buffer, size = 65536) => readRpm(chunked(bytes, size));

async function rejects(bytes: Buffer, message: string | RegExp): Promise<void> {
  await assert.rejects(read(bytes), (err: unknown) => {
    assert.ok(isHttpError(err), `not an HttpError: ${String(err)}`);
    assert.equal(err.status, 400);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

/** Where the main header starts: after the lead, the signature header and its padding. */
function mainHeaderStart(bytes: Buffer): number {
  const n = bytes.readUInt32BE(LEAD_BYTES + 8);
  const hsize = bytes.readUInt32BE(LEAD_BYTES + 12);
  return LEAD_BYTES + HEADER_INTRO_BYTES + 16 * n + hsize + ((8 - (hsize % 8)) % 8);
}

/** A copy whose signature index entry for `tag` is renamed to an unused tag: as if absent. */
function withoutSignatureTag(bytes: Buffer, tag: number): Buffer {
  const out = Buffer.from(bytes);
  const n = out.readUInt32BE(LEAD_BYTES + 8);
  for (let i = 0; i < n; i++) {
    const at = LEAD_BYTES + HEADER_INTRO_BYTES + 16 * i;
    if (out.readUInt32BE(at) === tag) out.writeUInt32BE(5999, at);
  }
  return out;
}

const flip = (bytes: Buffer, at: number) => {
  const out = Buffer.from(bytes);
  out[at] = out[at]! ^ 0x01;
  return out;
};

// Separators no fixture value contains; rpm prints them as they are.
const SEP = '\x1f';
const END = '\x1e';

// One `rpm -qp --qf` for the scalars, one per array: rpm prints `(none)` for a missing tag.
const SCALARS = ['NAME', 'EPOCH', 'VERSION', 'RELEASE', 'ARCH', 'SUMMARY', 'LICENSE', 'GROUP', 'PACKAGER', 'SOURCERPM', 'URL', 'BUILDTIME', 'SIZE', 'VENDOR', 'BUILDHOST'];

async function expectedScalars(f: RpmFixture): Promise<Record<string, string>> {
  const out = await rpmQuery(f.path, SCALARS.map((t) => `%{${t}}`).join(SEP));
  return Object.fromEntries(out.split(SEP).map((v, i) => [SCALARS[i]!, v]));
}

async function expectedArray(f: RpmFixture, format: string): Promise<string[]> {
  const out = await rpmQuery(f.path, `[${format}${END}]`);
  return out.split(END).slice(0, -1);
}

const orNone = (s: string) => (s === '' ? '(none)' : s);

describe('alt readRpm (alt.md §3)', function () {
  this.timeout(60_000);
  const fixtures: Record<string, RpmFixture> = {};

  before(async () => {
    for (const [key, options] of Object.entries(FIXTURES)) fixtures[key] = await buildRpm(options);
  });

  for (const key of Object.keys(FIXTURES)) {
    it(`reads every §3.4 field of the ${key} fixture as rpm -qp does`, async () => {
      const f = fixtures[key]!;
      const pkg = await read(f.bytes);
      const m = pkg.metadata;
      const want = await expectedScalars(f);
      assert.deepEqual(
        {
          NAME: m.name,
          EPOCH: m.epoch === null ? '(none)' : String(m.epoch),
          VERSION: m.version,
          RELEASE: m.release,
          ARCH: m.arch,
          SUMMARY: m.summary,
          LICENSE: m.license,
          GROUP: orNone(m.group),
          PACKAGER: orNone(m.packager),
          SOURCERPM: m.sourceRpm,
          URL: orNone(m.url),
          BUILDTIME: String(m.buildTime),
          SIZE: String(m.installedSize),
          VENDOR: orNone(m.vendor),
          BUILDHOST: m.buildHost,
        },
        want,
      );
      assert.equal(m.description, await rpmQuery(f.path, '%{DESCRIPTION}'));
      const deps = async (kind: string) =>
        (await expectedArray(f, `%{${kind}NAME}${SEP}%{${kind}FLAGS}${SEP}%{${kind}VERSION}`)).map((l) => {
          const [name, flags, version] = l.split(SEP) as [string, string, string];
          return { name, flags: Number(flags), version };
        });
      assert.deepEqual(m.provides, await deps('PROVIDE'));
      assert.deepEqual(m.requires, await deps('REQUIRE'));
      assert.deepEqual(m.conflicts, await deps('CONFLICT'));
      assert.deepEqual(m.obsoletes, await deps('OBSOLETE'));
      const files = (await expectedArray(f, `%{FILENAMES}${SEP}%{FILEMODES}${SEP}%{FILEFLAGS}`)).map((l) => {
        const [path, mode, flags] = l.split(SEP) as [string, string, string];
        return { path, mode: Number(mode), flags: Number(flags) };
      });
      assert.deepEqual(m.files, files);
      const changelog = (await expectedArray(f, `%{CHANGELOGTIME}${SEP}%{CHANGELOGNAME}${SEP}%{CHANGELOGTEXT}`)).map((l) => {
        const [time, name, text] = l.split(SEP) as [string, string, string];
        return { time: Number(time), name, text };
      });
      assert.deepEqual(m.changelog, changelog);
      assert.equal(pkg.leadType, 0);
      assert.equal(pkg.signedBytes, f.bytes.length - mainHeaderStart(f.bytes));
    });
  }

  it('gives the same result whatever the chunk sizes of the upload', async () => {
    const f = fixtures.full!;
    const whole = await read(f.bytes);
    for (const size of [1, 7, 96, 113, 4096]) {
      const pkg: RpmPackage = await read(f.bytes, size);
      assert.deepEqual(pkg.metadata, whole.metadata, `chunks of ${size}`);
      assert.deepEqual(pkg.header.bytes, whole.header.bytes);
    }
  });

  it('carries the signature tags that make every §3.3 check run (Debian rpmbuild)', async () => {
    const pkg = await read(fixtures.full!.bytes);
    for (const tag of [62, 269, 273, 1000, 1004, 1007, 1008]) assert.ok(pkg.signature.has(tag), `tag ${tag}`);
    const [sigSize, archiveSize] = (await rpmQuery(fixtures.full!.path, '%{SIGSIZE} %{ARCHIVESIZE}')).split(' ');
    assert.deepEqual([pkg.signedBytes, pkg.payloadSize], [Number(sigSize), Number(archiveSize)]);
  });

  it('checks the header digest through tag 273, and through 269 alone', async () => {
    const f = fixtures.full!;
    const inHeader = f.bytes.indexOf('A friendly greeter', mainHeaderStart(f.bytes)) + 2;
    await rejects(flip(f.bytes, inHeader), 'RPM header digest mismatch');
    const sha1Only = withoutSignatureTag(f.bytes, SIGNATURE_TAG.SHA256);
    assert.equal((await read(sha1Only)).signature.has(SIGNATURE_TAG.SHA256), false);
    await rejects(flip(sha1Only, inHeader), 'RPM header digest mismatch');
    // Neither digest: the header is taken as it is, and the MD5 of header and payload catches it.
    const none = withoutSignatureTag(sha1Only, SIGNATURE_TAG.SHA1);
    await rejects(flip(none, inHeader), 'RPM payload digest mismatch');
  });

  it('checks the size and MD5 of header and payload (D21)', async () => {
    const f = fixtures.full!;
    await rejects(f.bytes.subarray(0, f.bytes.length - 1), 'RPM size mismatch');
    await rejects(Buffer.concat([f.bytes, Buffer.from([0])]), 'RPM size mismatch');
    await rejects(flip(f.bytes, f.bytes.length - 10), 'RPM payload digest mismatch');
  });

  it('refuses what is not an RPM, or ends inside its headers', async () => {
    const f = fixtures.full!;
    await rejects(Buffer.alloc(0), 'file is not an RPM');
    await rejects(Buffer.from('this is not a package at all'), 'file is not an RPM');
    await rejects(Buffer.alloc(4096, 0x41), 'file is not an RPM');
    await rejects(flip(f.bytes, 0), 'file is not an RPM');
    await rejects(flip(f.bytes, LEAD_BYTES), 'file is not an RPM');
    for (const end of [10, LEAD_BYTES, LEAD_BYTES + 20, mainHeaderStart(f.bytes) + 8, mainHeaderStart(f.bytes) + 200]) {
      await rejects(f.bytes.subarray(0, end), 'file is not an RPM');
    }
  });

  it('refuses source packages (D12)', async () => {
    const srpm = await buildRpm({ name: 'hello-src', source: true });
    await rejects(srpm.bytes, 'source packages are not supported');
    const pkg = await readRpm(chunked(srpm.bytes, 1000), { allowSource: true });
    assert.equal(pkg.leadType, 1);
  });

  it('answers every truncation and every flipped byte of the headers with a 400, never a crash', async () => {
    const f = fixtures.noarch!;
    const headerEnd = mainHeaderStart(f.bytes) + (await read(f.bytes)).header.bytes.length;
    for (let end = 0; end < f.bytes.length; end += end < headerEnd ? 1 : 97) {
      await assert.rejects(read(f.bytes.subarray(0, end), 64), (err: unknown) => isHttpError(err) && err.status === 400);
    }
    for (let at = 0; at < headerEnd; at++) {
      await read(flip(f.bytes, at), 512).catch((err: unknown) => {
        assert.ok(isHttpError(err) && err.status === 400, `byte ${at}: ${String(err)}`);
      });
    }
  });

  it('holds bad headers to their bounds: entries outside the store, unterminated strings, caps', () => {
    const good = writeHeader([{ tag: TAG.NAME, type: RPM_TYPE.STRING, value: 'x' }]);
    assert.equal(RpmHeader.parse(good).string(TAG.NAME), 'x');
    const outside = Buffer.from(good);
    outside.writeUInt32BE(100, 16 + 8);
    assert.throws(() => RpmHeader.parse(outside), /malformed RPM header/);
    const unterminated = Buffer.from(good);
    unterminated[unterminated.length - 1] = 0x41;
    assert.throws(() => RpmHeader.parse(unterminated), /malformed RPM header/);
    const badType = Buffer.from(good);
    badType.writeUInt32BE(42, 16 + 4);
    assert.throws(() => RpmHeader.parse(badType), /malformed RPM header/);
    const tooMany = Buffer.from(good);
    tooMany.writeUInt32BE(65536, 8);
    assert.throws(() => RpmHeader.parse(tooMany), /malformed RPM header/);
    assert.throws(() => RpmHeader.parse(good, 1), /RPM header is too large/);
  });

  it('keeps a URL only when it is an absolute http(s) URL with a valid port (parity)', () => {
    const url = (value: string) =>
      readFields(RpmHeader.parse(writeHeader([{ tag: TAG.URL, type: RPM_TYPE.STRING, value }])), UTF8_TEXT).url;
    assert.equal(url('https://gitea.io'), 'https://gitea.io');
    assert.equal(url('http://example.org:8080/x'), 'http://example.org:8080/x');
    for (const bad of ['ftp://example.org', 'example.org', 'https://example.org:99999', '']) assert.equal(url(bad), '', bad);
  });

  it('drops a dependency kind or changelog whose arrays disagree, and files without a directory', () => {
    const h = RpmHeader.parse(
      writeHeader([
        { tag: TAG.REQUIRE_NAME, type: RPM_TYPE.STRING_ARRAY, values: ['a', 'b'] },
        { tag: TAG.REQUIRE_FLAGS, type: RPM_TYPE.INT32, values: [0] },
        { tag: TAG.REQUIRE_VERSION, type: RPM_TYPE.STRING_ARRAY, values: ['', ''] },
        { tag: TAG.CHANGELOG_TIME, type: RPM_TYPE.INT32, values: [1] },
        { tag: TAG.CHANGELOG_NAME, type: RPM_TYPE.STRING_ARRAY, values: ['x'] },
        { tag: TAG.BASENAMES, type: RPM_TYPE.STRING_ARRAY, values: ['a', 'b'] },
        { tag: TAG.DIRNAMES, type: RPM_TYPE.STRING_ARRAY, values: ['/d/'] },
        { tag: TAG.DIR_INDEXES, type: RPM_TYPE.INT32, values: [0, 3] },
      ]),
    );
    const f = readFields(h, UTF8_TEXT);
    assert.deepEqual([f.requires, f.changelog, f.epoch], [[], [], null]);
    assert.deepEqual(f.files, [{ path: '/d/a', mode: 0, flags: 0 }]);
  });

  it('names the missing or invalid identity tag', async () => {
    const header = (name: string) =>
      writeHeader([
        { tag: TAG.NAME, type: RPM_TYPE.STRING, value: name },
        { tag: TAG.VERSION, type: RPM_TYPE.STRING, value: '1' },
        { tag: TAG.RELEASE, type: RPM_TYPE.STRING, value: '1' },
        { tag: TAG.ARCH, type: RPM_TYPE.STRING, value: 'x86_64' },
        { tag: TAG.SOURCE_RPM, type: RPM_TYPE.STRING, value: 'x.src.rpm' },
      ]);
    const lead = Buffer.alloc(LEAD_BYTES);
    lead.writeUInt32BE(0xedabeedb, 0);
    const emptySignature = writeHeader([]);
    const rpm = (h: Buffer) => Buffer.concat([lead, emptySignature, h]);
    assert.equal((await read(rpm(header('ok')))).metadata.name, 'ok');
    await rejects(rpm(header('')), 'RPM lacks NAME');
    await rejects(rpm(header('a b')), 'invalid RPM NAME');
    await rejects(rpm(header('a/b')), 'invalid RPM NAME');
    await rejects(rpm(header('a\u0001')), 'invalid RPM NAME');
  });
});
