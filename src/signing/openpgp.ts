import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';

export type PrivateKey = openpgp.PrivateKey;

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

export async function unlockOpenPgpKey(armoredPrivate: string, passphrase: string): Promise<PrivateKey> {
  return openpgp.decryptKey({ privateKey: await openpgp.readPrivateKey({ armoredKey: armoredPrivate }), passphrase });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>)) {
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

/**
 * A binary detached signature over a stream, computed while the stream is read: the caller
 * tees the upload into it, so nothing is buffered.
 */
export async function signDetachedStream(key: PrivateKey, data: Readable): Promise<Buffer> {
  const message = await openpgp.createMessage({
    binary: Readable.toWeb(data) as unknown as ReadableStream<Uint8Array>,
  });
  const signature = await openpgp.sign({ message, signingKeys: key, detached: true, format: 'binary' });
  return collect(signature as unknown as ReadableStream<Uint8Array>);
}

/** A binary detached signature over bytes already in memory (index files). */
export async function signDetached(key: PrivateKey, data: Uint8Array): Promise<Buffer> {
  const message = await openpgp.createMessage({ binary: data });
  const signature = await openpgp.sign({ message, signingKeys: key, detached: true, format: 'binary' });
  return Buffer.from(signature as Uint8Array);
}
