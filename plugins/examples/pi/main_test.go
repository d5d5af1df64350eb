package main

import (
	"bytes"
	"context"
	"math"
	"regexp"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPi(t *testing.T) {
	var out, progress bytes.Buffer
	err := run(context.Background(), &out, options{points: 2_000_000, chunks: 20, workers: 2, progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^Monte Carlo π with 2000000 points in 20 chunks
single process: +π ≈ (\d\.\d+) in \S+
farm of 2 workers: π ≈ (\d\.\d+) in \S+
speedup: \d+\.\d\d× on \d+ CPUs
$`)
	m := want.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output:\n%s", out.String())
	}
	single, _ := strconv.ParseFloat(m[1], 64)
	farmed, _ := strconv.ParseFloat(m[2], 64)
	if single != farmed || math.Abs(single-math.Pi) > 0.01 {
		t.Fatalf("estimates %v and %v", single, farmed)
	}
	if !bytes.Contains(progress.Bytes(), []byte("100%")) {
		t.Fatalf("progress bar: %q", progress.String())
	}
}

func TestPiBadOptions(t *testing.T) {
	if err := run(context.Background(), &bytes.Buffer{}, options{points: 10, chunks: 20, workers: 1}); err == nil {
		t.Fatal("more chunks than points accepted")
	}
}
