package farm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/farm"
)

// arenaMapped reports whether process pid maps a shared-memory arena.
func arenaMapped(t *testing.T, pid int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte("memfd:workestrator-arena"))
}

// rssShmem is the resident shared memory of process pid: the arena's
// pages that calls have touched.
func rssShmem(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "RssShmem:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no RssShmem")
	return 0
}

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}

// The same calls give the same results, byte for byte, through the arena
// (the default) and without it (SharedMemoryOff); the arena is really
// used: the worker maps it and its pages are resident.
func TestSharedMemoryRoundTrips(t *testing.T) {
	type result struct {
		name string
		got  []byte
	}
	run := func(t *testing.T, f *farm.Farm) []result {
		var rs []result
		add := func(name string, got []byte, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			rs = append(rs, result{name, got})
		}
		for _, n := range []int{1 << 20, 16 << 20, 128 << 10, 128<<10 - 1, 5000} {
			got, err := farm.Call[[]byte](ctx(t), f, "echoBytes", pattern(n, n))
			add("echoBytes "+strconv.Itoa(n), got, err)
		}
		// Several big arguments mixed with small ones, raw and not.
		got, err := farm.Call[[]byte](ctx(t), f, "mix", pattern(300<<10, 1), 42, pattern(10, 2), "ok", pattern(2<<20, 3))
		add("mix", got, err)
		// A big []byte decoded into a string parameter.
		s, err := farm.Call[string](ctx(t), f, "echoString", pattern(1<<20, 4))
		add("echoString", []byte(s), err)
		// Results bigger than the arguments: the first goes on the
		// socket, the next ones have room (the method's last size);
		// then smaller, then bigger than the last.
		for i, n := range []int{4 << 20, 4 << 20, 4 << 20, 1 << 20, 200, 8 << 20, 8 << 20} {
			got, err := farm.Call[[]byte](ctx(t), f, "pattern", n, i)
			add("pattern "+strconv.Itoa(n), got, err)
		}
		// Big arguments, small result.
		size, err := farm.Call[int](ctx(t), f, "size", pattern(3<<20, 5))
		add("size", []byte(strconv.Itoa(size)), err)
		return rs
	}
	var want []result
	for _, shm := range []int64{farm.SharedMemoryOff, 0} {
		f := newFarm(t, farm.Config{Workers: 1, SharedMemory: shm})
		pid := workerPIDs(f)[0]
		got := run(t, f)
		// The worker maps the arena before it reads the first call.
		if mapped := arenaMapped(t, pid); mapped != (shm == 0) {
			t.Fatalf("SharedMemory %d: the worker maps an arena: %v", shm, mapped)
		}
		if shm == farm.SharedMemoryOff {
			want = got
			f.Kill()
			continue
		}
		for i := range got {
			if got[i].name != want[i].name || !bytes.Equal(got[i].got, want[i].got) {
				t.Errorf("%s: %d bytes through shared memory, %d without, or they differ", got[i].name, len(got[i].got), len(want[i].got))
			}
		}
		if n := rssShmem(t, pid); n < 16<<20 {
			t.Errorf("the worker's resident shared memory is %d bytes after 16 MiB calls", n)
		}
	}
	if got := want[1].got; !bytes.Equal(got, pattern(16<<20, 16<<20)) {
		t.Fatal("16 MiB echo without shared memory differs from its argument")
	}
}

// More big calls in flight than the arena holds: those that do not fit go
// on the socket; all are answered right.
func TestSharedMemoryFull(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, SharedMemory: farm.MinSharedMemory, MaxConcurrentCallsPerWorker: 8})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			arg := pattern(400<<10, i)
			got, err := farm.Call[[]byte](ctx(t), f, "echoSlow", 50, arg)
			switch {
			case err != nil:
				errs <- err
			case !bytes.Equal(got, arg):
				errs <- errors.New("call " + strconv.Itoa(i) + ": wrong result")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := rssShmem(t, workerPIDs(f)[0]); n == 0 {
		t.Error("no call went through shared memory")
	}
}

