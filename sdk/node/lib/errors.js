'use strict';
// The wire form of a call's failure (workestrator.v1.Error), which the
// host turns into a farm.RemoteError.

// Codes of workestrator.v1.Error.Code.
const Code = Object.freeze({
  APPLICATION: 0,
  UNKNOWN_METHOD: 1,
  BAD_ARGUMENTS: 2,
  BAD_RESULT: 3,
  PANIC: 4,
  UNKNOWN_SERIALIZER: 5,
  CANCELED: 6,
  TOO_LARGE: 7,
});

// MAX_ERROR_TEXT bounds each text of an error, as the Go runtime does
// (internal/wire.MaxErrorText); longer ones are cut.
const MAX_ERROR_TEXT = 64 << 10;

// boundText cuts s to MAX_ERROR_TEXT bytes of UTF-8 at a character
// boundary, marked as cut.
function boundText(s) {
  s = String(s == null ? '' : s);
  if (s.length * 3 <= MAX_ERROR_TEXT) return s;
  const b = Buffer.from(s, 'utf8');
  if (b.length <= MAX_ERROR_TEXT) return s;
  const mark = ' [truncated]';
  let end = MAX_ERROR_TEXT - mark.length;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8') + mark;
}

// errorName is the name a host sees as RemoteError.Type: the error's name
// (TypeError, RangeError, AbortError...), or its class's name when a
// subclass of Error kept the inherited name "Error"; for a thrown value
// that is not an object, its typeof.
function errorName(err) {
  if (err === null || (typeof err !== 'object' && typeof err !== 'function')) {
    return err === null ? 'null' : typeof err;
  }
  let name = typeof err.name === 'string' && err.name ? err.name : '';
  const ctor = err.constructor && typeof err.constructor.name === 'string' ? err.constructor.name : '';
  if ((name === '' || name === 'Error') && ctor && ctor !== 'Object') name = ctor;
  return name || 'Error';
}

// ownDetails returns the own enumerable properties of err as an object, or
// undefined when it has none; a thrown value that is not an object is its
// own detail.
function ownDetails(err) {
  if (err === null || err === undefined) return undefined;
  if (typeof err !== 'object' && typeof err !== 'function') return err;
  const keys = Object.keys(err);
  if (keys.length === 0) return undefined;
  const d = {};
  for (const k of keys) d[k] = err[k];
  return d;
}

// isCancellation reports whether err is the end of a cancelled call: the
// call's signal aborted and err is its reason or an AbortError or
// TimeoutError.
function isCancellation(err, signal) {
  if (!signal || !signal.aborted) return false;
  return err === signal.reason ||
    (err !== null && typeof err === 'object' && (err.name === 'AbortError' || err.name === 'TimeoutError'));
}

// encodeError returns the wire error of a function's failure err, with its
// details encoded by ser; err.permanent === true marks it permanent (never
// retried by the host).
function encodeError(err, ser, signal) {
  const e = {
    code: isCancellation(err, signal) ? Code.CANCELED : Code.APPLICATION,
    type: boundText(errorName(err)),
    message: '',
    stack: '',
    details: Buffer.alloc(0),
    permanent: false,
  };
  if (err !== null && typeof err === 'object') {
    e.message = boundText(typeof err.message === 'string' ? err.message : String(err));
    e.stack = boundText(typeof err.stack === 'string' ? err.stack : '');
    e.permanent = err.permanent === true;
  } else {
    e.message = boundText(String(err));
  }
  const details = ownDetails(err);
  if (details !== undefined) {
    try {
      e.details = ser.encode(details);
    } catch {
      // Details that do not encode are left out; the message stays.
    }
  }
  return e;
}

// wireError is an error of the SDK itself (not of the function) with code,
// type and message.
function wireError(code, type, message) {
  return { code, type, message: boundText(message), stack: '', details: Buffer.alloc(0), permanent: false };
}

module.exports = { Code, encodeError, wireError, errorName, boundText, MAX_ERROR_TEXT };
