'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Logger, parseLevel, LEVELS, timestamp } = require('../lib/log');

test('hclog JSON lines at and above the level', () => {
  const lines = [];
  const log = new Logger((s) => lines.push(s), parseLevel('debug')).named('calc');
  log.trace('hidden');
  log.debug('shown', { n: 1, err: new Error('e'), '@level': 'ignored' });
  assert.equal(lines.length, 1);
  assert.ok(lines[0].endsWith('\n'));
  const e = JSON.parse(lines[0]);
  assert.equal(e['@level'], 'debug');
  assert.equal(e['@message'], 'shown');
  assert.equal(e['@module'], 'calc');
  assert.equal(e.n, 1);
  assert.match(e.err, /^Error: e/);
  assert.match(e['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});

test('level names', () => {
  assert.equal(parseLevel(''), LEVELS.info);
  assert.equal(parseLevel('TRACE'), LEVELS.trace);
  assert.equal(parseLevel('warning'), LEVELS.warn);
  assert.equal(parseLevel('off'), LEVELS.off);
  assert.equal(timestamp(new Date(Date.UTC(2006, 0, 2, 15, 4, 5, 7))), '2006-01-02T15:04:05.007000Z');
});
