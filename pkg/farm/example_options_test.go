package farm_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

func ExampleFarm_With() {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()
	ctx := context.Background()

	// One caller per set of options; it has Run, RunMethod and Go, and
	// Call and GoCall take it as they take the farm.
	urgent := f.With(farm.CallOptions{Priority: 10, Timeout: time.Second, MaxRetries: farm.NoRetries})
	sum, err := farm.Call[int](ctx, urgent, "add", 1, 2, 3)
	fmt.Println(sum, err)

	// A call's own timeout, without retries: the attempt's error as is.
	_, err = urgent.RunMethod(ctx, "sleep", 5000)
	fmt.Println(errors.Is(err, farm.ErrTimeout))
	// Output:
	// 6 <nil>
	// true
}

func ExampleCallOptions_key() {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()
	ctx := context.Background()

	// Calls with the same key run on the same worker while it lives.
	user := f.With(farm.CallOptions{Key: "user-42"})
	first, _ := farm.Call[int](ctx, user, "pid")
	same := true
	for range 10 {
		pid, _ := farm.Call[int](ctx, user, "pid")
		same = same && pid == first
	}
	fmt.Println("same worker:", same)
	// Output: same worker: true
}

func ExampleCallOptions_wait() {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 2, MaxConcurrentCalls: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()
	ctx := context.Background()

	// Without Wait, calls beyond MaxConcurrentCalls are refused; with it,
	// they wait for room (bounded by their ctx) and all run.
	patient := f.With(farm.CallOptions{Wait: true})
	futures := make([]*farm.Future, 100)
	for i := range futures {
		futures[i] = patient.Go(ctx, "add", i, 0, 0)
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
	// Output: 4950
}
