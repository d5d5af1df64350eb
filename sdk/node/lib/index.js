'use strict';
// @workestrator/worker: what a worker module may require. A module needs
// none of it to run: see README.md.

const { currentCall, enableCurrentCall, DEFAULT_METHOD } = require('./methods');
const { Code } = require('./errors');

// A module that requires the SDK may call currentCall: from now on calls
// run in the storage it reads.
enableCurrentCall();

// permanent marks err so that the host never retries the call that failed
// with it, and returns err.
function permanent(err) {
  if (err !== null && typeof err === 'object') {
    Object.defineProperty(err, 'permanent', { value: true, enumerable: false, writable: true, configurable: true });
  }
  return err;
}

module.exports = { currentCall, permanent, DEFAULT_METHOD, Code };
