'use strict';
// The worker process: checks that a Workestrator host started it (the
// go-plugin handshake's magic cookie and protocol versions), loads the
// module, serves it on a unix socket in PLUGIN_UNIX_SOCKET_DIR, prints the
// handshake line on stdout, and exits when the host asks (Shutdown,
// SIGTERM) or dies (EOF on the lifeline).

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');

const { Logger, parseLevel, redirectConsole } = require('./log');
const { loadModule, methodsOf } = require('./methods');
const { registry } = require('./serializers');
const { Runtime, frameLimit, PROTOCOL_VERSION } = require('./runtime');
const { newServer, newSession, abortRunning } = require('./server');
const { spinWindowMs } = require('./spin');
const { listenDataPlane } = require('./dataplane');

// The go-plugin handshake of Workestrator workers (internal/wire.Handshake).
const MAGIC_COOKIE_KEY = 'WORKESTRATOR_WORKER';
const MAGIC_COOKIE_VALUE = '7d1c2b4e-workestrator-worker';
// go-plugin's core protocol version.
const CORE_PROTOCOL_VERSION = 1;

// Environment variables the host sets (internal/wire/handshake.go).
const ENV = Object.freeze({
  lifelineFD: 'WORKESTRATOR_LIFELINE_FD',
  exeFD: 'WORKESTRATOR_EXE_FD',
  logLevel: 'WORKESTRATOR_WORKER_LOG_LEVEL',
  maxMessage: 'WORKESTRATOR_MAX_MESSAGE',
  socketDir: 'PLUGIN_UNIX_SOCKET_DIR',
  protocolVersions: 'PLUGIN_PROTOCOL_VERSIONS',
  clientCert: 'PLUGIN_CLIENT_CERT',
  dataPlane: 'WORKESTRATOR_DATA_PLANE',
  killTimeout: 'WORKESTRATOR_KILL_TIMEOUT',
});

// STOP_WAIT_MS bounds how long a stopping worker waits for the calls whose
// signal it aborted to return (at most half the host's KillTimeout), as a
// Go worker does.
const STOP_WAIT_MS = 100;

// goDurationMs returns the milliseconds of a Go duration such as "500ms"
// or "1m30s", or NaN.
function goDurationMs(s) {
  const units = { h: 3600e3, m: 60e3, s: 1e3, ms: 1, us: 1e-3, 'µs': 1e-3, ns: 1e-6 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;
  let ms = 0;
  let m;
  for (re.lastIndex = 0; re.lastIndex < s.length;) {
    if (!(m = re.exec(s))) return NaN;
    ms += Number(m[1]) * units[m[2]];
  }
  return s.length > 0 ? ms : NaN;
}


// fail writes message on stderr as a plain line and exits with code.
function fail(writeErr, message, code = 1) {
  writeErr(`workestrator-worker: ${message}\n`);
  process.exit(code);
}

// negotiateVersion returns the protocol version to speak: the host's list
// (PLUGIN_PROTOCOL_VERSIONS) must hold ours; a host that sends none speaks
// the handshake's version.
function negotiateVersion(list) {
  if (!list) return PROTOCOL_VERSION;
  const versions = list.split(',').map((v) => Number.parseInt(v.trim(), 10));
  return versions.includes(PROTOCOL_VERSION) ? PROTOCOL_VERSION : 0;
}

// closeExeFD closes the descriptor of the worker's executable that the host
// passed (WORKESTRATOR_EXE_FD): the script is loaded, it is of no more use.
function closeExeFD() {
  const fd = Number.parseInt(process.env[ENV.exeFD] || '', 10);
  if (fd > 2) {
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed.
    }
  }
  delete process.env[ENV.exeFD];
}

// watchLifeline calls stop when the host's end of the lifeline pipe closes.
function watchLifeline(log, stop) {
  const fd = Number.parseInt(process.env[ENV.lifelineFD] || '', 10);
  if (!(fd >= 3)) return;
  delete process.env[ENV.lifelineFD];
  let s;
  try {
    s = new net.Socket({ fd, readable: true, writable: false });
  } catch (err) {
    log.warn('cannot watch the lifeline', { error: err.message });
    return;
  }
  let closed = false;
  const gone = () => {
    if (closed) return;
    closed = true;
    stop();
  };
  s.on('data', () => {});
  s.on('end', gone);
  s.on('close', gone);
  s.on('error', gone);
}

// STOP_GRACE_MS is how long a module that listens for SIGINT or SIGTERM
// keeps its worker once the lifeline closed without the host's SIGTERM
// (its host died), when nothing else kills it.
const STOP_GRACE_MS = 1000;

