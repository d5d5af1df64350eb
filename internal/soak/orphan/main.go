// Command orphan checks that a host killed with SIGKILL leaves no worker
// behind: it starts itself as a child host that runs a farm of two workers
// with calls in flight, reads the workers' pids from the child's stdout,
// SIGKILLs the child mid-run and checks that every worker is gone within a
// second. Then it checks that the next farm.New of another process (this
// one) removes the dead host's socket directory. It exits 1 on failure, 2
// when it cannot run.
//
//	go run ./internal/soak/orphan
//	go run ./internal/soak/orphan -scenario stubborn   # a worker whose OnShutdown hook hangs
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/soak"
	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// Scenarios: what the child host's workers do when it is killed.
//
//	busy      chaos workers running calls that hang (ignoring or honouring
//	          their context) or compute without a system call, and a stream
//	          of quick calls
//	stubborn  fixture workers that ignore SIGTERM and whose OnShutdown hook
//	          never returns
var scenarios = []string{"busy", "stubborn"}

func main() {
	child := flag.Bool("child", false, "run as the child host (internal)")
	scenario := flag.String("scenario", "busy", "busy, stubborn or all")
	chaosWorker := flag.String("worker", "", "chaos worker binary (default: build "+soak.WorkerPkg+")")
	fixtureWorker := flag.String("fixture-worker", "", "fixture worker binary, for -scenario stubborn (default: build "+testutil.Worker+")")
	grace := flag.Duration("grace", time.Second, "how long the workers may outlive their host")
	flag.Parse()
	if *child {
		os.Exit(runChild(*scenario, flag.Arg(0)))
	}
	os.Exit(runParent(*scenario, *chaosWorker, *fixtureWorker, *grace))
}

