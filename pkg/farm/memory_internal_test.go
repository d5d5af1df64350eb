package farm

import (
	"os"
	"testing"

	"github.com/workestrator/workestrator/internal/wire"
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

func TestParseRssShmem(t *testing.T) {
	for _, c := range []struct {
		in string
		kb int64
		ok bool
	}{
		{"Name:\tw\nVmRSS:\t  20000 kB\nRssShmem:\t    1234 kB\nRssFile:\t 3 kB\n", 1234, true},
		{"Name:\tw\nRssShmem:\t0 kB\n", 0, true},
		{"Name:\tw\nRssFile:\t3 kB\n", 0, false},
		{"Name:\tw\nRssShmem:\tx kB\n", 0, false},
	} {
		got, err := parseRssShmem([]byte(c.in))
		if (err == nil) != c.ok || got != c.kb<<10 {
			t.Errorf("parseRssShmem(%q) = %d, %v", c.in, got, err)
		}
	}
}

// The pages of a shared-memory arena that are touched show in readShmem,
// which the memory limits subtract from the RSS.
func TestReadShmemSeesTheArena(t *testing.T) {
	if !wire.ShmSupported {
		t.Skip("no shared memory on this system")
	}
	const size = 32 << 20
	mem, fd, err := wire.CreateArena(size)
	if err != nil {
		t.Fatal(err)
	}
	defer wire.UnmapArena(mem)
	wire.CloseFD(fd)
	before, err := readShmem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < size; i += 4096 {
		mem[i] = 1
	}
	after, err := readShmem(os.Getpid())
	if err != nil || after-before < size {
		t.Fatalf("readShmem: %d bytes before touching a %d-byte arena, %d after, %v", before, size, after, err)
	}
	rss, err := readRSS(os.Getpid())
	if err != nil || rss < after {
		t.Fatalf("readRSS = %d (%v), below the shared memory %d", rss, err, after)
	}
}
