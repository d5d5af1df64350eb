'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { json, loadCBOR, registry, SerializerError } = require('../lib/serializers');

test('json writes what encoding/json writes', () => {
  assert.equal(json.encode({ a: '<&>' }).toString(), '{"a":"\\u003c\\u0026\\u003e"}');
  assert.equal(json.encode('\u2028\u2029').toString(), '"\\u2028\\u2029"');
  assert.equal(json.encode(Buffer.from([0, 1, 255])).toString(), '"AAH/"');
  assert.equal(json.encode({ b: new Uint8Array([1, 2]) }).toString(), '{"b":"AQI="}');
  assert.equal(json.encode(new Map([['k', 1]])).toString(), '{"k":1}');
  assert.equal(json.encode(new Set([1, 2])).toString(), '[1,2]');
  assert.equal(json.encode(null).toString(), 'null');
  assert.equal(json.encode(undefined).length, 0);
});

test('json refuses what encoding/json refuses', () => {
  for (const v of [NaN, Infinity, -Infinity, { x: NaN }, 10n]) {
    assert.throws(() => json.encode(v), SerializerError);
  }
  const cyclic = {};
  cyclic.self = cyclic;
  assert.throws(() => json.encode(cyclic), SerializerError);
});

test('json decodes, and an empty payload is undefined', () => {
  assert.deepEqual(json.decode(Buffer.from('{"a":[1,"x"]}')), { a: [1, 'x'] });
  assert.equal(json.decode(Buffer.alloc(0)), undefined);
  assert.throws(() => json.decode(Buffer.from('{')), SerializerError);
});

test('cbor writes plain maps and byte strings', () => {
  const cbor = loadCBOR();
  assert.ok(cbor, 'cbor-x is installed');
  // A map with a 16-bit length and no tag, as cbor-x writes objects.
  assert.equal(cbor.encode({ a: 1 }).toString('hex'), 'b90001616101');
  assert.equal(cbor.encode(new Map([[1, 2]])).toString('hex'), 'a10102');
  assert.equal(cbor.encode(new Uint8Array([1, 2])).toString('hex'), '420102');
  assert.equal(cbor.encode(1.5).toString('hex'), 'fb3ff8000000000000');
  assert.deepEqual(cbor.decode(cbor.encode({ a: [1, 'x', null] })), { a: [1, 'x', null] });
  // Go's int64 max (fxamacker writes it as a uint64) comes back exact, as a BigInt.
  assert.equal(cbor.decode(Buffer.from('1b7fffffffffffffff', 'hex')), 2n ** 63n - 1n);
  assert.equal(cbor.encode(undefined).length, 0);
});

test('the registry names json (also "") and cbor', () => {
  const r = registry();
  assert.equal(r.get(''), json);
  assert.equal(r.get('json'), json);
  assert.equal(r.get('cbor').name, 'cbor');
});

test('json refuses a result that has no JSON form: a function, a symbol', () => {
  assert.equal(json.encode(undefined).length, 0); // no result
  assert.throws(() => json.encode(() => 1), SerializerError);
  assert.throws(() => json.encode(Symbol('s')), SerializerError);
});

test('json writes a negative zero as encoding/json does', () => {
  assert.equal(json.encode(-0).toString(), '-0');
  assert.equal(json.encode(0).toString(), '0');
  assert.ok(Object.is(json.decode(Buffer.from('-0')), -0));
});