// main runs the worker for the command line argv (without node and the
// script) and never returns while it serves.
async function main(argv) {
  const rawStderrWrite = process.stderr.write.bind(process.stderr);
  const log = new Logger(rawStderrWrite, parseLevel(process.env[ENV.logLevel]));
  // From here on nothing but the handshake line reaches stdout.
  redirectConsole(log);
  closeExeFD();

  if (process.env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    fail(rawStderrWrite, 'this program is a Workestrator worker: a host starts it (farm.New with ' +
      'Config{Path: ".../sdk/node/bin/workestrator-worker", Args: []string{module}}); it is not meant to be run by hand');
  }
  const version = negotiateVersion(process.env[ENV.protocolVersions]);
  if (version === 0) {
    fail(rawStderrWrite, `incompatible protocol versions: the host speaks ${process.env[ENV.protocolVersions]}, the worker ${PROTOCOL_VERSION}`);
  }
  if (process.env[ENV.clientCert]) {
    fail(rawStderrWrite, 'AutoMTLS is not supported by the Node.js worker SDK: leave farm.Config.AutoMTLS off');
  }
  if (argv.length !== 1 || argv[0] === '') {
    fail(rawStderrWrite, 'usage: workestrator-worker MODULE', 2);
  }

  // An uncaught exception ends the worker, unless the module listens for
  // them itself: then, as in any Node.js program, it carries on.
  const onUncaught = (err) => {
    if (process.listeners('uncaughtException').some((l) => l !== onUncaught)) {
      log.warn('uncaught exception, left to the module\'s listener', { error: err });
      return;
    }
    log.error('uncaught exception; the worker exits', { error: err });
    process.exit(1);
  };
  process.on('uncaughtException', onUncaught);

  let mod;
  try {
    mod = await loadModule(argv[0]);
  } catch (err) {
    // The stack first, the message last: the host quotes the end of
    // stderr in its start error.
    if (err && err.stack) rawStderrWrite(`${err.stack}\n`);
    fail(rawStderrWrite, `cannot load module ${argv[0]}: ${err && err.message !== undefined ? err.message : err}`);
  }
  let methods;
  try {
    methods = methodsOf(mod.exports, mod.esm);
  } catch (err) {
    fail(rawStderrWrite, `module ${argv[0]}: ${err.message}`);
  }
  let spinMs;
  try {
    spinMs = spinWindowMs();
  } catch (err) {
    fail(rawStderrWrite, err.message, 2);
  }
  const maxMessage = Number.parseInt(process.env[ENV.maxMessage] || '', 10) || 0;
  const rt = new Runtime({ methods, exports: mod.exports, esm: mod.esm, sers: registry(), maxMessage, log, spinMs });

  const dir = process.env[ENV.socketDir] || os.tmpdir();
  const sock = path.join(dir, `plugin${crypto.randomBytes(8).toString('hex')}`);
  let exiting = false;
  let dataPlane = null;
  const exit = (code) => {
    if (exiting) return;
    exiting = true;
    try {
      fs.unlinkSync(sock);
    } catch {
      // The host removed the directory.
    }
    // The calls still running learn it from their signal; those that heed
    // it get a moment to return.
    const kill = goDurationMs(process.env[ENV.killTimeout] || '');
    abortRunning(kill > 0 ? Math.min(STOP_WAIT_MS, kill / 2) : STOP_WAIT_MS).then(() => {
      if (dataPlane) dataPlane.close();
      process.exit(code);
    });
  };
  const frameBytes = frameLimit(rt.maxMessage);
  // The socket data plane, offered only in the private directory go-plugin
  // made (which the host removes however the worker ends) and unless the
  // host asked for the gRPC stream; if it cannot listen, the host uses
  // the stream.
  if (process.env[ENV.socketDir] && process.env[ENV.dataPlane] !== 'grpc') {
    try {
      dataPlane = await listenDataPlane(dir, frameBytes, log, (send) => newSession(rt, send));
      rt.dataPlane = dataPlane;
    } catch (err) {
      log.warn('cannot open the data plane socket; the host will use the gRPC stream', { error: err.message });
    }
  }
  const server = newServer(rt, log, frameBytes, () => exit(0));
  await new Promise((resolve, reject) => {
    server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  }).catch((err) => fail(rawStderrWrite, `listen on ${sock}: ${err.message}`));

  // A stop (the host closes the lifeline and sends SIGTERM) and SIGINT or
  // SIGTERM end the worker, unless the module listens for them itself:
  // then, as in any Node.js program, its listeners decide. A stop runs the
  // module's SIGTERM listeners (the host's SIGTERM) or, when it has none,
  // its SIGINT ones, once, as Workestrator's kill (a SIGINT) does. A worker
  // that does not exit is killed after the farm's KillTimeout; one whose
  // lifeline closed without a SIGTERM (its host died) exits STOP_GRACE_MS
  // later.
  const ours = new Map();
  const moduleListens = (sig) => process.listeners(sig).some((l) => l !== ours.get(sig));
  let interrupted = false; // the module's SIGINT listeners ran
  let termSeen = false; // a SIGTERM came: the host stops the worker, and kills it in time
  let orphanExit = null;
  const stop = (why) => {
    if (why === 'SIGTERM') {
      termSeen = true;
      if (orphanExit) clearTimeout(orphanExit);
    } else if (why === 'SIGINT' && moduleListens('SIGINT')) {
      interrupted = true;
    }
    if (why === 'lifeline') {
      if (!moduleListens('SIGINT') && !moduleListens('SIGTERM')) {
        log.debug('worker stopping', { by: why });
        exit(0);
        return;
      }
      // Without the host's SIGTERM (its host died), nothing else ends it.
      if (!termSeen) orphanExit = setTimeout(() => exit(0), STOP_GRACE_MS).unref();
      // A module that listens for SIGTERM gets the one the host sends.
      if (moduleListens('SIGTERM') || interrupted) return;
    } else if (moduleListens(why)) {
      return; // its listeners run
    } else if (interrupted) {
      return; // the module's SIGINT listeners ran: they decide
    }
    if (moduleListens('SIGINT')) {
      interrupted = true;
      log.debug("worker stopping: the module's SIGINT listeners decide", { by: why });
      process.emit('SIGINT', 'SIGINT');
      return;
    }
    log.debug('worker stopping', { by: why });
    exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT']) {
    const onSignal = () => stop(sig);
    ours.set(sig, onSignal);
    process.on(sig, onSignal);
  }
  watchLifeline(log, () => stop('lifeline'));
  fs.writeSync(1, `${CORE_PROTOCOL_VERSION}|${version}|unix|${sock}|grpc\n`);
  log.debug('worker serving', { module: argv[0], methods: rt.names.join(','), socket: sock });
}

module.exports = { main, negotiateVersion, goDurationMs, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE };
