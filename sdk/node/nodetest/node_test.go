package nodetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// workerPIDs returns the pids of the farm's online workers.
func workerPIDs(f *farm.Farm) []int {
	var pids []int
	for _, w := range f.Stats().Workers {
		if w.PID > 0 {
			pids = append(pids, w.PID)
		}
	}
	return pids
}

func TestProtoCopyInSync(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(sdkDir, "..", "..", "pkg", "plugin", "workerpb", "worker.proto"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(sdkDir, "proto", "worker.proto"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("sdk/node/proto/worker.proto differs from pkg/plugin/workerpb/worker.proto: copy it again")
	}
}

func TestRunAndRunMethod(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	sum, err := farm.Call[int](ctx(t), f, farm.DefaultMethod, 2, 3)
	if err != nil || sum != 5 {
		t.Fatalf("Run(2, 3) = %v, %v; want 5", sum, err)
	}
	r, err := f.Run(ctx(t), 40, 2)
	var n int
	if err != nil || r.Decode(&n) != nil || n != 42 {
		t.Fatalf("Run(40, 2) = %v, %v", n, err)
	}
	got, err := farm.Call[string](ctx(t), f, "echo", "hé <&>")
	if err != nil || got != "hé <&>" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	type context struct {
		Method    string `json:"method"`
		HasSignal bool   `json:"hasSignal"`
		Aborted   bool   `json:"aborted"`
	}
	c, err := farm.Call[context](ctx(t), f, "context")
	if err != nil || c != (context{Method: "context", HasSignal: true}) {
		t.Fatalf("context = %+v, %v", c, err)
	}
	c, err = farm.Call[context](ctx(t), f, "arrowContext")
	if err != nil || c != (context{Method: "arrowContext", HasSignal: true}) {
		t.Fatalf("arrowContext = %+v, %v", c, err)
	}
	_, err = f.RunMethod(ctx(t), "nope")
	if !errors.Is(err, farm.ErrUnknownMethod) {
		t.Fatalf("unknown method: %v", err)
	}
}

func TestAsyncAndCallbackStyle(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	got, err := farm.Call[string](ctx(t), f, "later", "v", 20)
	if err != nil || got != "v" {
		t.Fatalf("later = %q, %v", got, err)
	}
	type reply struct {
		Got []int `json:"got"`
	}
	r, err := farm.Call[reply](ctx(t), f, "callback", []int{1, 2})
	if err != nil || len(r.Got) != 2 || r.Got[1] != 2 {
		t.Fatalf("callback = %+v, %v", r, err)
	}
	// Many at once share the stream's batches.
	var futures []*farm.TypedFuture[string]
	for i := range 200 {
		futures = append(futures, farm.GoCall[string](ctx(t), f, "later", strings.Repeat("x", i), 1))
	}
	for i, fu := range futures {
		if s, err := fu.Result(); err != nil || len(s) != i {
			t.Fatalf("call %d = %d bytes, %v", i, len(s), err)
		}
	}
}

func TestErrors(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: farm.NoRetries})
	cases := []struct {
		method, typ, message string
		details              map[string]any
	}{
		{"throwType", "TypeError", "not a number", map[string]any{"code": "E_NAN", "value": "x"}},
		{"reject", "QuotaError", "quota exceeded", map[string]any{"used": 3.0}},
		{"callbackError", "RangeError", "out of range: 7", map[string]any{"limit": 10.0}},
		{"throwString", "string", "plain text", nil},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			_, err := f.RunMethod(ctx(t), c.method, 7)
			var re *farm.RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a RemoteError", err)
			}
			if re.Code != farm.CodeApplication || re.Type != c.typ || re.Message != c.message {
				t.Fatalf("got code %v type %q message %q, want %q %q", re.Code, re.Type, re.Message, c.typ, c.message)
			}
			if c.typ != "string" && !strings.Contains(re.Stack, "fixture.js") {
				t.Errorf("stack %q does not show the fixture", re.Stack)
			}
			if c.details == nil {
				return
			}
			var d map[string]any
			if err := re.DecodeDetails(&d); err != nil {
				t.Fatalf("details %q: %v", re.Details, err)
			}
			for k, v := range c.details {
				if d[k] != v {
					t.Errorf("details[%q] = %v, want %v (all: %v)", k, d[k], v, d)
				}
			}
		})
	}
}

