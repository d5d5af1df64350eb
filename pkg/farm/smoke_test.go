package farm_test

import (
	"context"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

func TestSmoke(t *testing.T) {
	f := newFarm(t, farm.Config{})
	sum, err := farm.Call[int](context.Background(), f, "add", 1, 2, 3)
	if err != nil || sum != 6 {
		t.Fatalf("add = %d, %v", sum, err)
	}
}
