package soak

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/workestrator/workestrator/pkg/farm"
)

// outcome of one call, as classified against its fate.
const (
	outRight      = iota // the success or the error its fate asks for
	outCollateral        // a retry-exhausted worker death or timeout caused by others
	outWrong             // a violation
	outLost              // no answer by the deadline
	numOutcomes
)

// classify checks one call's answer against its fate; remote says that the
// farm has agents.
func classify(idx int, fate string, res farm.Result, err error, retries int, remote bool) (int, string) {
	if err == nil {
		if fate != "ok" && fate != "grow" {
			return outWrong, fmt.Sprintf("succeeded (%q) but its fate is %s", res.Bytes(), fate)
		}
		var v int
		if derr := res.Decode(&v); derr != nil || v != idx*2 {
			return outWrong, fmt.Sprintf("answer %q (%v), want %d", res.Bytes(), derr, idx*2)
		}
		return outRight, ""
	}
	// A retried failure must come as a MaxRetriesError after every attempt.
	last := err
	var mr *farm.MaxRetriesError
	wrapped := errors.As(err, &mr)
	if wrapped {
		if retries == 0 || mr.Attempts != retries+1 || (mr.Method != "chaos" && mr.Method != "chaosBlob") {
			return outWrong, fmt.Sprintf("%v: %d attempts of %s, want %d of chaos or chaosBlob", err, mr.Attempts, mr.Method, retries+1)
		}
		if _, direct := err.(*farm.MaxRetriesError); !direct {
			return outWrong, fmt.Sprintf("%T wraps the MaxRetriesError: %v", err, err)
		}
		last = mr.Last
	}
	retried := wrapped || retries == 0 // what a retryable failure looks like
	bad := func() (int, string) {
		return outWrong, fmt.Sprintf("error %T %v is not what fate %s gives", err, err, fate)
	}
	var re *farm.RemoteError
	isRemote := errors.As(last, &re) && last == error(re)
	var we *farm.WorkerExitError
	isExit := errors.As(last, &we) && last == error(we)
	var te *farm.TimeoutError
	isTimeout := errors.As(last, &te) && last == error(te)
	// The pid of an agent's worker is what its agent last announced: none
	// when the agent was lost while the slot had no worker.
	if isExit && (!errors.Is(err, farm.ErrWorkerTerminated) || (we.PID <= 0 && !errors.Is(err, farm.ErrAgentLost))) {
		return bad()
	}
	// An attempt queued at an agent for a slot whose worker is being
	// replaced times out on no process.
	if isTimeout && (!errors.Is(err, farm.ErrTimeout) || te.PID < 0 || (te.PID == 0 && !remote)) {
		return bad()
	}
	collateral := retried && (isExit || isTimeout)

	switch fate {
	case "ok", "grow":
	case "error":
		if retried && isRemote && re.Code == farm.CodeApplication && !re.Permanent &&
			re.Message == "chaos error "+strconv.Itoa(idx) && !errors.Is(err, farm.ErrPanic) {
			return outRight, ""
		}
	case "permanent":
		if !wrapped && isRemote && re.Permanent && errors.Is(err, farm.ErrPermanent) &&
			re.Message == "chaos permanent "+strconv.Itoa(idx) {
			return outRight, ""
		}
	case "panic":
		if retried && isRemote && re.Code == farm.CodePanic && errors.Is(err, farm.ErrPanic) &&
			strings.Contains(re.Message, "chaos panic "+strconv.Itoa(idx)) && re.Stack != "" {
			return outRight, ""
		}
	case "exit":
		if retried && isExit && we.Status.Code == exitCode && we.Status.Signal == "" {
			return outRight, ""
		}
	case "kill":
		if retried && isExit && we.Status.Signal == "killed" {
			return outRight, ""
		}
	case "hang", "hangctx":
		if retried && isTimeout {
			return outRight, ""
		}
	case "cancel":
		if err == context.Canceled {
			return outRight, ""
		}
	}
	if collateral {
		return outCollateral, ""
	}
	return bad()
}

func sameAnswer(r1 farm.Result, e1 error, r2 farm.Result, e2 error) bool {
	return e1 == e2 && string(r1.Bytes()) == string(r2.Bytes())
}

// errKind names the kind of a call's answer, for the report: "result", or
// the error's types and what tells them apart.
func errKind(err error) string {
	if err == nil {
		return "result"
	}
	prefix := ""
	var mr *farm.MaxRetriesError
	if errors.As(err, &mr) {
		prefix, err = "*MaxRetriesError of ", mr.Last
	}
	var re *farm.RemoteError
	var we *farm.WorkerExitError
	var te *farm.TimeoutError
	kind := fmt.Sprintf("%T", err)
	switch {
	case errors.As(err, &re):
		kind = "*RemoteError " + re.Code.String()
		if re.Permanent {
			kind += " (ErrPermanent)"
		}
	case errors.Is(err, farm.ErrAgentLost):
		kind = "*WorkerExitError (ErrAgentLost)"
	case errors.As(err, &we) && we.Agent != "":
		kind = "*WorkerExitError (an agent's worker, " + we.Status.String() + ")"
	case errors.As(err, &we):
		kind = "*WorkerExitError (" + we.Status.String() + ")"
	case errors.As(err, &te):
		kind = "*TimeoutError"
	case err == context.Canceled:
		kind = "context.Canceled"
	}
	return prefix + kind
}
