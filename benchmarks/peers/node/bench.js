'use strict'
// Runs one workload on one node peer and prints {"rows": [...]} (or
// {"skip": reason} / {"error": message}) as one JSON line on stdout.
//
//   node bench.js '{"system":"piscina","workload":"seq","calls":5000,...}'
//
// benchmarks/compare builds the spec; see benchmarks/README.md.
const fs = require('fs')
const path = require('path')
const { piChunk } = require('./kernels')

const spec = JSON.parse(process.argv[2])
const W = spec.workers || 2

function now () { return process.hrtime.bigint() }
function secs (t0) { return Number(now() - t0) / 1e9 }
function out (o) { process.stdout.write(JSON.stringify(o) + '\n') }
function rows (metrics) {
  out({ rows: Object.entries(metrics).map(([metric, value]) => ({ workload: spec.workload, metric, value })) })
}

function vmRSSMB (pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(s)
  return m ? Number(m[1]) / 1024 : NaN
}

// childPIDs lists the live child processes of this process.
function childPIDs () {
  const pids = []
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) === process.pid) pids.push(Number(d))
    } catch (_) {}
  }
  return pids
}

// A pool is {call(name, ...args) -> Promise, close() -> Promise}.
function workerFarmPool (opts) {
  const workerFarm = require('worker-farm')
  const farm = workerFarm({
    maxConcurrentWorkers: W,
    maxConcurrentCallsPerWorker: opts.perWorker || Infinity,
    maxCallsPerWorker: opts.ttl || Infinity,
    maxRetries: 0,
    autoStart: true
  }, require.resolve('./wf-worker.js'), ['add', 'pi', 'echo'])
  return {
    call: (name, ...args) => new Promise((resolve, reject) => {
      farm[name](...args, (err, v) => err ? reject(err) : resolve(v))
    }),
    close: () => new Promise(resolve => workerFarm.end(farm, () => resolve()))
  }
}

function piscinaPool (opts) {
  const { Piscina } = require('piscina')
  const pool = new Piscina({
    filename: path.resolve(__dirname, 'piscina-worker.js'),
    minThreads: W,
    maxThreads: W,
    concurrentTasksPerWorker: opts.perWorker || 1,
    idleTimeout: 60000
  })
  return {
    call: (name, ...args) => pool.run(args, { name }),
    close: () => pool.destroy()
  }
}

function makePool (opts = {}) {
  switch (spec.system) {
    case 'node-worker-farm': return workerFarmPool(opts)
    case 'piscina': return piscinaPool(opts)
  }
  throw new Error(`unknown system ${spec.system}`)
}

async function warm (pool, n) {
  const ps = []
  for (let i = 0; i < n; i++) ps.push(pool.call('add', 1, 2, i))
  await Promise.all(ps)
}

// windowed runs n calls of fn with `window` lanes, each lane one call at a
// time: `window` calls outstanding until the tail.
async function windowed (n, window, fn) {
  let next = 0
  const lane = async () => {
    while (next < n) {
      const i = next++
      await fn(i)
    }
  }
  const lanes = []
  for (let i = 0; i < window; i++) lanes.push(lane())
  await Promise.all(lanes)
}

function percentile (sorted, p) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[i]
}

