package clustertest

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// localOnline counts the farm's local workers that are online.
func localOnline(f *farm.Farm) int {
	n := 0
	for _, w := range f.Stats().Workers {
		if w.Agent == "" && w.State == "online" {
			n++
		}
	}
	return n
}

// The slots an agent left behind start nothing: calls that wait beyond
// the local workers scale the local workers up as before the agent came.
func TestLocalAutoscalingAfterAgentLeft(t *testing.T) {
	f := newHost(t, farm.Config{Path: workerBin, Workers: 3, MinWorkers: 1, MaxConcurrentCallsPerWorker: 2, ScaleDownAfter: time.Hour})
	a1 := startAgent(t, "a1", f.URL(), nil, "--workers", "4")
	waitJoined(t, f, 4, a1)
	a1.signal(t, syscall.SIGTERM)
	waitLeft(t, f, "a1", 20*time.Second)
	if n := localOnline(f); n != 1 {
		t.Fatalf("%d local workers online before the burst, want MinWorkers 1", n)
	}
	var futures []*farm.Future
	for range 12 {
		futures = append(futures, f.Go(ctx(t), "sleep", 1000))
	}
	testutil.Eventually(t, 20*time.Second, "the local workers scaled up to 3", func() bool { return localOnline(f) == 3 })
	for _, fu := range futures {
		if _, err := fu.Result(); err != nil {
			t.Fatal(err)
		}
	}
}

// Reload of a farm without local workers says so, rather than accepting
// any path unchecked.
func TestReloadWithoutLocalWorkers(t *testing.T) {
	f := newHost(t, farm.Config{})
	err := f.Reload(ctx(t), "/nonexistent/worker")
	var re *farm.ReloadError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "no local workers") {
		t.Fatalf("Reload: %v, want a *ReloadError saying there are no local workers", err)
	}
}
