package farm_test

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		field string
		cfg   farm.Config
	}{
		{"Path", farm.Config{}},
		{"Workers", farm.Config{Path: "x", Workers: -1}},
		{"Workers", farm.Config{Path: "x", Workers: 1_000_000}},
		{"MinWorkers", farm.Config{Path: "x", MinWorkers: -1}},
		{"MinWorkers", farm.Config{Path: "x", Workers: 2, MinWorkers: 3}},
		{"ScaleDownAfter", farm.Config{Path: "x", ScaleDownAfter: -time.Second}},
		{"MaxConcurrentCalls", farm.Config{Path: "x", MaxConcurrentCalls: -1}},
		{"MaxConcurrentCallsPerWorker", farm.Config{Path: "x", MaxConcurrentCallsPerWorker: -2}},
		{"MaxRetries", farm.Config{Path: "x", MaxRetries: -2}},
		{"RetryBackoff", farm.Config{Path: "x", RetryBackoff: -time.Second}},
		{"Timeout", farm.Config{Path: "x", Timeout: -time.Second}},
		{"TTL", farm.Config{Path: "x", TTL: -1}},
		{"MaxIdleTime", farm.Config{Path: "x", MaxIdleTime: -time.Second}},
		{"KillTimeout", farm.Config{Path: "x", KillTimeout: -time.Second}},
		{"StartTimeout", farm.Config{Path: "x", StartTimeout: -time.Second}},
		{"Args[1]", farm.Config{Path: "x", Args: []string{"a", "b\x00c"}}},
		{"Env[0]", farm.Config{Path: "x", Env: []string{"K=v\x00w"}}},
		{"Path", farm.Config{Path: "x\x00y"}},
		{"MaxMessageSize", farm.Config{Path: "x", MaxMessageSize: -1}},
		{"MaxMessageSize", farm.Config{Path: "x", MaxMessageSize: 1 << 32}},
		{"MaxMessageSize", farm.Config{Path: "x", MaxMessageSize: farm.MaxMessageSizeLimit + 1}},
		{"SharedMemory", farm.Config{Path: "x", SharedMemory: 1}},
		{"SharedMemory", farm.Config{Path: "x", SharedMemory: farm.MinSharedMemory - 1}},
		{"SharedMemory", farm.Config{Path: "x", SharedMemory: farm.MaxSharedMemory + 1}},
		{"IdleSpin", farm.Config{Path: "x", IdleSpin: farm.MaxIdleSpin + 1}},
		{"WorkerHeapFloor", farm.Config{Path: "x", WorkerHeapFloor: farm.MaxWorkerHeapFloor + 1}},
		{"WorkerHeapFloor", farm.Config{Path: "x", WorkerHeapFloor: 64 << 20, MaxWorkerMemory: 100 << 20}},
		{"HostHeapReserve", farm.Config{Path: "x", HostHeapReserve: farm.MaxHostHeapReserve + 1}},
		{"HostHeapReserve", farm.Config{Path: "x", HostHeapReserve: 1000}},
		{"Checksum", farm.Config{Path: "x", Checksum: []byte{1, 2}}},
		{"Env[0]", farm.Config{Path: "x", Env: []string{"NOEQUALS"}}},
	}
	for _, c := range cases {
		_, err := farm.New(c.cfg)
		if !errors.Is(err, farm.ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", c.field, err)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name the field", c.field, err)
		}
	}
}

func TestConfigNotModified(t *testing.T) {
	cfg := farm.Config{Path: workerBin, Workers: 1, Env: []string{"A=1"}}
	before := cfg
	newFarm(t, cfg)
	if cfg.MaxRetries != before.MaxRetries || cfg.KillTimeout != 0 || cfg.Serializer != nil || cfg.Logger != nil {
		t.Fatalf("New modified the caller's Config: %+v", cfg)
	}
}

// startFails checks that New fails with ErrWorkerStart and want, quickly,
// leaving no process behind.
func startFails(t *testing.T, cfg farm.Config, want error, text string) {
	t.Helper()
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 3 * time.Second
	}
	cfg.Logger = testLogger(t)
	start := time.Now()
	f, err := farm.New(cfg)
	if err == nil {
		f.Kill()
		t.Fatal("New succeeded")
	}
	if d := time.Since(start); d > cfg.StartTimeout+2*time.Second {
		t.Errorf("New took %v", d)
	}
	if !errors.Is(err, farm.ErrWorkerStart) {
		t.Errorf("err = %v, want ErrWorkerStart", err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("err = %v, want %v", err, want)
	}
	if !strings.Contains(err.Error(), text) {
		t.Errorf("err = %q, want it to mention %q", err, text)
	}
	testutil.NoChildren(t, 2*time.Second)
}

func TestNewMissingBinary(t *testing.T) {
	startFails(t, farm.Config{Path: "/nonexistent/worker", Workers: 2}, fs.ErrNotExist, "/nonexistent/worker")
}

