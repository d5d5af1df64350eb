'use strict'
// The functions every node worker runs; bench.js also runs piChunk in its
// own thread for the single-process baseline of the pi workload.

function add (a, b, c) { return a + b + c }

// piChunk draws n points in the unit square and counts those inside the
// quarter circle. Math.random cannot be seeded; the seed is unused.
function piChunk (seed, n) {
  let inside = 0
  for (let i = 0; i < n; i++) {
    const x = Math.random()
    const y = Math.random()
    if (x * x + y * y <= 1) inside++
  }
  return inside
}

module.exports = { add, piChunk }
