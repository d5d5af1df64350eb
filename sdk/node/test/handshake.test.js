'use strict';
// The worker as a process: the handshake line is the only stdout, a
// program started by hand refuses to run.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { spawn, spawnSync } = require('node:child_process');
const grpc = require('@grpc/grpc-js');
const { loadProtos } = require('../lib/server');
const { negotiateVersion, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } = require('../lib/main');

const bin = path.join(__dirname, '..', 'bin', 'workestrator-worker');
const fixture = path.join(__dirname, '..', 'nodetest', 'testdata', 'noisy.js');

test('without the magic cookie the worker refuses to run', () => {
  const env = { ...process.env };
  delete env[MAGIC_COOKIE_KEY];
  const r = spawnSync(bin, [fixture], { env, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /not meant to be run by hand/);
});

test('protocol versions', () => {
  assert.equal(negotiateVersion(''), 1);
  assert.equal(negotiateVersion('1'), 1);
  assert.equal(negotiateVersion('2,1'), 1);
  assert.equal(negotiateVersion('2'), 0);
});

test('the handshake line, then Describe, health and Shutdown', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wk-node-test-'));
  const child = spawn(bin, [fixture], {
    env: { ...process.env, [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE, PLUGIN_UNIX_SOCKET_DIR: dir, PLUGIN_PROTOCOL_VERSIONS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL')); // a failed assertion leaves no worker behind
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (b) => { stderr += b; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const line = await new Promise((resolve, reject) => {
    child.stdout.on('data', (b) => {
      stdout += b;
      if (stdout.includes('\n')) resolve(stdout.split('\n')[0]);
    });
    child.on('exit', () => reject(new Error(`exited before the handshake: ${stderr}`)));
  });
  const parts = line.split('|');
  assert.deepEqual([parts[0], parts[1], parts[2], parts[4]], ['1', '1', 'unix', 'grpc']);
  assert.equal(path.dirname(parts[3]), dir);
  // The module's console.log while loading went to stderr as hclog JSON.
  assert.match(stderr, /"@message":"console.log while loading"/);

  const protos = loadProtos();
  const creds = grpc.credentials.createInsecure();
  const Worker = grpc.makeGenericClientConstructor(protos.worker);
  const Health = grpc.makeGenericClientConstructor(protos.health);
  const Controller = grpc.makeGenericClientConstructor(protos.controller);
  const addr = `unix://${parts[3]}`;
  const w = new Worker(addr, creds);
  const d = await new Promise((resolve, reject) => w.Describe({}, (err, r) => (err ? reject(err) : resolve(r))));
  assert.equal(d.protocol_version, 1);
  assert.equal(d.sdk, 'node');
  // The socket data plane, in the worker's socket directory, with its token.
  assert.match(d.data_plane, /^unix:/);
  assert.equal(path.dirname(d.data_plane.slice('unix:'.length)), dir);
  assert.equal(d.data_plane_token.length, 16);
  assert.equal((fs.statSync(d.data_plane.slice('unix:'.length)).mode & 0o777), 0o600);
  assert.deepEqual(d.methods.map((m) => m.name), ['run']);
  assert.deepEqual(d.serializers, ['json', 'cbor']);
  const reply = await new Promise((resolve, reject) => w.Invoke({ id: '7', method: 'run', args: [Buffer.from('"hi"')] },
    (err, r) => (err ? reject(err) : resolve(r))));
  assert.equal(reply.id, '7');
  assert.equal(reply.result.toString(), '"hi"');
  const h = new Health(addr, creds);
  const st = await new Promise((resolve, reject) => h.Check({ service: 'plugin' }, (err, r) => (err ? reject(err) : resolve(r))));
  assert.equal(st.status, 1);
  const c = new Controller(addr, creds);
  await new Promise((resolve) => c.Shutdown({}, () => resolve()));
  assert.equal(await exited, 0);
  assert.equal(stdout, line + '\n', 'nothing but the handshake on stdout');
  for (const client of [w, h, c]) client.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('goDurationMs reads the Go durations of the host KillTimeout', () => {
  const { goDurationMs } = require('../lib/main');
  assert.equal(goDurationMs('500ms'), 500);
  assert.equal(goDurationMs('1m30s'), 90000);
  assert.equal(goDurationMs('1.5s'), 1500);
  assert.equal(goDurationMs('250µs'), 0.25);
  for (const bad of ['', '5', 'x', '1s x']) assert.ok(Number.isNaN(goDurationMs(bad)), bad);
});
