'use strict';
// The serializers a Node.js worker speaks, by the names the Go side uses
// (pkg/serializer): "json", which writes what Go's encoding/json writes for
// the same values, and "cbor" (RFC 8949, with cbor-x), which Go's
// fxamacker/cbor reads. Each encodes one value to a Buffer and decodes one
// Buffer; encode returns an empty Buffer for undefined, the wire's "no
// result". A failure throws a SerializerError.

class SerializerError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SerializerError';
  }
}

const EMPTY = Buffer.alloc(0);

// jsonReplacer makes JSON.stringify write what encoding/json writes: a
// Buffer or Uint8Array as a base64 string (Go's []byte), a Map as an object,
// a Set as an array, and refuses what Go refuses: NaN and ±Infinity, which
// JSON.stringify would write as null, and BigInt.
function jsonReplacer(key, value) {
  const orig = this[key];
  if (orig instanceof Uint8Array) {
    return Buffer.from(orig.buffer, orig.byteOffset, orig.byteLength).toString('base64');
  }
  if (orig instanceof Map) return Object.fromEntries(orig);
  if (orig instanceof Set) return Array.from(orig);
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new SerializerError(`json: unsupported value: ${value}`);
  }
  if (typeof value === 'bigint') {
    throw new SerializerError(`json: unsupported value: BigInt ${value}`);
  }
  return value;
}

// goEscapes are the characters encoding/json escapes inside strings even
// though JSON does not require it (HTML-safe output); they never appear
// outside strings in JSON text.
const goEscapes = /[<>&\u2028\u2029]/g;
const goEscape = (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');

const json = {
  name: 'json',
  encode(value) {
    // Numbers and strings need no replacer (it changes neither), and
    // JSON.stringify is several times faster without one.
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new SerializerError(`json: unsupported value: ${value}`);
      // encoding/json writes a negative zero as -0; JSON.stringify as 0.
      return Buffer.from(Object.is(value, -0) ? '-0' : JSON.stringify(value), 'latin1');
    }
    let s;
    if (typeof value === 'string') {
      s = JSON.stringify(value);
      if (goEscapes.test(s)) {
        goEscapes.lastIndex = 0;
        s = s.replace(goEscapes, goEscape);
      }
      return Buffer.from(s, 'utf8');
    }
    try {
      s = JSON.stringify(value, jsonReplacer);
    } catch (err) {
      if (err instanceof SerializerError) throw err;
      throw new SerializerError(`json: ${err.message}`);
    }
    if (s === undefined) {
      // undefined is no result; a function or a symbol has no JSON form.
      if (value === undefined) return EMPTY;
      throw new SerializerError(`json: unsupported type: ${typeof value}`);
    }
    if (goEscapes.test(s)) {
      goEscapes.lastIndex = 0;
      s = s.replace(goEscapes, goEscape);
    }
    return Buffer.from(s, 'utf8');
  },
  decode(buf) {
    if (buf.length === 0) return undefined;
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new SerializerError(`json: ${err.message}`);
    }
  },
};

// cborOptions make cbor-x write plain CBOR that any decoder reads: objects
// and Maps as CBOR maps (no record extension, no tag 259), byte arrays as
// byte strings (no typed-array tags); maps decode to objects.
const cborOptions = {
  useRecords: false,
  mapsAsObjects: true,
  useTag259ForMaps: false,
  tagUint8Array: false,
};

// loadCBOR returns the cbor serializer, or null when cbor-x is not
// installed.
function loadCBOR() {
  let Encoder;
  try {
    ({ Encoder } = require('cbor-x'));
  } catch {
    return null;
  }
  const codec = new Encoder(cborOptions);
  return {
    name: 'cbor',
    encode(value) {
      if (value === undefined) return EMPTY;
      try {
        // encode returns a view of the encoder's reused buffer: copy it.
        return Buffer.from(codec.encode(value));
      } catch (err) {
        throw new SerializerError(`cbor: ${err.message}`);
      }
    },
    decode(buf) {
      if (buf.length === 0) return undefined;
      try {
        return codec.decode(buf);
      } catch (err) {
        throw new SerializerError(`cbor: ${err.message}`);
      }
    },
  };
}

// registry returns the serializers by name; "" means json.
function registry() {
  const m = new Map([['json', json], ['', json]]);
  const cbor = loadCBOR();
  if (cbor) m.set('cbor', cbor);
  return m;
}

module.exports = { json, loadCBOR, registry, SerializerError, cborOptions };
