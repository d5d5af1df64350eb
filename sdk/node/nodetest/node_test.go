package nodetest

import (
	"context"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

func TestRunAndRunMethod(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	ctx := context.Background()
	sum, err := farm.Call[int](ctx, f, farm.DefaultMethod, 2, 3)
	if err != nil || sum != 5 {
		t.Fatalf("Run(2, 3) = %v, %v; want 5", sum, err)
	}
	got, err := farm.Call[string](ctx, f, "echo", "hé <&>")
	if err != nil || got != "hé <&>" {
		t.Fatalf("echo = %q, %v", got, err)
	}
}