// runChild is the child host: it starts a farm, prints "PIDS <pid> <pid>"
// once calls are running, and keeps calling until it is killed.
func runChild(scenario, worker string) int {
	log := hclog.New(&hclog.LoggerOptions{Name: "orphan-child", Level: hclog.Error, Output: os.Stderr})
	f, err := farm.New(farm.Config{Path: worker, Workers: 2, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	ctx := context.Background()
	switch scenario {
	case "busy":
		for i, fate := range []string{"hang", "hangctx", "compute"} {
			f.Go(ctx, "chaos", i, fate)
			f.Go(ctx, "chaos", i, fate)
		}
	case "stubborn":
		if _, err := f.BroadcastMethod(ctx, "stubborn"); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
	}
	var pids []string
	for _, w := range f.Stats().Workers {
		pids = append(pids, strconv.Itoa(w.PID))
	}
	fmt.Println("PIDS " + strings.Join(pids, " "))
	// Mid-run: keep calls flowing until the parent kills us.
	for i := 0; ; i++ {
		switch scenario {
		case "busy":
			_, _ = f.RunMethod(ctx, "chaos", i, "ok")
		default:
			_, _ = f.RunMethod(ctx, "pid")
		}
	}
}

func runParent(scenario, chaosWorker, fixtureWorker string, grace time.Duration) int {
	var run []string
	switch scenario {
	case "all":
		run = scenarios
	case "busy", "stubborn":
		run = []string{scenario}
	default:
		fmt.Fprintf(os.Stderr, "orphan: unknown scenario %q\n", scenario)
		return 2
	}
	defer testutil.Cleanup()
	build := func(path *string, pkg string) error {
		if *path != "" {
			return nil
		}
		p, err := testutil.Build(pkg)
		*path = p
		return err
	}
	if err := build(&chaosWorker, soak.WorkerPkg); err != nil {
		fmt.Fprintln(os.Stderr, "orphan:", err)
		return 2
	}
	failed := false
	for _, sc := range run {
		worker := chaosWorker
		if sc == "stubborn" {
			if err := build(&fixtureWorker, testutil.Worker); err != nil {
				fmt.Fprintln(os.Stderr, "orphan:", err)
				return 2
			}
			worker = fixtureWorker
		}
		if err := check(sc, worker, chaosWorker, grace); err != nil {
			fmt.Printf("FAIL %s: %v\n", sc, err)
			if errors.Is(err, errSetup) {
				return 2
			}
			failed = true
		}
	}
	if failed {
		return 1
	}
	fmt.Println("PASS")
	return 0
}

var errSetup = errors.New("setup")

// check runs one child host with worker, kills it, and checks its workers
// and its socket directory.
func check(scenario, worker, chaosWorker string, grace time.Duration) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%w: %v", errSetup, err)
	}
	cmd := exec.Command(self, "-child", "-scenario", scenario, worker)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("%w: %v", errSetup, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: %v", errSetup, err)
	}
	host := cmd.Process.Pid
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// The child's first line names its workers.
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		for sc.Scan() { // drain
		}
	}()
	var pids []int
	select {
	case l, ok := <-line:
		rest, found := strings.CutPrefix(l, "PIDS ")
		if !ok || !found {
			return fmt.Errorf("%w: child host %d said %q, want \"PIDS <pid> <pid>\"", errSetup, host, l)
		}
		for _, s := range strings.Fields(rest) {
			p, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("%w: child host said %q", errSetup, l)
			}
			pids = append(pids, p)
		}
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%w: child host %d printed no pids in 60s", errSetup, host)
	}
	if len(pids) != 2 {
		return fmt.Errorf("child host %d has workers %v, want 2", host, pids)
	}
	kids := testutil.Children(host)
	for _, p := range pids {
		if !testutil.Alive(p) || !contains(kids, p) {
			return fmt.Errorf("worker %d is not a live child of host %d (its children: %v)", p, host, kids)
		}
	}
	dirs := soak.SocketDirs(host)
	if len(dirs) == 0 {
		return fmt.Errorf("child host %d has no socket directory %s", host, soak.SocketDirs(host))
	}

	// Let calls flow a little, then kill the host mid-run.
	time.Sleep(100 * time.Millisecond)
	if err := syscall.Kill(host, syscall.SIGKILL); err != nil {
		return fmt.Errorf("%w: kill child host: %v", errSetup, err)
	}
	killedAt := time.Now()
	_ = cmd.Wait() // reap it, so that its pid is free: the stale-directory check looks for ESRCH
	killed = true

	var alive []int
	gone := testutil.WaitFor(grace, func() bool {
		alive = alive[:0]
		for _, p := range pids {
			if testutil.Alive(p) {
				alive = append(alive, p)
			}
		}
		return len(alive) == 0
	})
	took := time.Since(killedAt)
	if !gone {
		for _, p := range alive { // do not leave them behind ourselves
			_ = syscall.Kill(-p, syscall.SIGKILL)
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		return fmt.Errorf("workers %v of host %d still alive %v after the host was SIGKILLed", alive, host, grace)
	}
	fmt.Printf("%s: host %d SIGKILLed; its workers %v were gone after %v\n", scenario, host, pids, took.Round(time.Millisecond))

	// The dead host's socket directory stays until the next farm.New.
	left := soak.SocketDirs(host)
	if len(left) == 0 {
		fmt.Printf("%s: host %d's socket directory was already removed\n", scenario, host)
		return nil
	}
	f, err := farm.New(farm.Config{
		Path: chaosWorker, Workers: 1,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "orphan", Level: hclog.Error, Output: os.Stderr}),
	})
	if err != nil {
		return fmt.Errorf("%w: farm.New: %v", errSetup, err)
	}
	f.Kill()
	if left := soak.SocketDirs(host); len(left) > 0 {
		return fmt.Errorf("socket directories %v of dead host %d survive another process's farm.New", left, host)
	}
	fmt.Printf("%s: farm.New removed dead host %d's socket directory %v\n", scenario, host, left)
	return nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
