'use strict'
// Worker module for worker-farm (node-worker-farm): callback style, one
// child process per worker, JSON messages over the IPC channel.
const { add, piChunk } = require('./kernels')

module.exports = {
  add: (a, b, c, cb) => cb(null, add(a, b, c)),
  pi: (seed, n, cb) => cb(null, piChunk(seed, n)),
  echo: (s, cb) => cb(null, s)
}
