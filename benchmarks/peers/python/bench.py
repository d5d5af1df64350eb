"""Runs one workload on one Python peer and prints {"rows": [...]} (or
{"skip": reason} / {"error": message}) as one JSON line on stdout.

    python3 bench.py '{"system": "python-ppe", "workload": "seq", "calls": 5000, ...}'

Systems: python-ppe (concurrent.futures.ProcessPoolExecutor) and
python-mp-pool (multiprocessing.Pool). Standard library only; benchmarks/compare
builds the spec (see benchmarks/README.md).
"""

import concurrent.futures as cf
import json
import math
import multiprocessing as mp
import os
import random
import sys
import threading
import time


# --- worker functions (module level, so that the pools can pickle them) ---

def add(a, b, c):
    return a + b + c


def pi_chunk(seed, n):
    r = random.Random(seed).random
    inside = 0
    for _ in range(n):
        x = r()
        y = r()
        if x * x + y * y <= 1.0:
            inside += 1
    return inside


def echo(payload):
    return payload


# --- pools: submit(fn, *args, callback=None) -> handle; result(handle) ---

class PPE:
    def __init__(self, workers, ttl=None):
        kw = {}
        if ttl:
            kw["max_tasks_per_child"] = ttl  # forces the spawn start method
        self.ex = cf.ProcessPoolExecutor(max_workers=workers, **kw)

    def submit(self, fn, *args, callback=None):
        fut = self.ex.submit(fn, *args)
        if callback is not None:
            fut.add_done_callback(lambda _f: callback())
        return fut

    @staticmethod
    def result(h):
        return h.result()

    def pids(self):
        return list(self.ex._processes.keys())

    def close(self):
        self.ex.shutdown(wait=True, cancel_futures=True)


class MPPool:
    def __init__(self, workers, ttl=None):
        self.pool = mp.Pool(workers, maxtasksperchild=ttl)

    def submit(self, fn, *args, callback=None):
        cb = None if callback is None else (lambda _v: callback())
        return self.pool.apply_async(fn, args, callback=cb)

    @staticmethod
    def result(h):
        return h.get()

    def pids(self):
        return [p.pid for p in self.pool._pool]

    def close(self):
        self.pool.terminate()
        self.pool.join()


SYSTEMS = {"python-ppe": PPE, "python-mp-pool": MPPool}


def now():
    return time.perf_counter()


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def rows(spec, metrics):
    out({"rows": [{"workload": spec["workload"], "metric": k, "value": v} for k, v in metrics.items()]})


def vmrss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def warm(pool, n):
    hs = [pool.submit(add, 1, 2, i) for i in range(n)]
    for h in hs:
        pool.result(h)


def windowed(pool, n, window, fn, *args):
    """n calls of fn with at most `window` outstanding: a semaphore taken by
    the submitting thread and given back by each call's completion callback."""
    sem = threading.Semaphore(window)
    hs = []
    for _ in range(n):
        sem.acquire()
        hs.append(pool.submit(fn, *args, callback=sem.release))
    for h in hs:
        pool.result(h)
    return hs


def percentile(sorted_vals, p):
    i = min(len(sorted_vals) - 1, max(0, math.ceil(p * len(sorted_vals)) - 1))
    return sorted_vals[i]


def w_seq(spec, make):
    pool = make(spec["workers"])
    try:
        warm(pool, spec["workers"])
        for i in range(spec["warmup"]):
            pool.result(pool.submit(add, 1, 2, i))
        lat = []
        t0 = now()
        for i in range(spec["calls"]):
            t = now()
            v = pool.result(pool.submit(add, 1, 2, i))
            lat.append((now() - t) * 1e6)
            if v != 3 + i:
                raise RuntimeError(f"add returned {v}")
        total = now() - t0
        lat.sort()
        rows(spec, {"p50_us": percentile(lat, 0.5), "p99_us": percentile(lat, 0.99),
                    "calls_per_s": spec["calls"] / total})
    finally:
        pool.close()


