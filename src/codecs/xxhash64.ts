// XXH64 with seed 0, as zstd uses for its content checksum (RFC 8878 §3.1.1). The stripe loop
// works on 32-bit halves, since BigInt arithmetic per byte would be far slower than the decoder.

const MASK64 = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;
const P1_HI = 0x9e3779b1;
const P1_LO = 0x85ebca87;
const P2_HI = 0xc2b2ae3d;
const P2_LO = 0x27d4eb4f;
const STRIPE = 32;

const rotl = (x: bigint, n: bigint): bigint => ((x << n) | (x >> (64n - n))) & MASK64;
const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK64;
const round = (acc: bigint, lane: bigint): bigint =>
  mul(rotl((acc + mul(lane, P2)) & MASK64, 31n), P1);
const merge = (acc: bigint, v: bigint): bigint => (mul(acc ^ round(0n, v), P1) + P4) & MASK64;

/** Incremental XXH64 (seed 0). */
export class Xxh64 {
  // v1…v4 as (hi, lo) pairs of unsigned 32-bit halves.
  readonly #v = new Uint32Array(8);
  readonly #t = new Uint32Array(2);
  readonly #tail = new Uint8Array(STRIPE);
  #tailBytes = 0;
  #totalBytes = 0;

  constructor() {
    const initial = [(P1 + P2) & MASK64, P2, 0n, -P1 & MASK64];
    initial.forEach((v, i) => {
      this.#v[2 * i] = Number(v >> 32n);
      this.#v[2 * i + 1] = Number(v & 0xffffffffn);
    });
  }

  update(data: Uint8Array): void {
    this.#totalBytes += data.length;
    let at = 0;
    if (this.#tailBytes > 0) {
      const n = Math.min(STRIPE - this.#tailBytes, data.length);
      this.#tail.set(data.subarray(0, n), this.#tailBytes);
      this.#tailBytes += n;
      at = n;
      if (this.#tailBytes < STRIPE) return;
      this.#stripe(new DataView(this.#tail.buffer), 0);
      this.#tailBytes = 0;
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (; at + STRIPE <= data.length; at += STRIPE) this.#stripe(view, at);
    this.#tail.set(data.subarray(at), 0);
    this.#tailBytes = data.length - at;
  }

  digest(): bigint {
    const v = (i: number) => (BigInt(this.#v[2 * i] ?? 0) << 32n) | BigInt(this.#v[2 * i + 1] ?? 0);
    let h: bigint;
    if (this.#totalBytes >= STRIPE) {
      h = (rotl(v(0), 1n) + rotl(v(1), 7n) + rotl(v(2), 12n) + rotl(v(3), 18n)) & MASK64;
      for (let i = 0; i < 4; i++) h = merge(h, v(i));
    } else {
      h = P5;
    }
    h = (h + BigInt(this.#totalBytes)) & MASK64;
    const tail = new DataView(this.#tail.buffer, 0, this.#tailBytes);
    let at = 0;
    for (; at + 8 <= this.#tailBytes; at += 8) {
      h ^= round(0n, tail.getBigUint64(at, true));
      h = (mul(rotl(h, 27n), P1) + P4) & MASK64;
    }
    if (at + 4 <= this.#tailBytes) {
      h ^= mul(BigInt(tail.getUint32(at, true)), P1);
      h = (mul(rotl(h, 23n), P2) + P3) & MASK64;
      at += 4;
    }
    for (; at < this.#tailBytes; at++) {
      h ^= mul(BigInt(tail.getUint8(at)), P5);
      h = mul(rotl(h, 11n), P1);
    }
    h ^= h >> 33n;
    h = mul(h, P2);
    h ^= h >> 29n;
    h = mul(h, P3);
    h ^= h >> 32n;
    return h;
  }

  #stripe(view: DataView, at: number): void {
    for (let lane = 0; lane < 4; lane++) {
      const o = at + 8 * lane;
      this.#round(lane, view.getUint32(o + 4, true), view.getUint32(o, true));
    }
  }

  /** v[lane] = rotl(v[lane] + input * P2, 31) * P1, all modulo 2^64. */
  #round(lane: number, inHi: number, inLo: number): void {
    const t = this.#t;
    mul64(inHi, inLo, P2_HI, P2_LO, t);
    const lo = (t[1] ?? 0) + (this.#v[2 * lane + 1] ?? 0);
    const hi = (t[0] ?? 0) + (this.#v[2 * lane] ?? 0) + (lo > 0xffffffff ? 1 : 0);
    const sumHi = hi >>> 0;
    const sumLo = lo >>> 0;
    const rotHi = ((sumHi << 31) | (sumLo >>> 1)) >>> 0;
    const rotLo = ((sumLo << 31) | (sumHi >>> 1)) >>> 0;
    mul64(rotHi, rotLo, P1_HI, P1_LO, t);
    this.#v[2 * lane] = t[0] ?? 0;
    this.#v[2 * lane + 1] = t[1] ?? 0;
  }
}

/** (aHi:aLo × bHi:bLo) mod 2^64 into out = [hi, lo]. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number, out: Uint32Array): void {
  const a0 = aLo & 0xffff;
  const a1 = aLo >>> 16;
  const b0 = bLo & 0xffff;
  const b1 = bLo >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const carry = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16); // high half of aLo × bLo
  out[1] = Math.imul(aLo, bLo); // stored modulo 2^32
  out[0] = carry + Math.imul(aHi, bLo) + Math.imul(aLo, bHi);
}