func TestErrorRetriedUnlessPermanent(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: 2})
	_, err := f.RunMethod(ctx(t), "throwType")
	var mr *farm.MaxRetriesError
	if !errors.As(err, &mr) || mr.Attempts != 3 {
		t.Fatalf("throwType: %v, want 3 attempts", err)
	}
	_, err = f.RunMethod(ctx(t), "permanent")
	var re *farm.RemoteError
	if !errors.Is(err, farm.ErrPermanent) || !errors.As(err, &re) || errors.As(err, &mr) || re.Message != "never again" {
		t.Fatalf("permanent: %v, want a permanent RemoteError without retries", err)
	}
}

func TestTimeoutCooperative(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Timeout: 100 * time.Millisecond, MaxRetries: farm.NoRetries})
	pid := workerPIDs(f)[0]
	_, err := f.RunMethod(ctx(t), "cooperative")
	var te *farm.TimeoutError
	if !errors.Is(err, farm.ErrTimeout) || !errors.As(err, &te) || te.PID != pid {
		t.Fatalf("err = %v", err)
	}
	testutil.Eventually(t, 5*time.Second, "the abandoned call to end", func() bool {
		st := f.Stats()
		return len(st.Workers) == 1 && st.Workers[0].InFlight == 0
	})
	if got, err := farm.Call[int](ctx(t), f, "pid"); err != nil || got != pid {
		t.Fatalf("worker after timeout: pid %d (was %d), %v", got, pid, err)
	}
	if st := f.Stats(); st.WorkersHung != 0 {
		t.Fatalf("a cooperative worker was recycled: %+v", st)
	}
}

func TestCallerCancelReachesFunction(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	pid := workerPIDs(f)[0]
	c, cancel := context.WithCancel(ctx(t))
	fu := f.Go(c, "cooperative")
	testutil.Eventually(t, 5*time.Second, "the call in flight", func() bool { return f.Stats().InFlight == 1 })
	cancel()
	if _, err := fu.Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	testutil.Eventually(t, 5*time.Second, "the worker free again", func() bool {
		st := f.Stats()
		return len(st.Workers) == 1 && st.Workers[0].InFlight == 0
	})
	if got, err := farm.Call[int](ctx(t), f, "pid"); err != nil || got != pid {
		t.Fatalf("after cancel: pid %d (was %d), %v", got, pid, err)
	}
}

func TestTimeoutIgnoredRecyclesWorker(t *testing.T) {
	for _, method := range []string{"stubborn", "spin"} {
		t.Run(method, func(t *testing.T) {
			f := newFarm(t, farm.Config{Workers: 1, Timeout: 100 * time.Millisecond, KillTimeout: 200 * time.Millisecond, MaxRetries: farm.NoRetries})
			pid := workerPIDs(f)[0]
			if _, err := f.RunMethod(ctx(t), method); !errors.Is(err, farm.ErrTimeout) {
				t.Fatalf("err = %v", err)
			}
			testutil.Eventually(t, 5*time.Second, "the hung worker to be killed", func() bool { return !testutil.Alive(pid) })
			got, err := farm.Call[int](ctx(t), f, "pid")
			if err != nil || got == pid {
				t.Fatalf("after recycling: pid %d (hung %d), %v", got, pid, err)
			}
			if st := f.Stats(); st.WorkersHung == 0 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

// A worker whose event loop a call blocks answers nothing: found ignoring
// the cancel, it is stopped after another KillTimeout of silence, and the
// other call it held runs again on its replacement instead of waiting for
// its caller's deadline.
func TestHungWorkerReleasesItsOtherCalls(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, KillTimeout: 200 * time.Millisecond})
	pid := workerPIDs(f)[0]
	spinCtx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	spinning := f.Go(spinCtx, "spin")
	other := f.Go(ctx(t), "later", "done", 0)
	testutil.Eventually(t, 5*time.Second, "both calls on the worker", func() bool { return f.Stats().InFlight == 2 })
	cancel()
	if _, err := spinning.Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("the spinning call: %v, want context.Canceled", err)
	}
	start := time.Now()
	res, err := other.Result()
	var got string
	if err == nil {
		err = res.Decode(&got)
	}
	if err != nil || got != "done" {
		t.Fatalf("the other call: %q, %v", got, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the other call waited %v", d)
	}
	if testutil.Alive(pid) {
		t.Errorf("the hung worker %d still runs after its other call was answered elsewhere", pid)
	}
	if st := f.Stats(); st.WorkersHung != 1 {
		t.Errorf("WorkersHung = %d, want 1", st.WorkersHung)
	}
}

func TestWorkerDeathRetried(t *testing.T) {
	for _, method := range []string{"flakyExit", "flakyThrow"} {
		t.Run(method, func(t *testing.T) {
			f := newFarm(t, farm.Config{Workers: 2})
			before := workerPIDs(f)
			marker := filepath.Join(t.TempDir(), "marker")
			pid, err := farm.Call[int](ctx(t), f, method, marker)
			if err != nil {
				t.Fatal(err)
			}
			if pid <= 0 {
				t.Fatalf("pid = %d", pid)
			}
			testutil.Eventually(t, 5*time.Second, "the slot refilled", func() bool {
				st := f.Stats()
				return len(workerPIDs(f)) == 2 && st.WorkersCrashed == 1 && st.Retried == 1
			})
			dead := 0
			for _, p := range before {
				if !testutil.Alive(p) {
					dead++
				}
			}
			if dead != 1 {
				t.Fatalf("%d of the first workers died, want 1", dead)
			}
		})
	}
}

func TestBroadcastDistinctPIDs(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 3})
	replies, err := f.BroadcastMethod(ctx(t), "pid")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, r := range replies {
		if r.Err != nil {
			t.Fatalf("slot %d: %v", r.Slot, r.Err)
		}
		var pid int
		if err := r.Result.Decode(&pid); err != nil || pid != r.PID {
			t.Fatalf("slot %d answered pid %d, reply says %d (%v)", r.Slot, pid, r.PID, err)
		}
		seen[pid] = true
	}
	if len(replies) != 3 || len(seen) != 3 {
		t.Fatalf("replies %+v, want 3 distinct pids", replies)
	}
	// Broadcast calls the default method.
	replies, err = f.Broadcast(ctx(t), 1, 2)
	if err != nil || len(replies) != 3 {
		t.Fatalf("Broadcast: %v, %v", replies, err)
	}
}

