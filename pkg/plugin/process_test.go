package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/plugin"
)

var workerBin string

func TestMain(m *testing.M) {
	var err error
	workerBin, err = testutil.Build(testutil.Worker)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testutil.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func launch(t testing.TB, onResponses func([]plugin.Response)) *plugin.Process {
	t.Helper()
	p, err := plugin.Launch(context.Background(), plugin.LaunchConfig{
		Path: workerBin, Name: "worker-0", SocketDir: t.TempDir(), OnResponses: onResponses,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(100 * time.Millisecond)
		if testutil.Alive(p.PID()) {
			t.Errorf("worker %d alive after Stop", p.PID())
		}
	})
	return p
}

func TestDescribe(t *testing.T) {
	p := launch(t, nil)
	info, err := p.Conn().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.ProtocolVersion != plugin.ProtocolVersion || info.PID != p.PID() || info.SDK != plugin.SDKName {
		t.Fatalf("info = %+v", info)
	}
	if sig := info.Methods["add"]; sig != "func(int, int, int) int" {
		t.Fatalf("add's signature = %q", sig)
	}
	if _, ok := info.Methods[plugin.DefaultMethod]; !ok {
		t.Fatal("no default method")
	}
	if len(info.Serializers) != 2 || info.Serializers[0] != "cbor" || info.Serializers[1] != "json" {
		t.Fatalf("serializers = %v", info.Serializers)
	}
}

func TestInvokeUnary(t *testing.T) {
	p := launch(t, nil)
	r, err := p.Conn().Invoke(context.Background(), &plugin.Request{ID: 1, Method: "add", Args: [][]byte{[]byte("1"), []byte("2"), []byte("3")}})
	if err != nil || r.Failed() || string(r.Result) != "6" {
		t.Fatalf("Invoke = %+v, %v", r, err)
	}
	r, err = p.Conn().Invoke(context.Background(), &plugin.Request{ID: 2, Method: "nope"})
	if err != nil || !errors.Is(r.Err("nope", nil), plugin.ErrUnknownMethod) {
		t.Fatalf("unknown method = %+v, %v", r, err)
	}
}

func TestStreamBatches(t *testing.T) {
	got := make(chan plugin.Response, 100)
	p := launch(t, func(rs []plugin.Response) {
		for _, r := range rs {
			got <- r
		}
	})
	c := p.Conn()
	flush := false
	for i := range 50 {
		flush = c.Enqueue(&plugin.Request{ID: uint64(i), Method: "add", Args: [][]byte{[]byte(fmt.Sprint(i)), []byte("0"), []byte("0")}}) || flush
	}
	if !flush {
		t.Fatal("no flush asked")
	}
	c.Flush()
	seen := map[uint64]bool{}
	timeout := time.After(10 * time.Second)
	for len(seen) < 50 {
		select {
		case r := <-got:
			if string(r.Result) != fmt.Sprint(r.ID) || seen[r.ID] {
				t.Fatalf("response %+v", r)
			}
			seen[r.ID] = true
		case <-timeout:
			t.Fatalf("%d of 50 responses", len(seen))
		}
	}
}

func TestStopAndExitStatus(t *testing.T) {
	p := launch(t, nil)
	p.Stop(time.Second)
	select {
	case <-p.Exited():
	default:
		t.Fatal("not exited after Stop")
	}
	if st := p.ExitStatus(); st.Code != 0 || st.Signal != "" {
		t.Fatalf("a worker asked to stop exited with %v", st)
	}
	select {
	case <-p.Conn().Done():
	default:
		t.Fatal("connection open after Stop")
	}
}
