'use strict';
// The Worker service's semantics, apart from gRPC: Describe, and running
// one call (decode the arguments, call the function, encode the result or
// the error) into a reply that is never a transport failure.

const { Code, encodeError, wireError } = require('./errors');
const { invoke, signature } = require('./methods');

// PROTOCOL_VERSION is the worker protocol's version (internal/wire.ProtocolVersion).
const PROTOCOL_VERSION = 1;
// SDK identifies this SDK in Describe.
const SDK = 'node';
// DEFAULT_MAX_MESSAGE is the payload limit when the host sets none (256 MiB).
const DEFAULT_MAX_MESSAGE = 256 << 20;
// MAX_BATCH_BYTES caps the bytes of replies gathered in one stream message
// (internal/wire.MaxBatchBytes); a larger reply goes alone.
const MAX_BATCH_BYTES = 4 << 20;
// FRAME_ENVELOPE is a message's allowance beyond its payload.
const FRAME_ENVELOPE = 1 << 20;

// frameLimit is the largest gRPC message for the payload limit maxMessage
// (internal/wire.NewLimits).
function frameLimit(maxMessage) {
  return Math.min(Math.max(maxMessage, MAX_BATCH_BYTES), 2 ** 31 - 1 - FRAME_ENVELOPE) + FRAME_ENVELOPE;
}

const EMPTY = Buffer.alloc(0);

// CallAbort is a call's cancellation, with the surface of an
// AbortController: abort(reason) aborts it, signal is its AbortSignal.
// The AbortController is made the first time signal is read, aborted
// already if the call was: most functions never look at it.
class CallAbort {
  constructor() {
    this.aborted = false;
    this.reason = undefined;
    this.ac = null;
  }

  get signal() {
    if (this.ac === null) {
      this.ac = new AbortController();
      if (this.aborted) this.ac.abort(this.reason);
    }
    return this.ac.signal;
  }

  abort(reason) {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    if (this.ac !== null) this.ac.abort(reason);
  }
}

const ABORT = Symbol('abort');

// CallContext is what currentCall() returns, and what `this` shows:
// id, method, and signal, the call's AbortSignal (made when first read).
class CallContext {
  constructor(id, method, abort) {
    this.id = id;
    this.method = method;
    this[ABORT] = abort;
  }

  get signal() {
    return this[ABORT].signal;
  }
}

// CALL_FIELDS are the names under which `this` shows the call.
const CALL_FIELDS = new Set(['id', 'method', 'signal']);

// thisOf returns, for a module whose exports are exp, the function that
// makes a call's `this` from its CallContext. As in Workestrator, `this`
// is the module's exports: this.other() calls a sibling, this.state = 7
// stays for the next calls, the default export's `this` is itself. For
// exports of the usual shapes (an object, a function, an ES module's
// namespace, which is read-only) it is seen through a proxy that also
// answers this.id, this.method and this.signal with the call's, unless
// the exports fix those names themselves (a frozen property); a class
// instance is `this` itself, for its private fields, and currentCall()
// gives the call.
function thisOf(exp) {
  if (!exp || (typeof exp !== 'object' && typeof exp !== 'function')) return (ctx) => ctx;
  const proto = Object.getPrototypeOf(exp);
  if (typeof exp !== 'function' && proto !== Object.prototype && proto !== null) return () => exp;
  // A property of those names that the exports fix (non-configurable and
  // read-only) is theirs: a proxy may not answer otherwise. Looked at on
  // each read, for exports that change after the module loaded.
  const fixed = (p) => {
    const d = Object.getOwnPropertyDescriptor(exp, p);
    return d !== undefined && !d.configurable && ('value' in d ? !d.writable : d.get === undefined);
  };
  const shown = (p) => CALL_FIELDS.has(p) && !fixed(p);
  const traps = {
    get(target, p) {
      return shown(p) ? this.ctx[p] : Reflect.get(target, p);
    },
    has(target, p) {
      return shown(p) || Reflect.has(target, p);
    },
  };
  return (ctx) => {
    const handler = Object.create(traps);
    handler.ctx = ctx;
    return new Proxy(exp, handler);
  };
}

