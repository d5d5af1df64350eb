package farm_test

import (
	"context"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

func TestZZScratch(t *testing.T) {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.RunMethod(context.Background(), "add", 1, 2, 3)
	f.RunMethod(context.Background(), "log", "debug", "hello debug")
	f.RunMethod(context.Background(), "log", "warn", "hello warn")
	f.RunMethod(context.Background(), "print", "printed line")
	f.Kill()
}
