'use strict';
// Loading a worker module and calling its functions.
//
// A module's methods are its exports: module.exports itself, when it is a
// function, is the default method "run" (what a farm's Run calls), and
// each property whose value is a function (see methodsOf) is a method of
// that name (module.exports.foo answers RunMethod(ctx, "foo", ...)). An ES
// module's default export is "run" and its named function exports are
// methods.
//
// A function is called in one of two ways, chosen at each call:
//
//   - callback style (node-worker-farm's convention): when the function
//     declares exactly one parameter more than the call has arguments
//     (fn.length === args.length + 1) and that parameter is a callback:
//     named like one (callback, cb, done, next, ...Callback, ...Cb), called
//     in the function's body (`name(`, `name?.(`, `name.call(`) or passed
//     on as an argument (`fs.readFile(p, name)`); a function whose source
//     cannot be read (native, bound) counts as one. It gets
//     a Node-style callback (err, result) as that last parameter; a falsy
//     err is no error. The call settles with the first of: the callback,
//     or a result other than undefined that the function returns (a Promise
//     is awaited; one that resolves to undefined settles the call unless the
//     parameter is named as a callback). What an arrow function's body
//     returns by the way, a timer, an emitter or a stream (setTimeout,
//     http.get), is not a result. A last
//     parameter that is merely optional (Workestrator's
//     `function (timeout) { ... timeout || 500 ... }` called with no
//     argument) gets no callback: it stays undefined.
//   - otherwise the function gets the call's arguments, and its result (a
//     Promise is awaited) is the call's result; a throw or a rejection is
//     the call's error.
//
// Either way `this` is the module's exports, as in Workestrator
// (this.other() calls a sibling; what a call sets on this stays), through
// which this.signal is an AbortSignal that aborts when the attempt is
// cancelled (its timeout, the caller's context, the farm's Kill), and
// this.method and this.id name the call (see thisOf in runtime.js: a class
// instance's methods get the instance itself). An arrow function, which
// has no `this`, and any code of a call read the call's context (id,
// method, signal) with require('@workestrator/worker').currentCall()
// (AsyncLocalStorage).
//
// The methods are also what module.exports[name] finds beyond the
// exports' own enumerable functions: non-enumerable and inherited ones,
// such as the methods of an exported class instance.

const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { AsyncLocalStorage } = require('node:async_hooks');
const { EventEmitter } = require('node:events');

const DEFAULT_METHOD = 'run';

const callStorage = new AsyncLocalStorage();
// useStorage: calls run in callStorage, which costs every promise of the
// process a hook; it is turned on when a module can call currentCall, that
// is once it required the SDK (lib/index.js calls enableCurrentCall).
let useStorage = false;

// enableCurrentCall makes the calls that start from now on run in
// callStorage, for currentCall.
function enableCurrentCall() {
  useStorage = true;
}

// currentCall returns the context of the call whose code runs now (its
// id, method and signal), or undefined outside a call.
function currentCall() {
  return callStorage.getStore();
}

// loadModule loads the module at file (relative to the working directory)
// with require, or with import() when it is an ES module.
async function loadModule(file) {
  const abs = path.resolve(file);
  try {
    // Node.js 20.19 and later require an ES module too, and return its
    // namespace.
    const exports = require(abs);
    return { exports, esm: exports !== null && typeof exports === 'object' && exports[Symbol.toStringTag] === 'Module' };
  } catch (err) {
    if (err && (err.code === 'ERR_REQUIRE_ESM' || err.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      return { exports: await import(pathToFileURL(abs).href), esm: true };
    }
    throw err;
  }
}

// methodsOf returns the methods of a module's exports as a Map from name
// to function. It throws when there is none.
function methodsOf(exp, esm) {
  const methods = new Map();
  if (esm) {
    for (const [name, v] of Object.entries(exp)) {
      if (typeof v !== 'function') continue;
      methods.set(name === 'default' ? DEFAULT_METHOD : name, v);
    }
    if (exp.default && typeof exp.default === 'object') addMethods(exp.default, methods);
  } else {
    if (typeof exp === 'function') methods.set(DEFAULT_METHOD, exp);
    if (exp && (typeof exp === 'object' || typeof exp === 'function')) addMethods(exp, methods);
  }
  if (methods.size === 0) {
    throw new Error('the module exports no function: export a function (the default method "run") or an object of functions');
  }
  return methods;
}

// addMethods adds to methods the functions of obj that methods does not
// name yet: its own enumerable ones first, then what obj[name] also finds,
// as Workestrator looks a method up: non-enumerable and inherited ones (a
// class instance's), short of those of Node.js's own classes (Object,
// Function, EventEmitter, streams, ...).
function addMethods(obj, methods) {
  for (const [name, v] of Object.entries(obj)) {
    if (typeof v === 'function' && !methods.has(name)) methods.set(name, v);
  }
  for (let o = obj; o && !builtinProto(o); o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === 'constructor' || methods.has(name)) continue;
      const d = Object.getOwnPropertyDescriptor(o, name);
      if (d && typeof d.value === 'function') methods.set(name, d.value);
    }
  }
}

// builtinProtos are the prototypes of Node.js's classes written in
// JavaScript that a module's class may extend.
let builtinProtos = null;

// builtinProto reports whether o is the prototype of a class of Node.js
// or of the language, whose methods are no module's.
function builtinProto(o) {
  if (builtinProtos === null) {
    const stream = require('node:stream');
    const net = require('node:net');
    builtinProtos = new Set([Object.prototype, Function.prototype, EventEmitter.prototype, EventTarget.prototype,
      stream.Stream.prototype, stream.Readable.prototype, stream.Writable.prototype, stream.Duplex.prototype,
      stream.Transform.prototype, stream.PassThrough.prototype, net.Socket.prototype, net.Server.prototype]);
  }
  if (builtinProtos.has(o)) return true;
  const c = Object.prototype.hasOwnProperty.call(o, 'constructor') ? o.constructor : undefined;
  return typeof c === 'function' && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(c));
}

// signature describes fn for Describe: its kind, name and declared
// parameter count.
function signature(name, fn) {
  const kind = fn.constructor && fn.constructor.name === 'AsyncFunction' ? 'async function' : 'function';
  return `${kind} ${fn.name || name}(${fn.length} parameter${fn.length === 1 ? '' : 's'})`;
}

const isThenable = (v) => v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';

// invoke calls fn with args, the call context ctx (what currentCall
// returns) and self as its this (ctx unless given), and returns a Promise
// of its result. onLate is called with a
// description of each settlement after the first (a callback called twice,
// a callback after a returned value), which is ignored.
function invoke(fn, args, ctx, onLate, self = ctx) {
  return useStorage ? callStorage.run(ctx, call, fn, args, self, onLate) : call(fn, args, self, onLate);
}

// call is invoke's work, in the call's storage when it has one; ctx is
// the function's this.
function call(fn, args, ctx, onLate) {
  const how = fn.length === args.length + 1 ? takesCallback(fn) : false;
  if (!how) {
    try {
      return Promise.resolve(fn.apply(ctx, args));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (how, ok, v) => {
      if (settled) {
        onLate(how);
        return;
      }
      settled = true;
      if (ok) resolve(v);
      else reject(v);
    };
    const callback = (err, result) => {
      if (err) settle('callback', false, err); // a falsy err is none, as in Node.js
      else settle('callback', true, result);
    };
    let r;
    try {
      r = fn.apply(ctx, [...args, callback]);
    } catch (err) {
      settle('throw', false, err);
      return;
    }
    if (isThenable(r)) {
      // A Promise that resolves to nothing leaves the call to a parameter
      // named as a callback; otherwise it settles the call.
      r.then((v) => { if (v !== undefined || how !== 'name') settle('promise', true, v); },
        (err) => settle('promise', false, err));
    } else if (r !== undefined && !isHandle(r)) {
      settle('return', true, r);
    }
  });
}

// isHandle reports whether v is what a callback-style function's body
// returns without meaning it as a result, as an arrow function does: a
// timer (setTimeout, setImmediate), an emitter, a socket, a stream, a
// request.
const isHandle = (v) => v instanceof EventEmitter ||
  (typeof v === 'object' && v !== null && typeof v.ref === 'function' && typeof v.unref === 'function');

// callbackLike matches the names of a callback parameter.
const callbackLike = /^(cb|callback|done|next)$|(callback|cb)$/i;

// takesCallback reports whether fn's last declared parameter (the one at
// fn.length - 1) is a callback (see the top of this file), and why: 'name'
// (named as one), 'use' (called or passed on in the body), 'arity' (the
// source cannot be read), or false; it reads fn's source once.
const takesCallbackCache = new WeakMap();
function takesCallback(fn) {
  let v = takesCallbackCache.get(fn);
  if (v === undefined) {
    v = lastParamIsCallback(fn);
    takesCallbackCache.set(fn, v);
  }
  return v;
}

function lastParamIsCallback(fn) {
  const p = paramsOf(Function.prototype.toString.call(fn));
  if (!p) return 'arity'; // unreadable: the arity alone decides
  // fn.length counts the parameters before the first default or rest one:
  // a source read otherwise is not trusted.
  const counted = p.raw.findIndex((x) => x.includes('=') || x.startsWith('...'));
  if ((counted < 0 ? p.raw.length : counted) !== fn.length) return 'arity';
  const name = p.params[fn.length - 1];
  if (name === undefined) return 'arity';
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) return false; // a pattern, not a function
  if (callbackLike.test(name)) return 'name';
  // Called (name(, name?.(, name.call(, .apply(, .bind() or passed on as
  // an argument (fs.readFile(p, name), setImmediate(name, ...)).
  const esc = name.replace(/\$/g, '\\$');
  if (new RegExp(`(^|[^\\w$.])${esc}\\s*(\\(|\\?\\.\\s*\\(|\\.\\s*(call|apply|bind)\\s*\\()`).test(p.body)) return 'use';
  const arg = new RegExp(`[(,]\\s*${esc}\\s*[,)]`, 'g');
  for (let m; (m = arg.exec(p.body)) !== null;) {
    if (takesFunction(calleeOf(p.body, m.index))) return 'use';
  }
  return false;
}

// calleeOf returns the callee of the call whose argument list holds the
// position at (an opening parenthesis or a comma in it): { name, isNew },
// or null when the parenthesis is not a call's (a grouping, an arrow
// function's parameters).
function calleeOf(src, at) {
  let open = at;
  if (src[at] !== '(') {
    for (let depth = 0, i = at - 1; ; i--) {
      if (i < 0) return null;
      const c = src[i];
      if (c === ')' || c === ']' || c === '}') depth++;
      else if (c === '(' || c === '[' || c === '{') {
        if (depth === 0) {
          if (c !== '(') return null;
          open = i;
          break;
        }
        depth--;
      }
    }
  }
  const m = /(\bnew\s+)?([A-Za-z_$][\w$]*(?:\s*\??\.\s*[A-Za-z_$][\w$]*)*)\s*$/.exec(src.slice(Math.max(0, open - 200), open));
  if (!m || /^(if|while|for|switch|catch|return|typeof|function)$/.test(m[2])) return null;
  return { name: m[2], isNew: Boolean(m[1]) };
}

// valueTakers are the globals whose functions take values, not callbacks.
const valueTakers = new Set(['JSON', 'Math', 'Object', 'Array', 'Number', 'String', 'Boolean', 'Symbol',
  'BigInt', 'Date', 'Promise', 'Buffer', 'console', 'resolve', 'reject']);

// takesFunction reports whether a callee passed a parameter may take it
// as a callback: not a constructor (new X(p), or a bare capitalised name
// such as Error(p)), nor a function of a global that takes values
// (JSON.stringify(p), console.log(p), a promise's resolve(p)).
function takesFunction(callee) {
  if (!callee || callee.isNew) return false;
  const parts = callee.name.split(/\s*\??\.\s*/);
  if (parts.length === 1 && /^[A-Z]/.test(parts[0])) return false;
  return !valueTakers.has(parts[0]);
}

// paramsOf splits a function's source into its parameters (each trimmed,
// defaults cut off) and its body; null when the source is not one it
// reads (native code, a class).
function paramsOf(src) {
  if (/^class\b/.test(src) || /\{\s*\[native code\]\s*\}\s*$/.test(src)) return null;
  let i = 0;
  let list;
  const open = src.indexOf('(');
  const arrow = src.indexOf('=>');
  if (arrow >= 0 && (open < 0 || arrow < open)) {
    // a => body, async a => body
    list = src.slice(0, arrow).replace(/^async\s+/, '').trim();
    return { raw: list ? [list] : [], params: list ? [list] : [], body: src.slice(arrow + 2) };
  }
  if (open < 0) return null;
  i = open + 1;
  let depth = 0;
  let quote = '';
  let cur = '';
  const params = [];
  for (; i < src.length; i++) {
    const c = src[i];
    if (quote) {
      cur += c;
      if (c === '\\') {
        cur += src[++i] || '';
      } else if (c === quote) {
        quote = '';
      }
      continue;
    }
    if (c === '/' && (src[i + 1] === '*' || src[i + 1] === '/')) {
      const end = src[i + 1] === '*' ? src.indexOf('*/', i + 2) : src.indexOf('\n', i + 2);
      if (end < 0) return null;
      i = src[i + 1] === '*' ? end + 1 : end;
      cur += ' ';
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
      cur += c;
    } else if (c === '(' || c === '[' || c === '{') {
      depth++;
      cur += c;
    } else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) break; // the parameter list's end
      depth--;
      cur += c;
    } else if (c === ',' && depth === 0) {
      params.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  if (i >= src.length) return null;
  if (cur.trim() !== '') params.push(cur);
  const raw = params.map((x) => x.trim());
  return { raw, params: raw.map((x) => x.split('=')[0].trim()), body: src.slice(i + 1) };
}

module.exports = { DEFAULT_METHOD, loadModule, methodsOf, signature, invoke, currentCall, enableCurrentCall, takesCallback };