// A worker killed with blocks of its arena allocated: its calls are
// retried on the new worker, which gets an arena of its own; nothing is
// left behind (descriptors, goroutines, mappings).
func TestSharedMemoryWorkerDies(t *testing.T) {
	fds, goroutines := testutil.OpenFDs(t), goleak.IgnoreCurrent()
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 4})
	pid := workerPIDs(f)[0]
	marker := filepath.Join(t.TempDir(), "exit")
	var futures []*farm.Future
	var args [][]byte
	for i := range 4 {
		args = append(args, pattern(1<<20+i, i))
		futures = append(futures, f.Go(ctx(t), "echoOrExit", marker, 100, args[i]))
	}
	for i, fu := range futures {
		var got []byte
		r, err := fu.Wait(ctx(t))
		if err == nil {
			err = r.Decode(&got)
		}
		if err != nil || !bytes.Equal(got, args[i]) {
			t.Fatalf("call %d: %d bytes, %v", i, len(got), err)
		}
	}
	newPID := workerPIDs(f)[0]
	if newPID == pid || !arenaMapped(t, newPID) {
		t.Fatalf("worker %d replaced by %d, which maps an arena: %v", pid, newPID, arenaMapped(t, newPID))
	}
	f.Kill()
	testutil.NoChildren(t, 2*time.Second)
	testutil.Eventually(t, 5*time.Second, "descriptors closed", func() bool { return testutil.OpenFDs(t) <= fds })
	goleak.VerifyNone(t, goroutines)
	if b, _ := os.ReadFile("/proc/self/maps"); bytes.Contains(b, []byte("memfd:workestrator-arena")) {
		t.Fatal("the host still maps an arena after Kill")
	}
}

// A function that keeps its argument: a later call through the same block
// does not change it, since the worker copied it out of the arena.
func TestSharedMemoryKeptArgument(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	first := pattern(1<<20, 1)
	if _, err := farm.Call[struct{}](ctx(t), f, "keep", first); err != nil && !errors.Is(err, farm.ErrNoResult) {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := farm.Call[[]byte](ctx(t), f, "echoBytes", pattern(1<<20, 100+i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := farm.Call[[]byte](ctx(t), f, "kept")
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("kept argument changed: %v", err)
	}
}

// The gRPC stream has no arena, whatever SharedMemory says: with AutoMTLS
// and with the stream forced, the worker maps none and big calls work.
func TestSharedMemoryNotOnTheGRPCStream(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  farm.Config
		env  bool
	}{
		{"AutoMTLS", farm.Config{Workers: 1, AutoMTLS: true}, false},
		{"stream", farm.Config{Workers: 1}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env {
				t.Setenv(wire.EnvDataPlane, wire.DataPlaneGRPC)
			}
			f := newFarm(t, c.cfg)
			arg := pattern(2<<20, 9)
			got, err := farm.Call[[]byte](ctx(t), f, "echoBytes", arg)
			if err != nil || !bytes.Equal(got, arg) {
				t.Fatalf("echo: %d bytes, %v", len(got), err)
			}
			if arenaMapped(t, workerPIDs(f)[0]) {
				t.Fatal("a worker on the gRPC stream maps an arena")
			}
		})
	}
}

// A 16 MiB echo through the arena allocates one copy of the payload on
// each side: the worker's argument, the host's result. With the caller's
// payload that makes at most two copies alive on each side.
func TestSharedMemoryCopies(t *testing.T) {
	const size, calls = 16 << 20, 4
	f := newFarm(t, farm.Config{Workers: 1})
	arg := pattern(size, 1)
	echo := func() {
		got, err := farm.Call[[]byte](ctx(t), f, "echoBytes", arg)
		if err != nil || len(got) != size {
			t.Fatalf("echo: %d bytes, %v", len(got), err)
		}
	}
	echo()
	w0, err := farm.Call[uint64](ctx(t), f, "totalAlloc")
	if err != nil {
		t.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range calls {
		echo()
	}
	runtime.ReadMemStats(&m1)
	w1, err := farm.Call[uint64](ctx(t), f, "totalAlloc")
	if err != nil {
		t.Fatal(err)
	}
	const most = calls * (size + 1<<20)
	if host := m1.TotalAlloc - m0.TotalAlloc; host > most {
		t.Errorf("the host allocated %d bytes for %d calls of %d bytes", host, calls, size)
	}
	if worker := w1 - w0; worker > most {
		t.Errorf("the worker allocated %d bytes for %d calls of %d bytes", worker, calls, size)
	}
}

// A worker that cannot or will not use the arena: one started through a
// wrapper that drops WORKESTRATOR_SHARED_MEMORY (it does not list shared
// memory) and one whose mmap of the arena fails (an address-space limit
// below the arena's size: it declines it). Both are served on the socket
// without an arena, and every result is right, byte for byte.
func TestSharedMemoryDeclined(t *testing.T) {
	for _, c := range []struct {
		name     string
		path     string
		args     []string
		shm      int64
		declined bool // the host logs that the worker declined the arena
	}{
		{"no arena size", "/usr/bin/env", []string{"-u", wire.EnvSharedMemory, workerBin}, 0, false},
		{"mmap fails", "/bin/sh", []string{"-c", `ulimit -v 1048576 && exec "$0"`, workerBin}, 2 << 30, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log testutil.SyncBuffer
			logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: io.MultiWriter(&log, testWriter{t})})
			f := newFarm(t, farm.Config{Path: c.path, Args: c.args, Workers: 1, SharedMemory: c.shm, Logger: logger})
			pid := workerPIDs(f)[0]
			for i, n := range []int{1 << 20, 16 << 20, 4 << 20, 4 << 20} {
				arg := pattern(n, i)
				got, err := farm.Call[[]byte](ctx(t), f, "echoBytes", arg)
				if err != nil || !bytes.Equal(got, arg) {
					t.Fatalf("echoBytes %d: %d bytes, %v", n, len(got), err)
				}
				got, err = farm.Call[[]byte](ctx(t), f, "pattern", n, i)
				if err != nil || !bytes.Equal(got, pattern(n, i)) {
					t.Fatalf("pattern %d: %d bytes, %v", n, len(got), err)
				}
			}
			if st := f.Stats(); st.Retried != 0 || workerPIDs(f)[0] != pid {
				t.Fatalf("%d retries; worker %d now %v", st.Retried, pid, workerPIDs(f))
			}
			if arenaMapped(t, pid) {
				t.Fatal("the worker maps an arena")
			}
			logs := log.String()
			if strings.Contains(logs, "unusable") {
				t.Fatalf("the data plane fell back to the gRPC stream:\n%s", logs)
			}
			if c.declined != strings.Contains(logs, "declined shared memory") {
				t.Fatalf("declined %v, logs:\n%s", c.declined, logs)
			}
		})
	}
}

