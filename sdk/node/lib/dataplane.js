'use strict';
// The socket data plane (internal/worker/dataplane.go): a second unix
// socket, in the private directory go-plugin made for the worker, that the
// worker advertises in Describe (data_plane "unix:PATH" and a 16-byte
// data_plane_token). The host connects, writes the token, and from then on
// both sides exchange the Stream RPC's batches as frames (codec.js), without
// gRPC's framing, HTTP/2 and protobufjs. The first connection that presents
// the token is served; the socket is then closed, which removes its file.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const crypto = require('node:crypto');
const { decodeCallBatch, encodeReplyFrame, FrameSplitter, StringCache } = require('./codec');

// TOKEN_LEN is the length of the secret the host writes first
// (wire.DataPlaneTokenLen).
const TOKEN_LEN = 16;
// AUTH_TIMEOUT_MS bounds the wait for a connection's token.
const AUTH_TIMEOUT_MS = 10_000;

// listenDataPlane opens the data-plane socket in dir and resolves to
// { path, token, close }. Each batch of the authenticated connection goes
// to a session that newSession(send) makes, send writing replies back.
async function listenDataPlane(dir, frameBytes, log, newSession) {
  const rnd = crypto.randomBytes(4 + TOKEN_LEN);
  const file = path.join(dir, `dp${rnd.subarray(0, 4).toString('hex')}`);
  const token = rnd.subarray(4);
  let claimed = false;
  const server = net.createServer({ allowHalfOpen: false, pauseOnConnect: false });
  server.on('connection', (sock) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => sock.destroy(), AUTH_TIMEOUT_MS);
    const onAuth = (chunk) => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      if (got.length < TOKEN_LEN) return;
      sock.removeListener('data', onAuth);
      clearTimeout(timer);
      if (claimed || !crypto.timingSafeEqual(got.subarray(0, TOKEN_LEN), token)) {
        sock.destroy();
        return;
      }
      claimed = true;
      server.close(); // removes the socket's file: nobody else can connect
      serveConn(sock, got.subarray(TOKEN_LEN), frameBytes, log, newSession);
    };
    sock.on('data', onAuth);
    sock.on('error', () => {
      clearTimeout(timer);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  // The directory is private already; the token keeps out whoever could
  // connect before this.
  fs.chmodSync(file, 0o600);
  server.on('error', (err) => log.debug('data plane socket failed', { error: err.message }));
  return {
    path: file,
    token,
    close() {
      server.close();
      try {
        fs.unlinkSync(file);
      } catch {
        // Gone already.
      }
    },
  };
}

// serveConn serves the data plane on the host's connection sock, whose
// first bytes past the token are rest, until it ends.
function serveConn(sock, rest, frameBytes, log, newSession) {
  const session = newSession((replies) => {
    if (!sock.destroyed) sock.write(encodeReplyFrame(replies));
  });
  const strings = new StringCache();
  const splitter = new FrameSplitter(frameBytes, (frame) => session.batch(decodeCallBatch(frame, strings)));
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    session.close();
  };
  const onData = (chunk) => {
    try {
      splitter.push(chunk);
    } catch (err) {
      log.warn('data plane: a bad frame from the host; the connection ends', { error: err.message });
      end();
      sock.destroy();
    }
  };
  sock.on('data', onData);
  sock.on('end', () => {
    end();
    sock.end();
  });
  sock.on('close', end);
  sock.on('error', (err) => {
    log.debug('data plane connection failed', { error: err.message });
    end();
  });
  if (rest.length > 0) onData(rest);
}

module.exports = { listenDataPlane, TOKEN_LEN };
