'use strict';
// Logging in hclog's JSON line format on the worker's stderr, which the
// host re-logs at each line's level (internal/host/workerlog.go), and the
// redirection of console and process.stdout into it: stdout carries the
// go-plugin handshake line and nothing else.

const util = require('node:util');

const LEVELS = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, off: 5 };

// parseLevel returns the level named by s (hclog's names, any case), or
// info when s is empty or unknown.
function parseLevel(s) {
  const l = String(s || '').trim().toLowerCase();
  if (l === 'warning') return LEVELS.warn;
  return Object.prototype.hasOwnProperty.call(LEVELS, l) ? LEVELS[l] : LEVELS.info;
}

const pad = (n, w) => String(n).padStart(w, '0');

// timestamp formats d as hclog's JSON timestamp, 2006-01-02T15:04:05.000000Z07:00, in UTC.
function timestamp(d) {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}` +
    `.${pad(d.getUTCMilliseconds(), 3)}000Z`;
}

// fieldValue makes v fit in a JSON log line: errors become their stack or
// message, values JSON cannot hold become util.inspect's text.
function fieldValue(v) {
  if (v instanceof Error) return v.stack || String(v);
  if (typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol') return String(v);
  return v;
}

// Logger writes hclog JSON lines with write (a function of one string).
class Logger {
  constructor(write, level, module) {
    this._write = write;
    this.level = level;
    this.module = module || '';
  }

  // named returns a logger whose lines carry @module name.
  named(name) {
    return new Logger(this._write, this.level, this.module ? `${this.module}.${name}` : name);
  }

  // log writes message at level (a name of LEVELS) with the key/value
  // pairs of fields (an object).
  log(level, message, fields) {
    if (LEVELS[level] < this.level) return;
    const entry = { '@level': level, '@message': String(message), '@timestamp': timestamp(new Date()) };
    if (this.module) entry['@module'] = this.module;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (!k.startsWith('@')) entry[k] = fieldValue(v);
      }
    }
    let line;
    try {
      line = JSON.stringify(entry);
    } catch {
      line = JSON.stringify({ '@level': level, '@message': String(message), '@timestamp': entry['@timestamp'], fields: util.inspect(fields) });
    }
    this._write(line + '\n');
  }

  trace(message, fields) { this.log('trace', message, fields); }
  debug(message, fields) { this.log('debug', message, fields); }
  info(message, fields) { this.log('info', message, fields); }
  warn(message, fields) { this.log('warn', message, fields); }
  error(message, fields) { this.log('error', message, fields); }
}

// redirectConsole sends console's output and whatever is written on
// process.stdout to log: console.log, info and process.stdout at info,
// console.debug at debug, console.warn at warn, console.error and
// console.trace at error. A line written in pieces on process.stdout is
// logged once its newline comes (or at 8 Ki characters, or at exit).
function redirectConsole(log) {
  const logAt = (level) => (...args) => log.log(level, util.format(...args));
  console.log = logAt('info');
  console.info = logAt('info');
  console.debug = logAt('debug');
  console.warn = logAt('warn');
  console.error = logAt('error');
  console.trace = (...args) => {
    const stack = new Error().stack.split('\n').slice(2).join('\n');
    log.log('error', util.format(...args), { stack });
  };
  console.dir = (obj, opts) => log.log('info', util.inspect(obj, opts));
  let pending = '';
  process.stdout.write = function write(chunk, encoding, cb) {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    pending += Buffer.isBuffer(chunk) || chunk instanceof Uint8Array
      ? Buffer.from(chunk).toString('utf8')
      : String(chunk);
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      log.log('info', pending.slice(0, nl), { stream: 'stdout' });
      pending = pending.slice(nl + 1);
    }
    while (pending.length >= MAX_PENDING) {
      log.log('info', pending.slice(0, MAX_PENDING), { stream: 'stdout' });
      pending = pending.slice(MAX_PENDING);
    }
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  };
  // What the worker wrote last without a newline is logged as it exits.
  process.on('exit', () => {
    if (pending !== '') log.log('info', pending, { stream: 'stdout' });
    pending = '';
  });
}

// MAX_PENDING bounds a line written on process.stdout without a newline:
// its first MAX_PENDING characters are logged as a line of their own, one
// that the host's log lines (64 KiB of JSON) hold whatever the characters.
const MAX_PENDING = 8 << 10;

module.exports = { Logger, LEVELS, parseLevel, redirectConsole, timestamp };
