package farm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/workestrator/workestrator/pkg/farm"
)

func Example() {
	// workerBin is a worker built with pkg/plugin that registers
	// "add": func(a, b, c int) int.
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()

	sum, err := farm.Call[int](context.Background(), f, "add", 1, 2, 3)
	fmt.Println(sum, err)
	// Output: 6 <nil>
}

func ExampleFarm_Go() {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()

	ctx := context.Background()
	futures := make([]*farm.Future, 1000)
	for i := range futures {
		futures[i] = f.Go(ctx, "add", i, i, i) // no goroutine per call
	}
	total := 0
	for _, fu := range futures {
		r, err := fu.Result()
		if err != nil {
			fmt.Println(err)
			return
		}
		var n int
		_ = r.Decode(&n)
		total += n
	}
	fmt.Println(total)
	// Output: 1498500
}

func ExampleFarm_BroadcastMethod() {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()

	replies, err := f.BroadcastMethod(context.Background(), "add", 1, 1, 1)
	for _, r := range replies {
		var n int
		_ = r.Result.Decode(&n)
		fmt.Println("slot", r.Slot, "answered", n, "pid known:", r.PID > 0)
	}
	fmt.Println(err)
	// Output:
	// slot 0 answered 3 pid known: true
	// slot 1 answered 3 pid known: true
	// slot 2 answered 3 pid known: true
	// <nil>
}

func ExampleRemoteError() {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()

	_, err = f.RunMethod(context.Background(), "fail", "permanent")
	var re *farm.RemoteError
	if errors.As(err, &re) {
		var details struct{ Code int }
		_ = re.DecodeDetails(&details)
		fmt.Println(re.Type, re.Message, details.Code, errors.Is(err, farm.ErrPermanent))
	}
	// Output: *fixturetypes.Failure failure permanent 7 true
}

func ExampleNew_invalidConfig() {
	_, err := farm.New(farm.Config{Path: workerBin, MaxConcurrentCallsPerWorker: -1})
	fmt.Println(errors.Is(err, farm.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// invalid farm config: MaxConcurrentCallsPerWorker = -1: must be 0 (10) or positive
}

func ExampleGoCall() {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()

	sum := farm.GoCall[int](context.Background(), f, "add", 1, 2, 3) // returns at once
	n, err := sum.Result()
	fmt.Println(n, err)
	// Output: 6 <nil>
}

func ExampleFarm_Reload() {
	// A new build to deploy: here the same worker, copied to another path
	// (before the farm starts: a file being written cannot run).
	dir, err := os.MkdirTemp("", "example-reload-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	b, err := os.ReadFile(workerBin)
	if err != nil {
		fmt.Println(err)
		return
	}
	v2 := filepath.Join(dir, "worker-v2")
	if err := os.WriteFile(v2, b, 0o755); err != nil {
		fmt.Println(err)
		return
	}

	// Every worker, the replacements included, runs setState("ready")
	// before its first call.
	f, err := farm.New(farm.Config{
		Path:    workerBin,
		Workers: 2,
		Init:    farm.Init{Method: "setState", Args: []any{"ready"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()

	ctx := context.Background()
	fmt.Println(f.Reload(ctx, v2))
	exe, _ := farm.Call[string](ctx, f, "exe")
	fmt.Println(exe == v2)
	var state struct{ State string }
	r, _ := f.RunMethod(ctx, "getState")
	_ = r.Decode(&state)
	fmt.Println(state.State)

	// A program that is not a worker is refused at the first slot; the
	// workers stay as they were.
	err = f.Reload(ctx, "/bin/true")
	var re *farm.ReloadError
	fmt.Println(errors.As(err, &re), re.Slot, errors.Is(err, farm.ErrWorkerStart))
	// Output:
	// <nil>
	// true
	// ready
	// true 0 true
}

func ExampleAppendCall() {
	// "bytes": func(n int) []byte returns n bytes.
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()

	buf := make([]byte, 0, 1<<20) // reused by every call
	for range 3 {
		if buf, err = farm.AppendCall(context.Background(), f, buf[:0], "bytes", 512<<10); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(len(buf), cap(buf))
	// Output: 524288 1048576
}
