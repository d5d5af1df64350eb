'use strict';
// Spinner keeps the event loop polling, without sleeping, for a short while
// after the worker goes idle (server.js pokes it when a call that ran alone
// is answered). A sleeping event loop waits in epoll_wait and
// its CPU may drop into an idle state; waking it from another CPU costs tens
// of microseconds on many machines (virtual ones above all), which is most
// of a call's round trip when calls come one at a time. While setImmediate
// callbacks are pending, libuv polls for I/O with a zero timeout, so a call
// that arrives within the window is read at once. The window is
// WORKESTRATOR_IDLE_SPIN_US microseconds (default 100; 0 turns it off); it
// costs at most that much CPU per idle period.

const DEFAULT_SPIN_US = 100;

// spinWindowMs reads the window from env, in milliseconds.
function spinWindowMs(env = process.env) {
  const v = env.WORKESTRATOR_IDLE_SPIN_US;
  if (v === undefined || v === '') return DEFAULT_SPIN_US / 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1e6) {
    throw new Error(`WORKESTRATOR_IDLE_SPIN_US=${JSON.stringify(v)}: want microseconds from 0 to 1000000`);
  }
  return n / 1000;
}

class Spinner {
  constructor(windowMs) {
    this.windowMs = windowMs;
    this.until = 0;
    this.spinning = false;
    this.stopped = false;
    this.loop = () => {
      if (!this.stopped && performance.now() < this.until) {
        setImmediate(this.loop);
      } else {
        this.spinning = false;
      }
    };
  }

  // poke starts (or extends) the window from now.
  poke() {
    if (this.windowMs <= 0 || this.stopped) return;
    this.until = performance.now() + this.windowMs;
    if (!this.spinning) {
      this.spinning = true;
      setImmediate(this.loop);
    }
  }

  // stop ends the window for good.
  stop() {
    this.stopped = true;
  }
}

module.exports = { Spinner, spinWindowMs, DEFAULT_SPIN_US };
