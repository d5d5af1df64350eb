package farm_test

import (
	"context"
	"fmt"

	"github.com/workestrator/workestrator/pkg/farm"
)

func ExampleConfig_onEvent() {
	f, err := farm.New(farm.Config{
		Path:    workerBin,
		Workers: 1,
		// The listener runs on a goroutine of the farm's, one event at a
		// time, in the order they happened; a slow one never slows a call.
		OnEvent: func(ev farm.Event) {
			line := fmt.Sprintf("%-10s worker %d, slot %d", ev.Type, ev.WorkerID, ev.Slot)
			if ev.CallID > 0 {
				line += fmt.Sprintf(", call %d %s attempt %d", ev.CallID, ev.Method, ev.Attempt)
			}
			if ev.Err != nil {
				line += ": " + ev.Err.Error()
			}
			if ev.Exit != nil {
				line += ": " + ev.Exit.String()
			}
			fmt.Println(line)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	_, _ = f.RunMethod(ctx, "add", 1, 2, 3)
	_, _ = f.RunMethod(ctx, "fail", "permanent")
	f.Kill() // returns once the listener has had the last event
	// Output:
	// fork       worker 1, slot 0
	// online     worker 1, slot 0
	// message    worker 1, slot 0, call 1 add attempt 1
	// message    worker 1, slot 0, call 2 fail attempt 1: method "fail": *fixturetypes.Failure: failure permanent
	// disconnect worker 1, slot 0
	// exit       worker 1, slot 0: exit status 0
	// close      worker 1, slot 0
}

func ExampleFarm_Stats() {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Kill()
	for i := range 10 {
		_, _ = farm.Call[int](context.Background(), f, "add", i, i, i)
	}

	st := f.Stats()
	fmt.Printf("%d calls, %d succeeded, %d failed\n", st.Submitted, st.Succeeded, st.Failed)
	// One call at a time: the least busy worker is always slot 0's.
	for _, w := range st.Workers {
		fmt.Printf("slot %d: %s, %d calls answered, pid known: %v\n", w.Slot, w.State, w.Answered, w.PID > 0)
	}
	rt := st.RunTime
	fmt.Println(rt.Count, "run times; ordered:", rt.P50 <= rt.P90 && rt.P90 <= rt.P99 && rt.P99 <= rt.Max)
	// Output:
	// 10 calls, 10 succeeded, 0 failed
	// slot 0: online, 10 calls answered, pid known: true
	// slot 1: online, 0 calls answered, pid known: true
	// 10 run times; ordered: true
}
