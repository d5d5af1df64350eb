// Command workestrator runs the scale-out side of Workestrator:
//
//	workestrator serve [flags] WORKER [ARGS...]   an agent: a local farm of WORKER serving a NATS pool
//	workestrator nats [flags]                     a NATS server for hosts and agents without one
//
// Install it with
//
//	go install github.com/workestrator/workestrator/cmd/workestrator@latest
//
// Every flag also reads an environment variable (WORKESTRATOR_ and the
// flag's name, e.g. --token and WORKESTRATOR_TOKEN); `workestrator CMD
// --help` lists them. Logs are hclog lines on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

const usage = `Usage: workestrator COMMAND [flags] [ARGS...]

Commands:
  serve   run an agent: a local farm of a worker binary that takes the calls
          of the host farms of a NATS pool (SIGTERM or SIGINT drains it)
  nats    run a NATS server for the hosts and agents of a cluster
  version print the version

Run 'workestrator COMMAND --help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-ctx.Done()
		stop() // a second SIGTERM or SIGINT ends the process at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command of args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	// --help goes to stdout, a command line error's usage and the logs to
	// stderr.
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "nats":
		err = natsServer(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "workestrator", version())
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "workestrator: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		hclog.New(&hclog.LoggerOptions{Name: "workestrator", Output: stderr}).Error(args[0] + ": " + err.Error())
		return 1
	}
	return 0
}

// errUsage is a command line error already reported with the usage.
var errUsage = errors.New("usage")
