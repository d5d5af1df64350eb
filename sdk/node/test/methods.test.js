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

test('a callback-style arrow function: what its body returns by the way is no result', async () => {
  const immediate = (x, cb) => setImmediate(cb, null, x);
  assert.equal(await invoke(immediate, [5], ctx(), noLate), 5);
  const timer = (x, cb) => setTimeout(cb, 5, null, x + 1);
  assert.equal(await invoke(timer, [5], ctx(), noLate), 6);
  const { EventEmitter } = require('node:events');
  const emitter = (x, done) => { const e = new EventEmitter(); setImmediate(done, null, x * 2); return e; };
  assert.equal(await invoke(emitter, [5], ctx(), noLate), 10);
  // A plain value returned still settles the call.
  assert.deepEqual(await invoke((x, cb) => ({ x }), [5], ctx(), () => {}), { x: 5 });
});

test('a falsy callback error is no error, as in Node.js', async () => {
  for (const err of [false, 0, '', null, undefined]) {
    assert.equal(await invoke((x, cb) => { cb(err, x); }, [7], ctx(), noLate), 7);
  }
});

test('a Promise that resolves to nothing settles unless the parameter is named as a callback', async () => {
  // ms is passed on (to setTimeout), which makes it a callback parameter,
  // but the Promise the function returns decides.
  const wait = function (ms) { return new Promise((resolve) => setTimeout(resolve, ms)); };
  assert.equal(await invoke(wait, [], ctx(), () => {}), undefined);
  const helper = async (x, opts) => x;
  const passesOn = async function (x, opts) { await helper(x, opts); };
  assert.equal(await invoke(passesOn, [1], ctx(), () => {}), undefined);
  // An async function whose last parameter is named callback answers
  // through it.
  const named = async function (x, callback) { setImmediate(() => callback(null, x + 1)); };
  assert.equal(await invoke(named, [1], ctx(), noLate), 2);
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

test("a call's this is the module's exports, which show the call's id, method and signal", async () => {
  const { Runtime, CallContext } = require('../lib/runtime');
  const plain = { helper: (x) => x * 2 };
  const getter = Object.defineProperty({ helper: (x) => x * 2 }, 'id', { get() { return 5; }, enumerable: true });
  const fn = Object.assign(function () { return typeof this; }, { helper: (x) => x * 2 });
  for (const exp of [plain, getter, fn]) {
    const rt = new Runtime({ methods: new Map(), exports: exp, sers: new Map(), maxMessage: 0, log: null });
    const self = rt.thisOf(new CallContext(7, 'run', { signal: 'S' }));
    assert.equal(self.helper(2), 4);
    assert.equal(self.id, 7);
    assert.equal(self.method, 'run');
    assert.equal(self.signal, 'S');
    assert.ok('signal' in self);
    self.state = 3; // stays on the exports, for the next calls
    assert.equal(exp.state, 3);
    assert.equal(rt.thisOf(new CallContext(8, 'run', { signal: 'T' })).state, 3);
  }
  const rt = new Runtime({ methods: new Map(), exports: fn, sers: new Map(), maxMessage: 0, log: null });
  assert.equal(await invoke(fn, [], ctx(), noLate, rt.thisOf(ctx())), 'function');
  // A frozen export of one of those names is the module's own.
  const frozen = Object.freeze({ id: 1, method: 'm', helper: (x) => x * 2 });
  const fr = new Runtime({ methods: new Map(), exports: frozen, sers: new Map(), maxMessage: 0, log: null });
  const self = fr.thisOf(new CallContext(7, 'run', { signal: 'S' }));
  assert.equal(self.id, 1);
  assert.equal(self.signal, 'S');
  // A class instance is this itself: its private fields work.
  class Counter {
    #n = 0;
    bump() { this.#n += 1; return this.#n; }
  }
  const inst = new Counter();
  const cr = new Runtime({ methods: methodsOf(inst, false), exports: inst, sers: new Map(), maxMessage: 0, log: null });
  const bump = methodsOf(inst, false).get('bump');
  assert.equal(await invoke(bump, [], ctx(), noLate, cr.thisOf(ctx())), 1);
  assert.equal(await invoke(bump, [], ctx(), noLate, cr.thisOf(ctx())), 2);
});

test("a class instance's methods and non-enumerable functions are methods", () => {
  class Mod {
    hello(n) { return n + 1; }
  }
  assert.deepEqual([...methodsOf(new Mod(), false).keys()], ['hello']);
  const hidden = Object.defineProperty({ a() {} }, 'b', { value() {}, enumerable: false });
  assert.deepEqual([...methodsOf(hidden, false).keys()].sort(), ['a', 'b']);
});

test('a parameter passed to a constructor or a value function is no callback', async () => {
  // Workestrator's err(type, message), called without a message.
  const err = function (type, message) {
    switch (type) {
      case 'TypeError': throw new TypeError(message);
      default: throw Error(message);
    }
  };
  await assert.rejects(invoke(err, ['TypeError'], ctx(), noLate), (e) => e instanceof TypeError && e.message === '');
  await assert.rejects(invoke(err, ['x'], ctx(), noLate), (e) => e.message === '');
  const str = function (a, b) { console.log(b); return String(b) + JSON.stringify(b); };
  assert.equal(await invoke(str, [1], ctx(), noLate), 'undefinedundefined');
  const prom = function (a, b) { return new Promise((resolve) => resolve(b)); };
  assert.equal(await invoke(prom, [1], ctx(), noLate), undefined);
});

test('a parameter passed to an object\'s method is a callback; an EventEmitter\'s methods are no methods', async () => {
  const User = { findById: (id, cb) => setImmediate(cb, null, { id }) };
  const find = function (id, reply) { User.findById(id, reply); };
  assert.deepEqual(await invoke(find, [3], ctx(), noLate), { id: 3 });
  const { EventEmitter } = require('node:events');
  class Mod extends EventEmitter {
    hello(n) { return n + 1; }
  }
  assert.deepEqual([...methodsOf(new Mod(), false).keys()], ['hello']);
});

test("this shows a read-only property the exports fix after loading", () => {
  const { Runtime, CallContext } = require('../lib/runtime');
  const exp = { helper: () => 1 };
  const rt = new Runtime({ methods: new Map(), exports: exp, sers: new Map(), maxMessage: 0, log: null });
  assert.equal(rt.thisOf(new CallContext(7, 'run', { signal: 'S' })).id, 7);
  Object.defineProperty(exp, 'id', { value: 1, writable: false, configurable: false });
  assert.equal(rt.thisOf(new CallContext(7, 'run', { signal: 'S' })).id, 1);
});