func TestTTLRecycles(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, TTL: 5})
	pids := map[int]int{}
	for range 12 {
		pid, err := farm.Call[int](ctx(t), f, "pid")
		if err != nil {
			t.Fatal(err)
		}
		pids[pid]++
	}
	if len(pids) != 3 {
		t.Fatalf("pids = %v, want 3 workers for 12 calls with TTL 5", pids)
	}
	for pid, n := range pids {
		if n > 5 {
			t.Fatalf("worker %d took %d calls", pid, n)
		}
	}
}

func TestIdleRecycles(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxIdleTime: 100 * time.Millisecond})
	pid := workerPIDs(f)[0]
	testutil.Eventually(t, 10*time.Second, "the idle worker to be replaced", func() bool {
		ws := workerPIDs(f)
		return len(ws) == 1 && ws[0] != pid && !testutil.Alive(pid)
	})
	if _, err := farm.Call[int](ctx(t), f, "pid"); err != nil {
		t.Fatal(err)
	}
}

func TestKillWithCallsQueuedAndInFlight(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 2, KillTimeout: 200 * time.Millisecond})
	pids := workerPIDs(f)
	var futures []*farm.Future
	for range 4 {
		futures = append(futures, f.Go(ctx(t), "stubborn")) // in flight
	}
	for range 10 {
		futures = append(futures, f.Go(ctx(t), "echo", 1)) // queued
	}
	testutil.Eventually(t, 5*time.Second, "4 in flight", func() bool { return f.Stats().InFlight == 4 })
	start := time.Now()
	f.Kill()
	if d := time.Since(start); d > 200*time.Millisecond+700*time.Millisecond {
		t.Errorf("Kill took %v with KillTimeout 200ms", d)
	}
	for i, fu := range futures {
		select {
		case <-fu.Done():
		default:
			t.Fatalf("call %d not settled after Kill", i)
		}
		if _, err := fu.Result(); !errors.Is(err, farm.ErrFarmKilled) {
			t.Fatalf("call %d: %v, want ErrFarmKilled", i, err)
		}
	}
	for _, pid := range pids {
		if testutil.Alive(pid) {
			t.Errorf("worker %d alive after Kill", pid)
		}
	}
}

