package nodetest

import (
	"context"
	"strings"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

// TestIdleSpin runs calls one at a time, the pattern the idle spin is for,
// with the spin off, the default, and a long window: the answers are the
// same.
func TestIdleSpin(t *testing.T) {
	for _, tc := range []struct{ name, env string }{{"off", "WORKESTRATOR_IDLE_SPIN_US=0"}, {"default", ""}, {"5ms", "WORKESTRATOR_IDLE_SPIN_US=5000"}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := farm.Config{Workers: 1}
			if tc.env != "" {
				cfg.Env = []string{tc.env}
			}
			f := newFarm(t, cfg)
			for i := range 200 {
				got, err := farm.Call[int](context.Background(), f, "echo", i)
				if err != nil || got != i {
					t.Fatalf("echo(%d) = %d, %v", i, got, err)
				}
			}
		})
	}
}

// TestIdleSpinBadValue: a window that is not a number of microseconds
// stops the worker at start with an error that names the variable.
func TestIdleSpinBadValue(t *testing.T) {
	needNode(t)
	f, err := farm.New(farm.Config{Path: workerBin, Args: []string{fixture}, Workers: 1,
		Env: []string{"WORKESTRATOR_IDLE_SPIN_US=soon"}, Logger: testLogger(t)})
	if err == nil {
		f.Kill()
		t.Fatal("farm.New started a worker with WORKESTRATOR_IDLE_SPIN_US=soon")
	}
	if !strings.Contains(err.Error(), `WORKESTRATOR_IDLE_SPIN_US="soon"`) {
		t.Fatalf("err = %v, want it to name WORKESTRATOR_IDLE_SPIN_US", err)
	}
}
