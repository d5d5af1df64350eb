package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if example.dir != "" {
			os.RemoveAll(example.dir)
		}
	}))
}

// example is this command, built once per test run by exampleBinary.
var example struct {
	once      sync.Once
	dir, path string
	err       error
}

// exampleBinary returns the path of this command's binary, built on the
// first call.
func exampleBinary(t *testing.T) string {
	t.Helper()
	example.once.Do(func() {
		if example.dir, example.err = os.MkdirTemp("", "pi-test-"); example.err != nil {
			return
		}
		example.path = filepath.Join(example.dir, "pi")
		cmd := exec.Command("go", "build", "-o", example.path, ".")
		cmd.Stderr = os.Stderr
		example.err = cmd.Run()
	})
	if example.err != nil {
		t.Fatal("build the example:", example.err)
	}
	return example.path
}

func TestPi(t *testing.T) {
	var out, progress bytes.Buffer
	// 2000003 points do not split evenly into 20 chunks: the first three
	// get one more.
	err := run(context.Background(), &out, options{points: 2_000_003, chunks: 20, workers: 2, progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^Monte Carlo π with 2000003 points in 20 chunks
single process: +π ≈ (\d\.\d+) in \S+
farm of 2 workers: π ≈ (\d\.\d+) in \S+
points counted: 2000003
speedup: \d+\.\d\d× on \d+ CPUs
$`)
	m := want.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output:\n%s", out.String())
	}
	checkEstimates(t, m[1], m[2])
	if !bytes.Contains(progress.Bytes(), []byte("100%")) {
		t.Fatalf("progress bar: %q", progress.String())
	}
}

// checkEstimates checks that the farm's estimate is the single process's
// (the same seeds), and close to π.
func checkEstimates(t *testing.T, single, farmed string) {
	t.Helper()
	s, _ := strconv.ParseFloat(single, 64)
	f, _ := strconv.ParseFloat(farmed, 64)
	if s != f || math.Abs(s-math.Pi) > 0.01 {
		t.Fatalf("estimates %v and %v", s, f)
	}
}

func TestChunkSizes(t *testing.T) {
	for _, tc := range []struct{ points, chunks int }{{10, 10}, {10, 3}, {7, 1}, {2_000_003, 20}} {
		sizes := chunkSizes(tc.points, tc.chunks)
		sum := 0
		for _, n := range sizes {
			if n < tc.points/tc.chunks || n > tc.points/tc.chunks+1 {
				t.Fatalf("chunkSizes(%d, %d) = %v: uneven", tc.points, tc.chunks, sizes)
			}
			sum += n
		}
		if len(sizes) != tc.chunks || sum != tc.points {
			t.Fatalf("chunkSizes(%d, %d) = %v", tc.points, tc.chunks, sizes)
		}
	}
}

func TestPiBadOptions(t *testing.T) {
	for _, o := range []options{
		{points: 10, chunks: 20, workers: 1},
		{points: 10, chunks: 2, workers: -1},
		{points: 10, chunks: 2, agents: -1},
	} {
		if err := run(context.Background(), &bytes.Buffer{}, o); err == nil {
			t.Fatalf("%+v accepted", o)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-points", "2.5"}, "-points 2.5: want a whole number"},
		{[]string{"-points", "1e30"}, "-points 1e+30: want a whole number"},
		{[]string{"-points", "NaN"}, "-points NaN"},
		{[]string{"-points", "0"}, "-points 0"},
		{[]string{"-points", "9007199254740993"}, "-points 9007199254740993: want a whole number"},
		{[]string{"-points", "99999999999999999999999"}, "-points 1e+23: want a whole number"},
		{[]string{"stray"}, `unexpected argument "stray"`},
	} {
		if _, err := parseOptions(c.args, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
	if o, err := parseOptions([]string{"-points", "2e6", "-chunks", "7"}, io.Discard); err != nil || o.points != 2_000_000 || o.chunks != 7 {
		t.Errorf("-points 2e6 -chunks 7: %+v, %v", o, err)
	}
	// Fewer points than the default chunks: one chunk a point.
	if o, err := parseOptions([]string{"-points", "50"}, io.Discard); err != nil || o.points != 50 || o.chunks != 50 || o.check() != nil {
		t.Errorf("-points 50: %+v, %v", o, err)
	}
	if o, err := parseOptions([]string{"-points", "9007199254740992"}, io.Discard); err != nil || o.points != 1<<53 {
		t.Errorf("-points 2^53: %+v, %v", o, err)
	}
	for o, want := range map[options]string{
		{points: 10, chunks: 20}:             "-chunks 20: want 1 to -points (10)",
		{points: 2e6, chunks: maxChunks + 1}: "-chunks 1000001",
		{points: 10, chunks: 2, workers: -1}: "-workers -1",
		{points: 10, chunks: 2, agents: -1}:  "-agents -1",
	} {
		if err := o.check(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", o, err, want)
		}
	}
}