// TestIdleKillIsQuick checks that the worker answers go-plugin's
// Shutdown: without it every stop waits 2 s.
// Kill aborts the signal of the calls still running, on both data planes,
// and the worker waits a moment for what that starts.
func TestKillAbortsSignal(t *testing.T) {
	for _, plane := range []string{"socket", "grpc"} {
		t.Run(plane, func(t *testing.T) {
			if plane == "grpc" {
				t.Setenv("WORKESTRATOR_DATA_PLANE", "grpc")
			}
			f := newFarm(t, farm.Config{Workers: 1, KillTimeout: 2 * time.Second})
			mark := filepath.Join(t.TempDir(), "mark")
			fu := f.Go(ctx(t), "markOnAbort", mark)
			testutil.Eventually(t, 5*time.Second, "the call running in the worker", func() bool {
				_, err := os.Stat(mark + ".started")
				return err == nil
			})
			f.Kill()
			if _, err := fu.Result(); !errors.Is(err, farm.ErrFarmKilled) {
				t.Fatalf("err = %v, want ErrFarmKilled", err)
			}
			b, err := os.ReadFile(mark)
			if err != nil || string(b) != "AbortError" {
				t.Fatalf("the function's abort listener: %q, %v", b, err)
			}
		})
	}
}

func TestIdleKillIsQuick(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, KillTimeout: 5 * time.Second})
	pids := workerPIDs(f)
	start := time.Now()
	f.Kill()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Kill of idle Node.js workers took %v", d)
	}
	for _, pid := range pids {
		if testutil.Alive(pid) {
			t.Errorf("worker %d alive after Kill", pid)
		}
	}
}

func TestLargePayload(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	const size = 16 << 20
	arg := strings.Repeat("y", size)
	n, err := farm.Call[int](ctx(t), f, "size", arg)
	if err != nil || n != size {
		t.Fatalf("size of a 16 MiB argument = %d, %v", n, err)
	}
	s, err := farm.Call[string](ctx(t), f, "big", size)
	if err != nil || len(s) != size {
		t.Fatalf("16 MiB result: %d bytes, %v", len(s), err)
	}
}

func TestResultTooLarge(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxMessageSize: 1 << 20})
	_, err := f.RunMethod(ctx(t), "big", 2<<20)
	if !errors.Is(err, farm.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if _, err := farm.Call[int](ctx(t), f, "pid"); err != nil {
		t.Fatal(err)
	}
}

func TestStdoutNoiseGoesToTheLog(t *testing.T) {
	var logs testutil.SyncBuffer
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: &logs})
	f := newFarm(t, farm.Config{Workers: 1, Args: []string{filepath.Join(sdkDir, "nodetest", "testdata", "noisy.js")}, Logger: log})
	got, err := farm.Call[string](ctx(t), f, farm.DefaultMethod, "ping")
	if err != nil || got != "ping" {
		t.Fatalf("noisy = %q, %v", got, err)
	}
	for _, want := range []string{
		"[INFO]  worker-0: console.log while loading",
		"[INFO]  worker-0: process.stdout.write while loading",
		"[INFO]  worker-0: console.log in a call: ping",
		"[WARN]  worker-0: console.warn in a call",
		"[INFO]  worker-0: partial line",
	} {
		testutil.Eventually(t, 5*time.Second, "the log line "+want, func() bool { return strings.Contains(logs.String(), want) })
	}
	// A line without its newline is logged when the worker exits, and a
	// long one in pieces of 8 Ki characters.
	f.Kill()
	f = newFarm(t, farm.Config{Workers: 1, Args: []string{filepath.Join(sdkDir, "nodetest", "testdata", "unfinished.js")}, Logger: log, MaxRetries: farm.NoRetries})
	_, _ = f.Run(ctx(t))
	testutil.Eventually(t, 5*time.Second, "the unfinished line in the log", func() bool {
		return strings.Contains(logs.String(), "[INFO]  worker-0: no newline before the exit")
	})
	if !strings.Contains(logs.String(), "[INFO]  worker-0: "+strings.Repeat("x", 8<<10)+":") {
		t.Errorf("no line of the first 8 Ki characters of the long one")
	}
}

func TestCBOR(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Serializer: serializer.CBOR})
	type item struct {
		Name  string
		Data  []byte
		Count int64
		Ratio float64
		Tags  map[string]int
	}
	in := item{Name: "é<>", Data: []byte{0, 1, 255}, Count: 1 << 40, Ratio: 0.25, Tags: map[string]int{"a": 1}}
	got, err := farm.Call[item](ctx(t), f, "echo", in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != in.Name || !bytes.Equal(got.Data, in.Data) || got.Count != in.Count || got.Ratio != in.Ratio || got.Tags["a"] != 1 {
		t.Fatalf("CBOR echo = %+v, want %+v", got, in)
	}
	sum, err := farm.Call[int](ctx(t), f, farm.DefaultMethod, 2, 3)
	if err != nil || sum != 5 {
		t.Fatalf("CBOR Run(2, 3) = %v, %v", sum, err)
	}
	_, err = f.RunMethod(ctx(t), "throwType")
	var re *farm.RemoteError
	var d map[string]any
	if !errors.As(err, &re) || re.Type != "TypeError" || re.DecodeDetails(&d) != nil || d["code"] != "E_NAN" {
		t.Fatalf("CBOR error = %v, details %v", err, d)
	}
}