def w_window(spec, make, ttl=None):
    pool = make(spec["workers"], ttl)
    try:
        warm(pool, spec["workers"])
        t0 = now()
        windowed(pool, spec["calls"], spec["window"], add, 1, 2, 3)
        rows(spec, {"calls_per_s": spec["calls"] / (now() - t0)})
    finally:
        pool.close()


def w_burst(spec, make):
    pool = make(spec["workers"])
    try:
        warm(pool, 64)
        t0 = now()
        hs = [pool.submit(add, 1, 2, i) for i in range(spec["calls"])]
        for h in hs:
            pool.result(h)
        rows(spec, {"calls_per_s": spec["calls"] / (now() - t0)})
    finally:
        pool.close()


def w_ttl(spec, make):
    # ProcessPoolExecutor's max_tasks_per_child is known to hang on 3.11: a
    # watchdog reports the hang and ends the process.
    limit = spec.get("hang_timeout_s") or 0
    if limit > 0:
        def watchdog():
            out({"error": f"hung: {spec['calls']} calls with recycling every {spec['ttl']} "
                          f"did not finish within {limit:g} s"})
            os._exit(3)
        t = threading.Timer(limit, watchdog)
        t.daemon = True
        t.start()
    w_window(spec, make, ttl=spec["ttl"])


def w_pi(spec, make):
    chunks = spec["chunks"]
    per = spec["points"] // chunks
    base = min(spec.get("baseline_chunks") or chunks, chunks)
    t0 = now()
    for i in range(base):
        pi_chunk(i, per)
    single_ms = (now() - t0) * 1e3 * chunks / base
    pool = make(spec["workers"])
    try:
        warm(pool, spec["workers"])
        t0 = now()
        hs = [pool.submit(pi_chunk, i, per) for i in range(chunks)]
        inside = sum(pool.result(h) for h in hs)
        ms = (now() - t0) * 1e3
        pi = 4 * inside / (per * chunks)
        if abs(pi - 3.14159265) > 0.01:
            raise RuntimeError(f"pi = {pi}")
        rows(spec, {"ms": ms, "speedup": single_ms / ms, "single_ms": single_ms})
    finally:
        pool.close()


def w_startup(spec, make):
    t0 = now()
    pool = make(spec["workers"])
    try:
        pool.result(pool.submit(add, 1, 2, 3))
        ms = (now() - t0) * 1e3
        warm(pool, 64)
        time.sleep(0.2)
        pids = pool.pids()
        if len(pids) != spec["workers"]:
            raise RuntimeError(f"found {len(pids)} worker processes, want {spec['workers']}")
        rows(spec, {"ms": ms, "rss_mb": sum(vmrss_mb(p) for p in pids) / len(pids)})
    finally:
        pool.close()


def w_payload(spec, make):
    pool = make(spec["workers"])
    size = spec["size"]
    payload = b"x" * size
    try:
        windowed(pool, max(spec.get("warmup", 0), 1), spec["window"], echo, payload)
        t0 = now()
        hs = windowed(pool, spec["calls"], spec["window"], echo, payload)
        elapsed = now() - t0
        for h in hs:
            if len(pool.result(h)) != size:
                raise RuntimeError("echo returned a different size")
        rows(spec, {"mb_per_s": size * spec["calls"] / elapsed / 1e6})
    finally:
        pool.close()


WORKLOADS = {
    "seq": w_seq,
    "window64": w_window,
    "burst200k": w_burst,
    "ttl1000": w_ttl,
    "pi": w_pi,
    "startup": w_startup,
}


def main():
    spec = json.loads(sys.argv[1])
    spec.setdefault("workers", 2)
    make = SYSTEMS.get(spec["system"])
    if make is None:
        out({"skip": f"unknown system {spec['system']}"})
        return 0
    name = "payload" if spec["workload"].startswith("payload-") else spec["workload"]
    fn = w_payload if name == "payload" else WORKLOADS.get(name)
    if fn is None:
        out({"skip": f"unknown workload {spec['workload']}"})
        return 0
    try:
        fn(spec, make)
    except Exception as e:  # reported as data: the compare program prints it
        out({"error": f"{type(e).__name__}: {e}"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
