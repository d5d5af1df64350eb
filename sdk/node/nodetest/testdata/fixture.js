'use strict';
// The Node.js fixture worker of the nodetest package's tests.

// The default method: the sum of its arguments.
module.exports = function (a, b) {
  return a + b;
};

module.exports.echo = (v) => v;

module.exports.pid = () => process.pid;

module.exports.later = async (v, ms) => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return v;
};

// The node-worker-farm convention: the last parameter is a callback.
module.exports.callback = function (v, callback) {
  setImmediate(() => callback(null, { got: v }));
};

module.exports.callbackError = function (v, callback) {
  const err = new RangeError(`out of range: ${v}`);
  err.limit = 10;
  callback(err);
};

module.exports.throwType = () => {
  const err = new TypeError('not a number');
  err.code = 'E_NAN';
  err.value = 'x';
  throw err;
};

class QuotaError extends Error {}

module.exports.reject = async () => {
  const err = new QuotaError('quota exceeded');
  err.used = 3;
  throw err;
};

module.exports.throwString = () => {
  throw 'plain text';
};

module.exports.permanent = () => {
  const err = new Error('never again');
  err.permanent = true;
  throw err;
};

// Waits for its signal's abort, then fails with the abort's reason.
module.exports.cooperative = function () {
  return new Promise((resolve, reject) => {
    this.signal.addEventListener('abort', () => reject(this.signal.reason), { once: true });
  });
};

// Never settles and ignores its signal.
module.exports.stubborn = () => new Promise(() => {});

// Spins the event loop forever.
module.exports.spin = () => {
  for (;;) { /* never returns */ }
};

module.exports.exit = (code) => process.exit(code);

module.exports.throwLater = () => {
  setImmediate(() => {
    throw new Error('uncaught');
  });
  return new Promise(() => {});
};

// Writes on stdout and the console, then answers.
module.exports.noisy = (v) => {
  console.log('console.log from the module', v);
  process.stdout.write('raw stdout\n');
  console.error('console.error from the module');
  return v;
};

module.exports.size = (s) => s.length;

module.exports.big = (n) => 'x'.repeat(n);

const fs = require('node:fs');

// Exits the worker on its first call (when marker does not exist yet), and
// answers its pid on the next, on the replacement worker.
module.exports.flakyExit = (marker) => {
  if (!fs.existsSync(marker)) {
    fs.writeFileSync(marker, 'x');
    process.exit(3);
  }
  return process.pid;
};

// flakyExit with an uncaught exception instead of an exit.
module.exports.flakyThrow = (marker) => {
  if (!fs.existsSync(marker)) {
    fs.writeFileSync(marker, 'x');
    setImmediate(() => {
      throw new Error('uncaught in the worker');
    });
    return new Promise(() => {});
  }
  return process.pid;
};

// The context the call sees, read through `this` and as an arrow function
// through currentCall: both must be the same signal.
module.exports.context = function () {
  return { method: this.method, hasSignal: this.signal instanceof AbortSignal, aborted: this.signal.aborted };
};

// An arrow function reads its call's context through currentCall, after
// an await too.
const { currentCall } = require('../../lib/index');
module.exports.arrowContext = async () => {
  await new Promise((resolve) => setImmediate(resolve));
  const c = currentCall();
  return { method: c.method, hasSignal: c.signal instanceof AbortSignal, aborted: c.signal.aborted };
};

// Workestrator's failTimeout: a last parameter that is merely optional.
// Called with no argument, it waits 200 ms and resolves to typeof timeout.
module.exports.optionalDelay = function (timeout) {
  return new Promise((resolve) => { setTimeout(() => resolve(typeof timeout), timeout || 200); });
};

// A function that calls a sibling through this, as in Workestrator.
module.exports.viaThis = function (x) { return this.twice(x); };
module.exports.twice = (x) => x * 2;

// Never settles: writes file + ".started" at once, and its signal's reason
// to file when the signal aborts, a moment later, as a cleanup that takes
// a turn of the event loop.
module.exports.markOnAbort = function (file) {
  require('node:fs').writeFileSync(`${file}.started`, '');
  return new Promise(() => {
    this.signal.addEventListener('abort', () => {
      setImmediate(() => require('node:fs').writeFileSync(file, this.signal.reason.name));
    });
  });
};