// TestJSONBytesMatchGo checks that the worker writes, byte for byte, what
// encoding/json writes for the same value.
func TestJSONBytesMatchGo(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	values := []any{
		map[string]any{"b": []any{1.5, "x<y>&z", nil, true}, "a": "\u2028é\U0001F600"},
		"tab\tnewline\n\"quote\" \\ \x01",
		[]any{1e21, 1e-7, 123456789.0, -0.5},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.RunMethod(ctx(t), "echo", v)
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json sorts map keys; JavaScript keeps insertion order, which
		// here is the order the host's encoding/json wrote.
		if got := r.Bytes(); !bytes.Equal(got, want) {
			t.Errorf("echo(%v): worker wrote %s, encoding/json %s", v, got, want)
		}
	}
	if _, err := f.RunMethod(ctx(t), "echo", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
}

// farm.AppendCall of a Node.js worker's echo gives what farm.Call gives, with
// either serializer, for small and big slices (a Node.js worker has no
// shared memory: the result is appended).
func TestAppendCall(t *testing.T) {
	for _, ser := range []serializer.Serializer{serializer.JSON, serializer.CBOR} {
		t.Run(ser.Name(), func(t *testing.T) {
			f := newFarm(t, farm.Config{Workers: 1, Serializer: ser})
			buf := make([]byte, 0, 256<<10)
			for _, n := range []int{3, 100 << 10} {
				in := make([]byte, n)
				for i := range in {
					in[i] = byte(i * 7)
				}
				want, err := farm.Call[[]byte](ctx(t), f, "echo", in)
				if err != nil {
					t.Fatal(err)
				}
				got, err := farm.AppendCall(ctx(t), f, buf[:0], "echo", in)
				if err != nil || !bytes.Equal(got, want) || !bytes.Equal(got, in) {
					t.Fatalf("AppendCall(echo, %d bytes) = %d bytes, %v; Call gave %d", n, len(got), err, len(want))
				}
			}
		})
	}
}

// A last parameter that is merely optional gets no callback (Workestrator's
// `function (timeout) { ... timeout || 500 ... }`, called with none): the
// function waits as it would, and a Timeout shorter than that wait ends
// the call.
func TestOptionalParameterGetsNoCallback(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	got, err := farm.Call[string](ctx(t), f, "optionalDelay")
	if err != nil || got != "undefined" {
		t.Fatalf("optionalDelay() = %q, %v; want \"undefined\"", got, err)
	}
	_, err = f.With(farm.CallOptions{Timeout: 50 * time.Millisecond, MaxRetries: farm.NoRetries}).RunMethod(ctx(t), "optionalDelay")
	if !errors.Is(err, farm.ErrTimeout) {
		t.Fatalf("with a 50ms timeout: %v, want ErrTimeout", err)
	}
}

// this reads the module's exports besides the call's context, as in
// Workestrator: a function calls a sibling as this.other().
func TestThisReadsModuleExports(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	if got, err := farm.Call[int](ctx(t), f, "viaThis", 21); err != nil || got != 42 {
		t.Fatalf("viaThis(21) = %d, %v", got, err)
	}
}

// A module that fails to load: the start error quotes its message (the
// end of the worker's stderr), not only the stack that precedes it.
func TestModuleLoadFailureNamed(t *testing.T) {
	needNode(t)
	for _, c := range []struct{ module, want string }{
		{filepath.Join(filepath.Dir(fixture), "throws.js"), "module load failure"},
		{"/nonexistent/module.js", "Cannot find module"},
	} {
		_, err := farm.New(farm.Config{Path: workerBin, Args: []string{c.module}, Workers: 1, Logger: testLogger(t)})
		if !errors.Is(err, farm.ErrNotWorker) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want ErrNotWorker naming %q", c.module, err, c.want)
		}
	}
	testutil.NoChildren(t, 2*time.Second)
}
