'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { methodsOf, invoke, DEFAULT_METHOD } = require('../lib/methods');
const { currentCall } = require('../lib/index');

const ctx = () => ({ id: '1', method: 'm', signal: new AbortController().signal });
const noLate = () => assert.fail('settled twice');

test('the exported function is "run", its function properties are methods', () => {
  const mod = function (a) { return a; };
  mod.foo = () => 1;
  mod.notAFunction = 3;
  const m = methodsOf(mod, false);
  assert.deepEqual([...m.keys()].sort(), ['foo', DEFAULT_METHOD]);
  assert.deepEqual([...methodsOf({ a() {}, b: 1 }, false).keys()], ['a']);
  assert.deepEqual([...methodsOf({ default: () => 1, x: () => 2 }, true).keys()].sort(), ['run', 'x']);
  assert.throws(() => methodsOf({ a: 1 }, false), /exports no function/);
});

test('sync, async, throw and reject', async () => {
  assert.equal(await invoke((a, b) => a + b, [1, 2], ctx(), noLate), 3);
  assert.equal(await invoke(async (a) => a * 2, [4], ctx(), noLate), 8);
  await assert.rejects(invoke(() => { throw new TypeError('t'); }, [], ctx(), noLate), TypeError);
  await assert.rejects(invoke(async () => { throw new RangeError('r'); }, [], ctx(), noLate), RangeError);
});

test('one parameter more than the arguments: a node-worker-farm callback', async () => {
  const cb = function (a, callback) { setImmediate(() => callback(null, a + 1)); };
  assert.equal(await invoke(cb, [1], ctx(), noLate), 2);
  const fails = function (a, callback) { callback(new Error('no')); };
  await assert.rejects(invoke(fails, [1], ctx(), noLate), /no/);
  // A last parameter that is merely optional, neither named nor used as a
  // callback, gets none: it stays undefined.
  const optional = function (a, b) { return b === undefined ? a : 'callback?'; };
  assert.equal(await invoke(optional, [5], ctx(), () => {}), 5);
  const delay = function (timeout) {
    return new Promise((resolve) => { setTimeout(() => resolve(typeof timeout), timeout || 20); });
  };
  assert.equal(await invoke(delay, [], ctx(), noLate), 'undefined');
  // One that the body calls, or passes on, is a callback, whatever its name.
  const short = function (e, t) { setImmediate(() => t(null, e * 2)); };
  assert.equal(await invoke(short, [4], ctx(), noLate), 8);
  const passed = function (e, t) { setImmediate(t, null, e * 3); };
  assert.equal(await invoke(passed, [4], ctx(), noLate), 12);
  // A second callback is reported and ignored.
  let late = 0;
  const twice = function (callback) { callback(null, 1); callback(null, 2); };
  assert.equal(await invoke(twice, [], ctx(), () => late++), 1);
  assert.equal(late, 1);
});

test('this and currentCall() are the call context', async () => {
  const c = ctx();
  const seen = await invoke(function () { return this; }, [], c, noLate);
  assert.equal(seen, c);
  const arrow = async () => {
    await null;
    return currentCall();
  };
  assert.equal(await invoke(arrow, [], c, noLate), c);
  assert.equal(currentCall(), undefined);
});

test("a call's this reads the module's exports, read-only ones named id or method too", () => {
  const { Runtime } = require('../lib/runtime');
  const plain = { helper: (x) => x * 2 };
  const frozen = Object.freeze({ id: 1, method: 'm', helper: (x) => x * 2 });
  const getter = Object.defineProperty({ helper: (x) => x * 2 }, 'id', { get() { return 5; }, enumerable: true });
  for (const exp of [plain, frozen, getter]) {
    const rt = new Runtime({ methods: new Map(), exports: exp, sers: new Map(), maxMessage: 0, log: null });
    const c = new rt.Context(7, 'run', { signal: 'S' });
    assert.equal(c.helper(2), 4);
    assert.equal(c.id, 7);
    assert.equal(c.method, 'run');
    assert.equal(c.signal, 'S');
  }
});
