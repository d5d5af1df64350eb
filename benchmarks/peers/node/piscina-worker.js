'use strict'
// Worker module for piscina: one worker thread per worker, structured-clone
// messages. Each task is the array of the call's arguments.
const { add, piChunk } = require('./kernels')

module.exports = {
  add: ([a, b, c]) => add(a, b, c),
  pi: ([seed, n]) => piChunk(seed, n),
  echo: ([payload]) => payload
}
