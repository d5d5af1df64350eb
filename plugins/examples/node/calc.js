'use strict';
// The π example's calc module in JavaScript: its default method counts the
// random points of one chunk that fall inside the quarter circle, with the
// same splitmix64 generator and seeding as the Go worker
// (plugins/examples/pi/montecarlo), so that both give the same count for
// the same chunk. 64-bit arithmetic is done on two 32-bit halves.

// mul32 returns the 64-bit product of the uint32 values a and b as [hi, lo].
function mul32(a, b) {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const lo = ((mid << 16) | (p00 & 0xffff)) >>> 0;
  const hi = (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
  return [hi, lo];
}

// Generator is splitmix64 with its state in two uint32 halves.
class Generator {
  constructor(hi, lo) {
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
  }

  // next64 advances the state and returns the output z as [hi, lo].
  next64() {
    const lo = this.lo + 0x7f4a7c15;
    this.hi = (this.hi + 0x9e3779b9 + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    this.lo = lo >>> 0;
    let zh = this.hi;
    let zl = this.lo;
    // z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
    [zh, zl] = mulConst(zh ^ (zh >>> 30), zl ^ ((zl >>> 30) | (zh << 2)), 0xbf58476d, 0x1ce4e5b9);
    // z = (z ^ (z >> 27)) * 0x94d049bb133111eb
    [zh, zl] = mulConst(zh ^ (zh >>> 27), zl ^ ((zl >>> 27) | (zh << 5)), 0x94d049bb, 0x133111eb);
    // z ^= z >> 31
    return [(zh ^ (zh >>> 31)) >>> 0, (zl ^ ((zl >>> 31) | (zh << 1))) >>> 0];
  }

  // unit returns a uniform number in [0, 1): the output's top 53 bits.
  unit() {
    const [hi, lo] = this.next64();
    return (hi * 2097152 + (lo >>> 11)) / 9007199254740992;
  }
}

// mulConst returns (ah, al) × (bh, bl) mod 2^64 as [hi, lo].
function mulConst(ah, al, bh, bl) {
  ah >>>= 0;
  al >>>= 0;
  const [h, l] = mul32(al, bl);
  return [(h + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0, l];
}

// inside samples n points from a generator seeded with seed (an integer
// below 2^53) and returns how many fall inside the quarter circle.
function inside(n, seed) {
  const seedHi = Math.floor(seed / 4294967296) >>> 0;
  const seedLo = seed >>> 0;
  // As in Go: s = uint64(unit(&s) * 2^53) << 11 ^ seed, the output with its
  // low 11 bits cleared, xor the seed.
  const g = new Generator(seedHi, seedLo);
  const [zh, zl] = g.next64();
  const s = new Generator(zh ^ seedHi, ((zl & ~0x7ff) ^ seedLo) >>> 0);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = s.unit();
    const y = s.unit();
    if (x * x + y * y <= 1) count++;
  }
  return count;
}

module.exports = inside;

// info tells which process answered, and its Node.js version.
module.exports.info = () => ({ pid: process.pid, node: process.version });