const workloads = {
  async seq () {
    const pool = makePool({ perWorker: spec.per_worker })
    try {
      await warm(pool, W)
      for (let i = 0; i < spec.warmup; i++) await pool.call('add', 1, 2, i)
      const lat = new Float64Array(spec.calls)
      const t0 = now()
      for (let i = 0; i < spec.calls; i++) {
        const t = now()
        const v = await pool.call('add', 1, 2, i)
        lat[i] = Number(now() - t) / 1e3
        if (v !== 3 + i) throw new Error(`add returned ${v}`)
      }
      const total = secs(t0)
      lat.sort()
      rows({ p50_us: percentile(lat, 0.5), p99_us: percentile(lat, 0.99), calls_per_s: spec.calls / total })
    } finally { await pool.close() }
  },

  async window64 () {
    const pool = makePool({ perWorker: spec.per_worker })
    try {
      await warm(pool, spec.window)
      const t0 = now()
      await windowed(spec.calls, spec.window, i => pool.call('add', 1, 2, i))
      rows({ calls_per_s: spec.calls / secs(t0) })
    } finally { await pool.close() }
  },

  async burst200k () {
    const pool = makePool({ perWorker: spec.per_worker })
    try {
      await warm(pool, 64)
      const t0 = now()
      const ps = new Array(spec.calls)
      for (let i = 0; i < spec.calls; i++) ps[i] = pool.call('add', 1, 2, i)
      await Promise.all(ps)
      rows({ calls_per_s: spec.calls / secs(t0) })
    } finally { await pool.close() }
  },

  async ttl1000 () {
    if (spec.system === 'piscina') return out({ skip: 'piscina has no recycling by call count' })
    const pool = makePool({ perWorker: spec.per_worker, ttl: spec.ttl })
    try {
      await warm(pool, W)
      const t0 = now()
      await windowed(spec.calls, spec.window, i => pool.call('add', 1, 2, i))
      rows({ calls_per_s: spec.calls / secs(t0) })
    } finally { await pool.close() }
  },

  async pi () {
    const per = Math.floor(spec.points / spec.chunks)
    const base = Math.min(spec.baseline_chunks || spec.chunks, spec.chunks)
    let t0 = now()
    for (let i = 0; i < base; i++) piChunk(i, per)
    const singleMS = secs(t0) * 1e3 * spec.chunks / base
    const pool = makePool({ perWorker: spec.per_worker })
    try {
      await warm(pool, W)
      t0 = now()
      const ps = []
      for (let i = 0; i < spec.chunks; i++) ps.push(pool.call('pi', i, per))
      const inside = (await Promise.all(ps)).reduce((a, b) => a + b, 0)
      const ms = secs(t0) * 1e3
      const pi = 4 * inside / (per * spec.chunks)
      if (Math.abs(pi - Math.PI) > 0.01) throw new Error(`pi = ${pi}`)
      rows({ ms, speedup: singleMS / ms, single_ms: singleMS })
    } finally { await pool.close() }
  },

  async startup () {
    const before = process.memoryUsage().rss
    const t0 = now()
    const pool = makePool({ perWorker: spec.per_worker })
    try {
      await pool.call('add', 1, 2, 3)
      const ms = secs(t0) * 1e3
      await warm(pool, 64)
      await new Promise(resolve => setTimeout(resolve, 200))
      let rss
      if (spec.system === 'piscina') {
        // Threads: the RSS they add to this process, per thread.
        rss = (process.memoryUsage().rss - before) / W / (1 << 20)
      } else {
        const pids = childPIDs()
        if (pids.length !== W) throw new Error(`found ${pids.length} worker processes, want ${W}`)
        rss = pids.reduce((a, p) => a + vmRSSMB(p), 0) / pids.length
      }
      rows({ ms, rss_mb: rss })
    } finally { await pool.close() }
  },

  async payload () {
    const pool = makePool({ perWorker: spec.per_worker })
    try {
      // worker-farm speaks JSON over the IPC channel: a string; piscina
      // structured-clones: a Uint8Array.
      const payload = spec.system === 'piscina' ? new Uint8Array(spec.size).fill(120) : 'x'.repeat(spec.size)
      await windowed(Math.max(spec.warmup || 0, 1), spec.window, () => pool.call('echo', payload))
      const t0 = now()
      await windowed(spec.calls, spec.window, async () => {
        const r = await pool.call('echo', payload)
        if (r.length !== spec.size) throw new Error(`echo returned ${r.length} bytes`)
      })
      rows({ mb_per_s: spec.size * spec.calls / secs(t0) / 1e6 })
    } finally { await pool.close() }
  }
}

const name = spec.workload.startsWith('payload-') ? 'payload' : spec.workload
const fn = workloads[name]
if (!fn) {
  out({ skip: `unknown workload ${spec.workload}` })
} else {
  fn().then(() => process.exit(0), err => {
    out({ error: String(err && err.stack ? err.stack.split('\n')[0] : err) })
    process.exit(1)
  })
}
