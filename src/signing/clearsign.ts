import { SignatureBuilder, signDetached, type SigningKey } from './openpgp.js';

/** RFC 4880 §6.1: CRC-24 of the radix-64 armor checksum line. */
function crc24(data: Uint8Array): number {
  let crc = 0xb704ce;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

/** ASCII armor of one signature block (RFC 4880 §6.2), as `gpg --armor` writes it. */
export function armorSignature(packet: Uint8Array): string {
  const body = Buffer.from(packet).toString('base64');
  const lines = body.match(/.{1,64}/g) ?? [];
  const crc = crc24(packet);
  const checksum = Buffer.from([(crc >> 16) & 0xff, (crc >> 8) & 0xff, crc & 0xff]).toString('base64');
  return ['-----BEGIN PGP SIGNATURE-----', '', ...lines, `=${checksum}`, '-----END PGP SIGNATURE-----', ''].join('\n');
}

/** `Release.gpg`: an armored detached binary-mode signature over the exact bytes (debian.md §4.8). */
export function signArmoredDetached(key: SigningKey, data: Uint8Array, createdAtMs: number): string {
  return armorSignature(signDetached(key, data, createdAtMs));
}

/**
 * `InRelease`: the cleartext signature framework (RFC 4880 §7). The text is signed in text mode:
 * lines joined by CR LF, trailing spaces and tabs removed, the final line end not included; it
 * is shown dash-escaped. A text ending in a newline is reproduced exactly by gpgv and apt.
 */
export function clearsign(key: SigningKey, text: string, createdAtMs: number): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const lines = body.split('\n');
  const builder = new SignatureBuilder(key, createdAtMs, true);
  builder.update(Buffer.from(lines.map((l) => l.replace(/[ \t\r]+$/, '')).join('\r\n'), 'utf8'));
  const escaped = lines.map((l) => (l.startsWith('-') ? `- ${l}` : l)).join('\n');
  return `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n${escaped}\n${armorSignature(builder.finish())}`;
}