// The memory limits subtract a worker's resident shared memory only up to
// its own arena's size, and only for a worker whose connection has one:
// a worker that keeps 100 MiB of shared memory of its own (a memfd) is
// killed over MaxWorkerMemoryHard, with an arena of 1 MiB and without one.
func TestSharedMemoryCountsAgainstLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		path string
		args []string
	}{
		{"arena", workerBin, nil},
		{"no arena", "/usr/bin/env", []string{"-u", wire.EnvSharedMemory, workerBin}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFarm(t, farm.Config{Path: c.path, Args: c.args, Workers: 1, SharedMemory: farm.MinSharedMemory,
				MaxWorkerMemoryHard: 64 << 20, MemoryCheckInterval: 10 * time.Millisecond})
			pid := workerPIDs(f)[0]
			if mapped := arenaMapped(t, pid); mapped != (c.name == "arena") {
				t.Fatalf("the worker maps an arena: %v", mapped)
			}
			// The call may fail: its worker is killed once over the limit,
			// before it answers or after.
			_, _ = farm.Call[int](ctx(t), f, "holdShm", 100)
			testutil.Eventually(t, 10*time.Second, "the worker killed for its memory", func() bool {
				return f.Stats().WorkersKilledForMemory >= 1
			})
		})
	}
}

// A call whose caller gives up keeps its block until the worker answers
// (its function ignores the cancellation): the next big call on the same
// worker gets a block of its own, and every result is right.
func TestSharedMemoryCancelledCallKeepsItsBlock(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, SharedMemory: farm.MinSharedMemory, MaxConcurrentCallsPerWorker: 4})
	pid := workerPIDs(f)[0]
	before := rssShmem(t, pid)
	const size = 400 << 10
	first, second, third := pattern(size, 1), pattern(size, 2), pattern(size, 3)
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	if _, err := farm.Call[[]byte](short, f, "echoSlow", 300, first); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the abandoned call: %v", err)
	}
	got, err := farm.Call[[]byte](ctx(t), f, "echoBytes", second)
	if err != nil || !bytes.Equal(got, second) {
		t.Fatalf("the call after it: %d bytes, %v", len(got), err)
	}
	// The worker read the second call's arguments from pages of its own:
	// the first call's block was still allocated.
	if n := rssShmem(t, pid) - before; n < 2*size {
		t.Fatalf("the worker touched %d bytes of its arena for two calls of %d bytes: the block was reused", n, size)
	}
	testutil.Eventually(t, 5*time.Second, "the abandoned call answered", func() bool { return f.Stats().InFlight == 0 })
	got, err = farm.Call[[]byte](ctx(t), f, "echoBytes", third)
	if err != nil || !bytes.Equal(got, third) || workerPIDs(f)[0] != pid {
		t.Fatalf("a call after the answer: %d bytes, %v (worker %d, was %d)", len(got), err, workerPIDs(f)[0], pid)
	}
}
