package farm

import (
	"os"
	"testing"
)

func TestParseStatm(t *testing.T) {
	for _, c := range []struct {
		in    string
		pages int64
		ok    bool
	}{
		{"1234 567 89 1 0 300 0\n", 567, true},
		{"1 0 0 0 0 0 0\n", 0, true}, // a zombie
		{"", 0, false},
		{"1234\n", 0, false},
		{"1234 x 1\n", 0, false},
	} {
		got, err := parseStatm([]byte(c.in))
		if (err == nil) != c.ok || got != c.pages*pageSize {
			t.Errorf("parseStatm(%q) = %d, %v; want %d pages, ok %v", c.in, got, err, c.pages, c.ok)
		}
	}
}

func TestReadRSSSelf(t *testing.T) {
	rss, err := readRSS(os.Getpid())
	if err != nil || rss < 1<<20 || rss > 1<<40 {
		t.Fatalf("readRSS(self) = %d, %v", rss, err)
	}
	if _, err := readRSS(1 << 30); err == nil {
		t.Fatal("readRSS of a pid that does not exist: no error")
	}
}

func TestNoMemWatchWithoutLimit(t *testing.T) {
	if m := newMemWatch(Config{MemoryCheckInterval: DefaultMemoryCheckInterval}); m != nil {
		t.Fatal("a memory watch without a memory limit")
	}
}

// BenchmarkReadRSS is the CPU cost of one sample of one worker.
func BenchmarkReadRSS(b *testing.B) {
	pid := os.Getpid()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readRSS(pid); err != nil {
			b.Fatal(err)
		}
	}
}
