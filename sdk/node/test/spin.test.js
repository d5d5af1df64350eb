'use strict';
// The idle spin: its window from the environment, and a Spinner that keeps
// the event loop turning for that long and then lets it sleep.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Spinner, spinWindowMs, DEFAULT_SPIN_US } = require('../lib/spin');

test('spinWindowMs reads WORKESTRATOR_IDLE_SPIN_US in microseconds', () => {
  assert.equal(spinWindowMs({}), DEFAULT_SPIN_US / 1000);
  assert.equal(spinWindowMs({ WORKESTRATOR_IDLE_SPIN_US: '' }), DEFAULT_SPIN_US / 1000);
  assert.equal(spinWindowMs({ WORKESTRATOR_IDLE_SPIN_US: '0' }), 0);
  assert.equal(spinWindowMs({ WORKESTRATOR_IDLE_SPIN_US: '250' }), 0.25);
  for (const bad of ['-1', 'fast', '1e7', 'NaN']) {
    assert.throws(() => spinWindowMs({ WORKESTRATOR_IDLE_SPIN_US: bad }),
      new RegExp(`WORKESTRATOR_IDLE_SPIN_US="${bad}": want microseconds`));
  }
});

test('a Spinner ends its window and stops for good', async () => {
  const s = new Spinner(5);
  const start = performance.now();
  s.poke();
  assert.equal(s.spinning, true);
  while (s.spinning) {
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(performance.now() - start < 5000, 'the spinner never stopped');
  }
  assert.ok(s.until - start >= 5 && performance.now() >= s.until, 'the spinner stopped before its window');
  s.stop();
  s.poke();
  assert.equal(s.spinning, false, 'a stopped spinner spins again');
});

test('a Spinner with no window never spins', () => {
  const s = new Spinner(0);
  s.poke();
  assert.equal(s.spinning, false);
});
