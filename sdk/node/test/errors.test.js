'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { encodeError, errorName, boundText, Code, MAX_ERROR_TEXT } = require('../lib/errors');
const { json } = require('../lib/serializers');
const { permanent } = require('../lib/index');

test('the name is the JS name, or the subclass when it kept "Error"', () => {
  class QuotaError extends Error {}
  class Named extends Error { constructor() { super('x'); this.name = 'Custom'; } }
  assert.equal(errorName(new TypeError('x')), 'TypeError');
  assert.equal(errorName(new QuotaError('x')), 'QuotaError');
  assert.equal(errorName(new Named()), 'Custom');
  assert.equal(errorName(new Error('x')), 'Error');
  assert.equal(errorName('s'), 'string');
  assert.equal(errorName(null), 'null');
});

test('message, stack, own enumerable properties as details, permanent', () => {
  const err = new RangeError('too far');
  err.limit = 3;
  const e = encodeError(err, json, undefined);
  assert.equal(e.code, Code.APPLICATION);
  assert.equal(e.type, 'RangeError');
  assert.equal(e.message, 'too far');
  assert.match(e.stack, /^RangeError: too far\n/);
  assert.equal(e.details.toString(), '{"limit":3}');
  assert.equal(e.permanent, false);
  assert.equal(encodeError(permanent(new Error('p')), json).permanent, true);
  assert.equal(encodeError(new Error('none'), json).details.length, 0);
  assert.equal(encodeError(42, json).details.toString(), '42');
});

test('an abort of the call is CANCELED', () => {
  const ac = new AbortController();
  ac.abort(new DOMException('gone', 'AbortError'));
  assert.equal(encodeError(ac.signal.reason, json, ac.signal).code, Code.CANCELED);
  assert.equal(encodeError(new Error('other'), json, ac.signal).code, Code.APPLICATION);
  assert.equal(encodeError(new DOMException('x', 'AbortError'), json, new AbortController().signal).code, Code.APPLICATION);
});

test('long texts are cut', () => {
  const s = boundText('é'.repeat(MAX_ERROR_TEXT));
  assert.ok(Buffer.byteLength(s) <= MAX_ERROR_TEXT);
  assert.match(s, /\[truncated\]$/);
});
