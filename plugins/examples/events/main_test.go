package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEvents(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	s := out.String()
	for _, typ := range []string{"fork", "online", "message", "timeout", "retry", "ttl", "idle", "disconnect", "exit", "close"} {
		if !regexp.MustCompile(`(?m)^ *\S+  ` + typ + ` *  worker \d+ \(slot \d, pid \d+\)`).MatchString(s) {
			t.Errorf("no %s event in the output:\n%s", typ, s)
		}
	}
	for _, want := range []string{
		"workers now (0 queued, 12 in flight):\n  slot 0  worker ",
		"exit status 3",
		"calls:   14 submitted, 13 succeeded, 1 failed, 2 retried, 2 timed out, 0 refused\n",
		"queue wait: p50 ",
		"run time:  p50 ",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