func TestNewDirectory(t *testing.T) {
	startFails(t, farm.Config{Path: t.TempDir(), Workers: 1}, nil, "directory")
}

func TestNewNotExecutable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "worker")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startFails(t, farm.Config{Path: p, Workers: 1}, nil, "not executable")
}

// A script whose interpreter is missing is not reported as missing
// itself: the error names the interpreter, with or without a checksum.
func TestNewMissingInterpreter(t *testing.T) {
	p := filepath.Join(t.TempDir(), "worker.js")
	if err := os.WriteFile(p, []byte("#!/nonexistent/node --flag\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	startFails(t, farm.Config{Path: p, Workers: 1}, fs.ErrNotExist, "interpreter /nonexistent/node (its #! line) does not exist")
	sum := sha256.Sum256([]byte("#!/nonexistent/node --flag\n"))
	startFails(t, farm.Config{Path: p, Workers: 1, Checksum: sum[:]}, fs.ErrNotExist, "interpreter /nonexistent/node")
}

func TestNewNotAWorker(t *testing.T) {
	bin := testutil.MustBuild(t, "./internal/testutil/fixtures/notworker")
	startFails(t, farm.Config{Path: bin, Workers: 2}, farm.ErrNotWorker, "hello, I am not a worker")
	startFails(t, farm.Config{Path: bin, Args: []string{"exit"}, Workers: 1}, farm.ErrNotWorker, "not a workestrator worker")
	startFails(t, farm.Config{Path: "/bin/true", Workers: 1}, farm.ErrNotWorker, "/bin/true")
}

func TestNewSilentProgramTimesOut(t *testing.T) {
	startFails(t, farm.Config{Path: "/bin/sleep", Args: []string{"60"}, Workers: 1, StartTimeout: 300 * time.Millisecond},
		farm.ErrNotWorker, "no handshake within StartTimeout (300ms)")
}

func TestNewProtocolMismatch(t *testing.T) {
	startFails(t, farm.Config{Path: workerBin, Workers: 1, Env: []string{"FIXTURE_PROTOCOL=99"}}, farm.ErrProtocolVersion, "99")
}

func TestNewBadFunctionShape(t *testing.T) {
	bin := testutil.MustBuild(t, "./internal/testutil/fixtures/badshape")
	startFails(t, farm.Config{Path: bin, Workers: 1}, nil, `method "bad"`)
}

func TestNewStdoutBeforeHandshake(t *testing.T) {
	startFails(t, farm.Config{Path: workerBin, Workers: 1, Env: []string{"FIXTURE_STDOUT_BEFORE=1"}}, farm.ErrNotWorker, "noise before the handshake")
}

func TestChecksum(t *testing.T) {
	sum := sha256File(t, workerBin)
	f := newFarm(t, farm.Config{Workers: 1, Checksum: sum})
	if _, err := farm.Call[int](ctx(t), f, "add", 1, 1, 1); err != nil {
		t.Fatal(err)
	}
	f.Kill()
	bad := append([]byte(nil), sum...)
	bad[0] ^= 0xff
	startFails(t, farm.Config{Path: workerBin, Workers: 1, Checksum: bad}, farm.ErrChecksumMismatch, "sha256")
}

func TestArgsEnvDir(t *testing.T) {
	dir := t.TempDir()
	f := newFarm(t, farm.Config{Workers: 1, Env: []string{"FIXTURE_VALUE=hello"}, Dir: dir})
	v, err := farm.Call[string](ctx(t), f, "env", "FIXTURE_VALUE")
	if err != nil || v != "hello" {
		t.Fatalf("env = %q, %v", v, err)
	}
	cwd, err := farm.Call[string](ctx(t), f, "cwd")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(dir)
	if got, _ := filepath.EvalSymlinks(cwd); got != want {
		t.Fatalf("cwd = %q, want %q", cwd, dir)
	}
}

// Bad Remote settings are config errors that name the field.
func TestRemoteConfigValidation(t *testing.T) {
	const user = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"
	for _, c := range []struct {
		rc   farm.RemoteConfig
		want string
	}{
		{farm.RemoteConfig{Token: "t", ServerNKeys: []string{user}}, "Remote.ServerNKeys"},
		{farm.RemoteConfig{ServerNKeys: []string{"Ubad"}}, "Remote.ServerNKeys[0]"},
		{farm.RemoteConfig{Listen: "garbage", Token: "t"}, `Remote.Listen = "garbage"`},
		{farm.RemoteConfig{Listen: "garbage"}, "want host:port"},
		{farm.RemoteConfig{Listen: "127.0.0.1:99999"}, "want host:port"},
		{farm.RemoteConfig{Listen: "0.0.0.0:0"}, "needs a Token or ServerNKeys"},
	} {
		rc := c.rc
		_, err := farm.New(farm.Config{Remote: &rc})
		if !errors.Is(err, farm.ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want ErrInvalidConfig naming %q", c.rc, err, c.want)
		}
	}
}
