'use strict';
// The gRPC services a worker serves on its socket: the Worker service
// (Describe, Invoke, and the Stream data plane with cancel frames),
// grpc.health.v1.Health and go-plugin's GRPCController.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { MAX_BATCH_BYTES, replyCost, CallAbort } = require('./runtime');
const { Spinner } = require('./spin');

const PROTO_DIR = path.join(__dirname, '..', 'proto');

// loadProtos loads the services' definitions from the .proto files at run
// time. Field names stay as in the files (snake_case); 64-bit integers are
// decimal strings, so that call ids keep every bit.
function loadProtos() {
  const def = protoLoader.loadSync(
    ['worker.proto', 'health.proto', 'plugin.proto'].map((f) => path.join(PROTO_DIR, f)),
    { keepCase: true, longs: String, enums: Number, defaults: true },
  );
  const pkg = grpc.loadPackageDefinition(def);
  return {
    worker: pkg.workestrator.v1.Worker.service,
    health: pkg.grpc.health.v1.Health.service,
    controller: pkg.plugin.GRPCController.service,
  };
}

// abortReason is the reason a call's signal aborts with: an AbortError for
// a cancel from the host, a TimeoutError for the attempt's own deadline.
const cancelledByHost = () => new DOMException('the call was cancelled by the host', 'AbortError');
const deadlinePassed = () => new DOMException("the call's deadline passed", 'TimeoutError');

// running holds the controllers of the calls in flight, of every session
// and of Invoke; idle is called when the last of them is done.
const running = new Set();
let idle = null;

// callController returns the CallAbort of call, aborted when its relative
// deadline (timeout_nanos) passes, and a function, called when the call is
// done, that clears the deadline's timer.
function callController(call) {
  const ac = new CallAbort();
  running.add(ac);
  const ms = Number(call.timeout_nanos) / 1e6;
  const t = ms > 0 ? setTimeout(() => ac.abort(deadlinePassed()), Math.max(1, Math.ceil(ms))) : null;
  return {
    ac,
    done: () => {
      if (t !== null) clearTimeout(t);
      running.delete(ac);
      if (running.size === 0 && idle) idle();
    },
  };
}

// abortRunning aborts the signal of every call in flight, as the host's
// cancel does, and returns a Promise that resolves once they are all done
// or ms later, whichever comes first: a stopping worker gives the calls
// that heed their signal a moment to return.
function abortRunning(ms) {
  if (running.size === 0) return Promise.resolve();
  for (const ac of running) ac.abort(cancelledByHost());
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    idle = () => {
      clearTimeout(t);
      resolve();
    };
  });
}

// newSession returns a data-plane session, the part of the Stream RPC that
// the gRPC stream and the socket data plane share: batch(b) starts each
// call of a batch and aborts the calls its cancels name; close() aborts
// every call in flight and drops their replies. Replies go out through
// send(replies) in batches: a reply is sent at once when no other call is
// in flight; otherwise the replies that are ready in the same turn of the
// event loop share a message (up to MAX_BATCH_BYTES). A call that has idn
// (the socket's decoder sets it) is keyed by it, and its reply carries it.
// Once a call that ran alone is answered, the event loop keeps polling for
// rt.spinMs (spin.js) so that the next call is read without a wake-up.
function newSession(rt, send) {
  const inflight = new Map(); // id → AbortController
  const spinner = new Spinner(rt.spinMs);
  // peak is the most calls in flight since the session was last idle. The
  // spin is for a caller that waits for each answer before its next call
  // (peak 1); a host that keeps several in flight is busy producing them,
  // and the spin would take its CPU.
  let peak = 0;
  let out = [];
  let outBytes = 0;
  let scheduled = false;
  let closed = false;

  const flush = () => {
    scheduled = false;
    if (out.length === 0 || closed) return;
    const replies = out;
    out = [];
    outBytes = 0;
    send(replies);
    if (inflight.size === 0) {
      if (peak <= 1) spinner.poke();
      peak = 0;
    }
  };
  const push = (r) => {
    if (closed) return;
    const cost = replyCost(r);
    if (out.length > 0 && outBytes + cost > MAX_BATCH_BYTES) flush();
    out.push(r);
    outBytes += cost;
    if (inflight.size === 0) {
      flush();
    } else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const start = (call) => {
    const { ac, done } = callController(call);
    const key = call.idn === undefined ? call.id : call.idn;
    inflight.set(key, ac);
    if (inflight.size > peak) peak = inflight.size;
    rt.run(call, ac).then((r) => {
      done();
      inflight.delete(key);
      if (call.idn !== undefined) r.idn = call.idn;
      push(r);
    });
  };
  return {
    batch(b) {
      for (const c of b.calls) start(c);
      for (const id of b.cancels) {
        const ac = inflight.get(id);
        if (ac) ac.abort(cancelledByHost());
      }
    },
    close() {
      if (closed) return;
      closed = true;
      spinner.stop();
      for (const ac of inflight.values()) ac.abort(cancelledByHost());
      inflight.clear();
    },
  };
}

// serveStream serves one Stream session on the gRPC stream.
function serveStream(rt, log, stream) {
  const session = newSession(rt, (replies) => stream.write({ replies }));
  stream.on('data', (batch) => session.batch(batch));
  stream.on('end', () => {
    session.close();
    stream.end();
  });
  stream.on('error', (err) => {
    log.debug('data plane stream failed', { error: err.message });
    session.close();
  });
  stream.on('cancelled', () => session.close());
}

// newServer returns a gRPC server with the services of runtime rt.
// onShutdown is called once the controller's Shutdown was answered.
function newServer(rt, log, frameBytes, onShutdown) {
  const protos = loadProtos();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': frameBytes,
    'grpc.max_send_message_length': frameBytes,
  });
  server.addService(protos.worker, {
    Describe(_call, cb) {
      cb(null, rt.describe());
    },
    Invoke(call, cb) {
      const { ac, done } = callController(call.request);
      call.on('cancelled', () => ac.abort(cancelledByHost()));
      rt.run(call.request, ac).then((r) => {
        done();
        cb(null, r);
      });
    },
    Stream(stream) {
      serveStream(rt, log, stream);
    },
  });
  server.addService(protos.health, {
    Check(call, cb) {
      const s = call.request.service;
      if (s === '' || s === 'plugin') {
        cb(null, { status: 1 }); // SERVING
      } else {
        cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${s}` });
      }
    },
  });
  server.addService(protos.controller, {
    Shutdown(_call, cb) {
      log.debug('the host asked the worker to shut down');
      cb(null, {});
      setImmediate(onShutdown);
    },
  });
  return server;
}

module.exports = { newServer, loadProtos, serveStream, newSession, abortRunning };
