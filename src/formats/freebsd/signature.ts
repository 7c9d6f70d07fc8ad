import { createHash } from 'node:crypto';

/**
 * Signs the 64 ASCII bytes of a member's hex SHA-256 with RSASSA-PKCS1-v1_5 and SHA-256
 * (freebsd.md §6.2 step 2); the owner's key lives in signing/rsa.ts.
 */
export type DigestSigner = (digestHex: string) => Buffer;

/** A member of a catalogue archive, with its bytes in memory. */
export interface SmallMember {
  readonly name: string;
  readonly content: Buffer;
}

/** `H` of freebsd.md §6.2: lowercase hex SHA-256 of the member's exact bytes. */
export const digestHex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The signature members of one catalogue archive, in pkg's order (freebsd.md §6.1, §6.2):
 * `signature` (S + one NUL, pubkey mode), `<member>.sig` (S) and `<member>.pub` (the PEM),
 * so one archive serves `pubkey` and `fingerprints` clients alike.
 */
export function signatureMembers(member: string, signature: Buffer, publicKeyPem: string): SmallMember[] {
  return [
    // pkg ≥ 1.21 strips one trailing NUL; pkg ≤ 1.20 always drops the last byte.
    { name: 'signature', content: Buffer.concat([signature, Buffer.from([0])]) },
    { name: `${member}.sig`, content: signature },
    { name: `${member}.pub`, content: Buffer.from(publicKeyPem, 'utf8') },
  ];
}

/** `B/repository.fingerprint` (freebsd.md §6.4): the file pkg wants in `<fingerprints>/trusted/`. */
export function formatFingerprint(publicKeyPem: string): string {
  return `function: "sha256"\nfingerprint: "${digestHex(Buffer.from(publicKeyPem, 'utf8'))}"\n`;
}
