import { createHash, createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as openpgp from 'openpgp';

/** An unlocked owner key, ready to sign with Node's native RSA. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  /** 20-byte v4 fingerprint and its last 8 bytes (the key ID). */
  readonly fingerprint: Buffer;
  readonly keyId: Buffer;
}

export interface GeneratedKey {
  /** Armored, encrypted with the passphrase. */
  readonly privateKey: string;
  readonly publicKey: string;
  readonly fingerprint: string;
}

/**
 * An RSA-4096 OpenPGP v4 key: GnuPG 2.2 (pacman 6, apt on Debian 12) cannot read v6 keys.
 * The private half is stored encrypted with `passphrase` (the key secret from config).
 */
export async function generateOpenPgpKey(
  user: { name: string; email: string; comment?: string },
  passphrase: string,
  createdAtMs: number,
): Promise<GeneratedKey> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'rsa',
    rsaBits: 4096,
    userIDs: [user],
    passphrase,
    date: new Date(createdAtMs),
    format: 'armored',
    config: { v6Keys: false },
  });
  const parsed = await openpgp.readKey({ armoredKey: publicKey });
  return { privateKey, publicKey, fingerprint: parsed.getFingerprint().toUpperCase() };
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const toBigInt = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
const fromBigInt = (n: bigint) => {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
};
function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

/**
 * Decrypts the stored key with openpgp and hands its RSA parameters to Node's crypto, so
 * signing runs natively (openpgp signs streamed data with a pure-JS modexp, ~130 ms each).
 */
export async function unlockOpenPgpKey(armoredPrivate: string, passphrase: string): Promise<SigningKey> {
  const key = await openpgp.decryptKey({
    privateKey: await openpgp.readPrivateKey({ armoredKey: armoredPrivate }),
    passphrase,
  });
  const packet = key.keyPacket as unknown as {
    algorithm: number;
    publicParams: { n: Uint8Array; e: Uint8Array };
    privateParams: { d: Uint8Array; p: Uint8Array; q: Uint8Array };
  };
  if (packet.algorithm !== openpgp.enums.publicKey.rsaEncryptSign) throw new Error('owner key is not RSA');
  const { n, e } = packet.publicParams;
  const { d, p, q } = packet.privateParams;
  const [D, P, Q] = [toBigInt(d), toBigInt(p), toBigInt(q)];
  const privateKey = createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'RSA',
      n: b64url(n),
      e: b64url(e),
      d: b64url(d),
      p: b64url(p),
      q: b64url(q),
      dp: b64url(fromBigInt(D % (P - 1n))),
      dq: b64url(fromBigInt(D % (Q - 1n))),
      qi: b64url(fromBigInt(modInverse(Q, P))),
    },
  });
  const fingerprint = Buffer.from(key.getFingerprint(), 'hex');
  return { privateKey, fingerprint, keyId: fingerprint.subarray(12) };
}

// RFC 4880 values.
const SIG_BINARY = 0x00;
const SIG_TEXT = 0x01;
const PUBKEY_RSA = 1;
const HASH_SHA256 = 8;
const SUBPACKET_CREATED = 2;
const SUBPACKET_ISSUER = 16;
const SUBPACKET_ISSUER_FINGERPRINT = 33;

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const subpacket = (type: number, body: Buffer) => Buffer.concat([Buffer.from([body.length + 1, type]), body]);

/** A new-format packet header (RFC 4880 §4.2.2). */
function packetHeader(tag: number, length: number): Buffer {
  const first = Buffer.from([0xc0 | tag]);
  if (length < 192) return Buffer.concat([first, Buffer.from([length])]);
  if (length < 8384) {
    const l = length - 192;
    return Buffer.concat([first, Buffer.from([(l >> 8) + 192, l & 0xff])]);
  }
  return Buffer.concat([first, Buffer.from([0xff]), u32(length)]);
}

function mpi(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  const bits = trimmed.length * 8 - Math.clz32(trimmed[0] ?? 0) + 24;
  return Buffer.concat([u16(bits), trimmed]);
}

/**
 * A v4 detached signature packet (RFC 4880 §5.2.3) over data fed in pieces: SHA-256 and RSA
 * PKCS#1 v1.5 from Node. Written by hand because openpgp cannot sign a stream natively;
 * checked by gpg and openpgp in the tests.
 */
export class SignatureBuilder {
  private readonly sign = createSign('sha256');
  private readonly hash = createHash('sha256');
  private readonly key: SigningKey;
  private readonly hashed: Buffer;

  constructor(key: SigningKey, createdAtMs: number, textMode = false) {
    this.key = key;
    const subpackets = Buffer.concat([
      subpacket(SUBPACKET_CREATED, u32(Math.floor(createdAtMs / 1000))),
      subpacket(SUBPACKET_ISSUER_FINGERPRINT, Buffer.concat([Buffer.from([4]), key.fingerprint])),
    ]);
    this.hashed = Buffer.concat([
      Buffer.from([4, textMode ? SIG_TEXT : SIG_BINARY, PUBKEY_RSA, HASH_SHA256]),
      u16(subpackets.length),
      subpackets,
    ]);
  }

  update(chunk: Uint8Array): void {
    this.sign.update(chunk);
    this.hash.update(chunk);
  }

  /** The binary signature packet. */
  finish(): Buffer {
    const trailer = Buffer.concat([this.hashed, Buffer.from([4, 0xff]), u32(this.hashed.length)]);
    this.sign.update(trailer);
    const digest = this.hash.update(trailer).digest();
    const signature = this.sign.sign(this.key.privateKey);
    const unhashed = subpacket(SUBPACKET_ISSUER, this.key.keyId);
    const body = Buffer.concat([this.hashed, u16(unhashed.length), unhashed, digest.subarray(0, 2), mpi(signature)]);
    return Buffer.concat([packetHeader(2, body.length), body]);
  }
}

/** A binary detached signature over a stream, computed as it is read (never buffered). */
export async function signDetachedStream(key: SigningKey, data: Readable, createdAtMs = Date.now()): Promise<Buffer> {
  const builder = new SignatureBuilder(key, createdAtMs);
  await pipeline(
    data,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        builder.update(chunk);
        done();
      },
    }),
  );
  return builder.finish();
}

/** A binary detached signature over bytes already in memory. */
export function signDetached(key: SigningKey, data: Uint8Array, createdAtMs = Date.now()): Buffer {
  const builder = new SignatureBuilder(key, createdAtMs);
  builder.update(data);
  return builder.finish();
}
