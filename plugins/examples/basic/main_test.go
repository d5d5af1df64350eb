package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBasic(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, 2); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^initialised 2 workers
Hello, Gopher, from worker (\d+)
Hello, Gopher, from worker (\d+)
$`)
	m := want.FindStringSubmatch(out.String())
	if m == nil || m[1] == m[2] {
		t.Fatalf("output:\n%s", out.String())
	}
}