class Runtime {
  // methods: Map name → function; exports: the module's, which `this`
  // reads too; sers: Map name → serializer; maxMessage:
  // the payload limit in bytes; log: a Logger; spinMs: how long a session
  // keeps the event loop polling once it is idle (spin.js).
  constructor({ methods, sers, maxMessage, log, spinMs = 0, exports = null, esm = false }) {
    this.thisOf = thisOf(exports);
    // An ES module's methods that come from its default export's object
    // (export default { a, b }) have that object as `this`, so that
    // this.b() works there; its named exports have the namespace.
    this.thisOfMethod = new Map();
    const def = esm && exports ? exports.default : undefined;
    if (def && typeof def === 'object') {
      const ofDefault = thisOf(def);
      for (const [name, fn] of methods) {
        if (def[name] === fn && exports[name] !== fn) this.thisOfMethod.set(name, ofDefault);
      }
    }
    this.spinMs = spinMs;
    this.methods = methods;
    this.names = [...methods.keys()].sort();
    this.sers = sers;
    this.maxMessage = maxMessage > 0 ? maxMessage : DEFAULT_MAX_MESSAGE;
    this.log = log;
    // dataPlane is the socket data plane's { path, token }, once it listens.
    this.dataPlane = null;
  }

  describe() {
    return {
      protocol_version: PROTOCOL_VERSION,
      methods: this.names.map((n) => ({ name: n, signature: signature(n, this.methods.get(n)) })),
      serializers: [...this.sers.keys()].filter((n) => n !== ''),
      pid: String(process.pid),
      sdk: SDK,
      data_plane: this.dataPlane ? `unix:${this.dataPlane.path}` : '',
      data_plane_token: this.dataPlane ? this.dataPlane.token : EMPTY,
    };
  }

  // run runs call (a decoded workestrator.v1.Call) with the CallAbort (or
  // AbortController) ac and resolves to its reply; it never rejects.
  async run(call, ac) {
    const reply = { id: call.id, result: EMPTY, error: null };
    const fn = this.methods.get(call.method);
    if (!fn) {
      reply.error = wireError(Code.UNKNOWN_METHOD, 'method',
        `no method ${JSON.stringify(call.method)}; the worker has: ${this.names.join(', ')}`);
      return reply;
    }
    const ser = this.sers.get(call.serializer);
    if (!ser) {
      reply.error = wireError(Code.UNKNOWN_SERIALIZER, 'serializer',
        `unknown serializer ${JSON.stringify(call.serializer)}; the worker has: ${[...this.sers.keys()].filter((n) => n).join(', ')}`);
      return reply;
    }
    const args = new Array(call.args.length);
    for (let i = 0; i < args.length; i++) {
      try {
        args[i] = ser.decode(call.args[i]);
      } catch (err) {
        reply.error = wireError(Code.BAD_ARGUMENTS, 'arguments', `argument ${i + 1} of ${call.method}: ${err.message}`);
        return reply;
      }
    }
    const ctx = new CallContext(call.id, call.method, ac);
    let value;
    try {
      value = await invoke(fn, args, ctx, (how) => this.log.warn('a call settled more than once; the later settlement is ignored',
        { method: call.method, by: how }), (this.thisOfMethod.get(call.method) || this.thisOf)(ctx));
    } catch (err) {
      reply.error = encodeError(err, ser, ac instanceof CallAbort ? ac : ac.signal);
      if (reply.error.details.length > this.maxMessage) reply.error.details = EMPTY;
      return reply;
    }
    let result;
    try {
      result = ser.encode(value);
    } catch (err) {
      reply.error = wireError(Code.BAD_RESULT, 'result', `result of ${call.method}: ${err.message}`);
      return reply;
    }
    if (result.length > this.maxMessage) {
      reply.error = wireError(Code.TOO_LARGE, 'result',
        `result of ${result.length} bytes exceeds the limit of ${this.maxMessage} bytes`);
      return reply;
    }
    reply.result = result;
    return reply;
  }
}

// replyCost estimates the bytes of a reply in a message.
function replyCost(r) {
  let n = 16 + r.result.length;
  if (r.error) n += r.error.type.length + r.error.message.length + r.error.stack.length + r.error.details.length;
  return n;
}

module.exports = { Runtime, CallAbort, CallContext, frameLimit, replyCost, PROTOCOL_VERSION, SDK, MAX_BATCH_BYTES, DEFAULT_MAX_MESSAGE };
