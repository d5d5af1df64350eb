'use strict';
// The socket data plane's two messages, in protobuf's wire format, without
// protobufjs: decodeCallBatch reads a workestrator.v1.CallBatch (host →
// worker) and appendReplyFrames writes ReplyBatch frames (worker → host),
// each preceded by its length as a uvarint (internal/wire/frame.go).
//
// A decoded call is shaped as the gRPC path's calls are (id a decimal
// string, args Buffers) plus idn, its id as a Number (a BigInt past 2^53),
// which keys the session's calls and is written back in the reply. Call
// arguments are views of the frame, not copies.

// WireError is a frame that is not a valid CallBatch.
class WireError extends Error {}

// readVarint reads the varint at r.pos of buf into r.v (a Number, or a
// BigInt when it exceeds 2^53) and advances r.pos.
function readVarint(buf, r) {
  let pos = r.pos;
  const end = buf.length;
  let b;
  let lo = 0;
  // The low 28 bits, 7 at a time: they fit a small integer.
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw new WireError('truncated varint');
    b = buf[pos++];
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) {
      r.pos = pos;
      r.v = lo;
      return;
    }
  }
  // Longer: the rest goes into hi, bits 28 and up.
  let hi = 0;
  let mul = 1;
  for (let i = 0; i < 6; i++) {
    if (pos >= end) throw new WireError('truncated varint');
    b = buf[pos++];
    hi += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) {
      r.pos = pos;
      const v = hi * 268435456 + lo;
      r.v = Number.isSafeInteger(v) ? v : (BigInt(hi) << 28n) + BigInt(lo);
      return;
    }
  }
  throw new WireError('varint too long');
}

// skipField advances r.pos past a field of wire type typ.
function skipField(buf, r, typ) {
  switch (typ) {
    case 0:
      readVarint(buf, r);
      return;
    case 1:
      r.pos += 8;
      break;
    case 2:
      readVarint(buf, r);
      r.pos += Number(r.v);
      break;
    case 5:
      r.pos += 4;
      break;
    default:
      throw new WireError(`unsupported wire type ${typ}`);
  }
  if (r.pos > buf.length) throw new WireError('truncated field');
}

// StringCache returns the string of a short utf8 byte range, reusing the
// string decoded last time for the same bytes: a batch's calls name the
// same method and serializer over and over.
class StringCache {
  constructor() {
    this.entries = [];
  }

  get(buf, start, end) {
    const n = end - start;
    if (n > 32) return buf.toString('utf8', start, end);
    const es = this.entries;
    outer: for (let i = 0; i < es.length; i++) {
      const e = es[i];
      if (e.bytes.length !== n) continue;
      for (let j = 0; j < n; j++) if (e.bytes[j] !== buf[start + j]) continue outer;
      return e.str;
    }
    const str = buf.toString('utf8', start, end);
    if (es.length >= 16) es.shift();
    es.push({ bytes: Buffer.from(buf.subarray(start, end)), str });
    return str;
  }
}

// lenEnd reads a length prefix at r.pos and returns where the bytes end.
function lenEnd(buf, r, end) {
  readVarint(buf, r);
  const e = r.pos + Number(r.v);
  if (e > end) throw new WireError('truncated field');
  return e;
}

// decodeCall decodes the Call in buf[r.pos:end].
function decodeCall(buf, r, end, strings) {
  const c = { id: '0', idn: 0, method: '', serializer: '', args: [], timeout_nanos: 0, raw_args: 0 };
  while (r.pos < end) {
    readVarint(buf, r);
    const tag = r.v;
    const num = tag >>> 3;
    const typ = tag & 7;
    if (num === 1 && typ === 0) {
      readVarint(buf, r);
      c.idn = r.v;
    } else if (num === 2 && typ === 2) {
      const e = lenEnd(buf, r, end);
      c.method = strings.get(buf, r.pos, e);
      r.pos = e;
    } else if (num === 3 && typ === 2) {
      const e = lenEnd(buf, r, end);
      c.serializer = strings.get(buf, r.pos, e);
      r.pos = e;
    } else if (num === 4 && typ === 2) {
      const e = lenEnd(buf, r, end);
      c.args.push(buf.subarray(r.pos, e));
      r.pos = e;
    } else if (num === 5 && typ === 0) {
      readVarint(buf, r);
      // int64: a negative value is ten bytes; it means no deadline here.
      c.timeout_nanos = typeof r.v === 'bigint' ? (r.v >= (1n << 63n) ? 0 : Number(r.v)) : r.v;
    } else if (num === 6 && typ === 0) {
      readVarint(buf, r);
      c.raw_args = r.v;
    } else {
      skipField(buf, r, typ);
    }
  }
  if (r.pos !== end) throw new WireError('call overruns its length');
  c.id = String(c.idn);
  return c;
}

