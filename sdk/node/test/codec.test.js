'use strict';
// The socket data plane's hand-written codec against protobufjs (the
// library under @grpc/proto-loader) on the same worker.proto.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const protobuf = require('protobufjs');
const { decodeCallBatch, encodeReplyFrame, FrameSplitter, StringCache, readVarint } = require('../lib/codec');

const root = protobuf.loadSync(path.join(__dirname, '..', 'proto', 'worker.proto'));
const CallBatch = root.lookupType('workestrator.v1.CallBatch');
const ReplyBatch = root.lookupType('workestrator.v1.ReplyBatch');

test('decodeCallBatch reads what protobufjs writes', () => {
  const msg = {
    calls: [
      { id: 1, method: 'run', serializer: 'json', args: [Buffer.from('1'), Buffer.from('[2]')] },
      { id: protobuf.util.Long.fromString('18446744073709551615', true), method: 'é', serializer: '', args: [], timeoutNanos: 5e9, rawArgs: 3 },
      { id: 300, method: 'run', serializer: 'json', args: [Buffer.alloc(0), Buffer.alloc(70000, 7)], timeoutNanos: protobuf.util.Long.fromNumber(-1) },
    ],
    cancels: [5, 2 ** 40, 0],
  };
  const b = decodeCallBatch(Buffer.from(CallBatch.encode(msg).finish()), new StringCache());
  assert.equal(b.calls.length, 3);
  assert.deepEqual(b.calls[0], { id: '1', idn: 1, method: 'run', serializer: 'json', args: [Buffer.from('1'), Buffer.from('[2]')], timeout_nanos: 0, raw_args: 0 });
  assert.equal(b.calls[1].id, '18446744073709551615');
  assert.equal(b.calls[1].idn, 18446744073709551615n);
  assert.equal(b.calls[1].method, 'é');
  assert.equal(b.calls[1].timeout_nanos, 5e9);
  assert.equal(b.calls[1].raw_args, 3);
  assert.equal(b.calls[2].idn, 300);
  assert.equal(b.calls[2].args[1].length, 70000);
  assert.equal(b.calls[2].timeout_nanos, 0, 'a negative timeout is none');
  assert.deepEqual(b.cancels, [5, 2 ** 40, 0]);
});

test('encodeReplyFrame writes what protobufjs reads', () => {
  const replies = [
    { idn: 1, result: Buffer.from('42'), error: null },
    { idn: 2 ** 52, result: Buffer.alloc(0), error: null },
    { idn: 18446744073709551615n, result: Buffer.alloc(0), error: { code: 6, type: 'AbortError', message: 'gone é', stack: 'at x', details: Buffer.from('{}'), permanent: true } },
    { idn: 0, result: Buffer.alloc(200000, 1), error: { code: 0, type: 'Error', message: '', stack: '', details: Buffer.alloc(0), permanent: false } },
  ];
  const frame = encodeReplyFrame(replies);
  const r = { pos: 0, v: 0 };
  readVarint(frame, r);
  assert.equal(r.pos + r.v, frame.length);
  const m = ReplyBatch.toObject(ReplyBatch.decode(frame.subarray(r.pos)), { longs: String, defaults: true });
  assert.equal(m.replies.length, 4);
  assert.equal(m.replies[0].id, '1');
  assert.equal(m.replies[0].result.toString(), '42');
  assert.equal(m.replies[0].error ?? null, null);
  assert.equal(m.replies[1].id, String(2 ** 52));
  assert.equal(m.replies[2].id, '18446744073709551615');
  assert.deepEqual({ ...m.replies[2].error, details: Buffer.from(m.replies[2].error.details).toString() },
    { code: 6, type: 'AbortError', message: 'gone é', stack: 'at x', details: '{}', permanent: true });
  assert.equal(m.replies[3].result.length, 200000);
  assert.equal(m.replies[3].error.type, 'Error');
});

test('FrameSplitter cuts frames however the bytes arrive', () => {
  const frames = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(300, 2), Buffer.alloc(20000, 3)];
  const stream = Buffer.concat(frames.map((f) => {
    const h = [];
    let n = f.length;
    while (n >= 128) { h.push((n & 127) | 128); n >>>= 7; }
    h.push(n);
    return Buffer.concat([Buffer.from(h), f]);
  }));
  for (const step of [1, 2, 3, 7, 301, stream.length]) {
    const got = [];
    const s = new FrameSplitter(1 << 20, (f) => got.push(Buffer.from(f)));
    for (let i = 0; i < stream.length; i += step) s.push(stream.subarray(i, i + step));
    assert.deepEqual(got, frames, `step ${step}`);
  }
  const s = new FrameSplitter(100, () => {});
  assert.throws(() => s.push(Buffer.from([0xc8, 0x01])), /exceeds the limit/);
});