// decodeCallBatch decodes a CallBatch frame into { calls, cancels }; a
// cancel is a call's idn.
function decodeCallBatch(buf, strings) {
  const calls = [];
  const cancels = [];
  const r = { pos: 0, v: 0 };
  const end = buf.length;
  while (r.pos < end) {
    readVarint(buf, r);
    const tag = r.v;
    const num = tag >>> 3;
    const typ = tag & 7;
    if (num === 1 && typ === 2) {
      const e = lenEnd(buf, r, end);
      calls.push(decodeCall(buf, r, e, strings));
    } else if (num === 2 && typ === 2) {
      const e = lenEnd(buf, r, end);
      while (r.pos < e) {
        readVarint(buf, r);
        cancels.push(r.v);
      }
      if (r.pos !== e) throw new WireError('cancels overrun their length');
    } else if (num === 2 && typ === 0) {
      readVarint(buf, r);
      cancels.push(r.v);
    } else {
      skipField(buf, r, typ);
    }
  }
  return { calls, cancels };
}

// varintSize is the bytes of the varint of v (a Number or a BigInt).
function varintSize(v) {
  if (typeof v === 'bigint') {
    let n = 1;
    while (v >= 128n) {
      v >>= 7n;
      n++;
    }
    return n;
  }
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

// writeVarint writes v at pos of buf and returns the position after it.
function writeVarint(buf, pos, v) {
  if (typeof v === 'bigint') {
    while (v >= 128n) {
      buf[pos++] = Number(v & 127n) | 128;
      v >>= 7n;
    }
    buf[pos++] = Number(v);
    return pos;
  }
  while (v >= 128) {
    buf[pos++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

// lenField is the bytes of a string or bytes field of length n (nothing
// when it is empty: proto3 leaves it out).
const lenField = (n) => (n === 0 ? 0 : 1 + varintSize(n) + n);

// errorSize measures the Error message e and caches its strings' byte
// lengths on the side (in lens, 3 entries).
function errorSize(e, lens, k) {
  const t = Buffer.byteLength(e.type);
  const m = Buffer.byteLength(e.message);
  const s = Buffer.byteLength(e.stack);
  lens[k] = t;
  lens[k + 1] = m;
  lens[k + 2] = s;
  return (e.code ? 1 + varintSize(e.code) : 0) + lenField(t) + lenField(m) + lenField(s) +
    lenField(e.details.length) + (e.permanent ? 2 : 0);
}

// writeString writes the string field num of s (n utf8 bytes) at pos.
function writeString(buf, pos, num, s, n) {
  if (n === 0) return pos;
  buf[pos++] = (num << 3) | 2;
  pos = writeVarint(buf, pos, n);
  buf.write(s, pos, n, 'utf8');
  return pos + n;
}

// writeBytes writes the bytes field num of b at pos.
function writeBytes(buf, pos, num, b) {
  if (b.length === 0) return pos;
  buf[pos++] = (num << 3) | 2;
  pos = writeVarint(buf, pos, b.length);
  buf.set(b, pos);
  return pos + b.length;
}

// encodeReplyFrame returns one frame: the ReplyBatch of replies, each
// { idn, result, error } as Runtime.run makes them (idn set by the session).
function encodeReplyFrame(replies) {
  const n = replies.length;
  const sizes = new Array(n);
  const lens = new Array(n * 3);
  let body = 0;
  for (let i = 0; i < n; i++) {
    const r = replies[i];
    let sz = 1 + varintSize(r.idn) + lenField(r.result.length);
    if (r.error) {
      const es = errorSize(r.error, lens, i * 3);
      sz += 1 + varintSize(es) + es;
    }
    sizes[i] = sz;
    body += 1 + varintSize(sz) + sz;
  }
  const buf = Buffer.allocUnsafe(varintSize(body) + body);
  let pos = writeVarint(buf, 0, body);
  for (let i = 0; i < n; i++) {
    const r = replies[i];
    buf[pos++] = 0x0a; // field 1, bytes: a Reply
    pos = writeVarint(buf, pos, sizes[i]);
    buf[pos++] = 0x08; // field 1, varint: id
    pos = writeVarint(buf, pos, r.idn);
    pos = writeBytes(buf, pos, 2, r.result);
    const e = r.error;
    if (e) {
      const k = i * 3;
      const es = (e.code ? 1 + varintSize(e.code) : 0) + lenField(lens[k]) + lenField(lens[k + 1]) +
        lenField(lens[k + 2]) + lenField(e.details.length) + (e.permanent ? 2 : 0);
      buf[pos++] = 0x1a; // field 3, bytes: the Error
      pos = writeVarint(buf, pos, es);
      if (e.code) {
        buf[pos++] = 0x08;
        pos = writeVarint(buf, pos, e.code);
      }
      pos = writeString(buf, pos, 2, e.type, lens[k]);
      pos = writeString(buf, pos, 3, e.message, lens[k + 1]);
      pos = writeString(buf, pos, 4, e.stack, lens[k + 2]);
      pos = writeBytes(buf, pos, 5, e.details);
      if (e.permanent) {
        buf[pos++] = 0x30;
        buf[pos++] = 1;
      }
    }
  }
  if (pos !== buf.length) throw new Error(`reply frame: wrote ${pos} of ${buf.length} bytes`);
  return buf;
}

// FrameSplitter cuts a byte stream into frames (a uvarint length, then that
// many bytes). push calls onFrame with each whole frame, a Buffer the
// receiver may keep; a frame announced over limit throws a WireError.
class FrameSplitter {
  constructor(limit, onFrame) {
    this.limit = limit;
    this.onFrame = onFrame;
    this.chunks = []; // the start of a frame not whole yet
    this.have = 0; // bytes in chunks
    this.need = -1; // the frame's total bytes (header included), once known
  }

  push(chunk) {
    if (this.chunks.length > 0) {
      this.chunks.push(chunk);
      this.have += chunk.length;
      if (this.need < 0 || this.have < this.need) {
        if (this.need < 0) this.header();
        if (this.need < 0 || this.have < this.need) return;
      }
      chunk = Buffer.concat(this.chunks, this.have);
      this.chunks = [];
      this.have = 0;
      this.need = -1;
    }
    // Whole frames straight out of chunk.
    const r = { pos: 0, v: 0 };
    let pos = 0;
    while (pos < chunk.length) {
      r.pos = pos;
      const h = tryVarint(chunk, r);
      if (h === false) break;
      const size = Number(r.v);
      if (size > this.limit) throw new WireError(`frame of ${size} bytes exceeds the limit of ${this.limit}`);
      const end = r.pos + size;
      if (end > chunk.length) {
        this.need = end - pos;
        break;
      }
      this.onFrame(chunk.subarray(r.pos, end));
      pos = end;
    }
    if (pos < chunk.length) {
      const rest = chunk.subarray(pos);
      this.chunks.push(rest);
      this.have = rest.length;
      if (this.need < 0) this.header();
    }
  }

  // header works out need once the buffered bytes hold the length.
  header() {
    const head = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, Math.min(this.have, 10));
    const r = { pos: 0, v: 0 };
    if (tryVarint(head, r) === false) return;
    const size = Number(r.v);
    if (size > this.limit) throw new WireError(`frame of ${size} bytes exceeds the limit of ${this.limit}`);
    this.need = r.pos + size;
  }
}

// tryVarint reads a varint like readVarint, or returns false when buf ends
// before it does.
function tryVarint(buf, r) {
  const start = r.pos;
  let i = start;
  while (i < buf.length && i - start < 10 && buf[i] >= 0x80) i++;
  if (i >= buf.length) return false;
  readVarint(buf, r);
  return true;
}

module.exports = { decodeCallBatch, encodeReplyFrame, FrameSplitter, StringCache, WireError, readVarint, writeVarint, varintSize };
