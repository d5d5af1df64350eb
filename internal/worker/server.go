package worker

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// server implements the Worker service inside a worker process.
type server struct {
	workerpb.UnimplementedWorkerServer
	methods map[string]*method
	names   []string
	sers    *serializer.Registry
	lim     wire.Limits
	// dataPlane, when set, is the socket data plane Describe advertises.
	dataPlane *dataPlaneListener
	// rawResults: the host reads byte-slice results as they are
	// (wire.EnvRawBytes).
	rawResults bool
	// shmSize is the size of the shared-memory arena the host may pass on
	// the data plane socket (wire.EnvSharedMemory); 0: the host passes none.
	shmSize int
	// idleSpin is how long the socket data plane's reader polls for the
	// next call after the last call ended (wire.EnvIdleSpin); 0: it does
	// not.
	idleSpin time.Duration
	// running counts the calls running, on every session; lastEnd is when
	// one last ended (a wire.Nanotime).
	running atomic.Int64
	lastEnd atomic.Int64
	// pre keeps the runtime able to preempt a call that computes.
	pre *preempter
	// stopping is the parent of every call's context, cancelled by
	// stopCalls when the worker stops.
	stopping  context.Context
	stopCalls context.CancelFunc
}

func newServer(methods Methods, sers *serializer.Registry, maxMessage int) (*server, error) {
	ms, err := compile(methods)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	sort.Strings(names)
	s := &server{methods: ms, names: names, sers: sers, lim: wire.NewLimits(maxMessage)}
	s.pre = newPreempter(s)
	s.stopping, s.stopCalls = context.WithCancel(context.Background())
	return s, nil
}

// stop cancels the context of every call and waits, up to wait, for the
// calls that heed it to return.
func (s *server) stop(wait time.Duration) {
	s.stopCalls()
	for deadline := time.Now().Add(wait); s.running.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

func (s *server) Describe(context.Context, *workerpb.DescribeRequest) (*workerpb.DescribeResponse, error) {
	r := &workerpb.DescribeResponse{
		ProtocolVersion: wire.ProtocolVersion,
		Serializers:     s.sers.Names(),
		Pid:             int64(os.Getpid()),
		Sdk:             wire.SDKName,
		Features:        []string{wire.FeatureRawBytes},
	}
	if d := s.dataPlane; d != nil && !d.claimed.Load() {
		r.DataPlane = "unix:" + d.path
		r.DataPlaneToken = d.token
		if wire.ShmSupported && s.shmSize > 0 {
			r.Features = append(r.Features, wire.FeatureSharedMemory)
		}
	}
	for _, n := range s.names {
		r.Methods = append(r.Methods, &workerpb.Method{Name: n, Signature: s.methods[n].signature})
	}
	return r, nil
}

func (s *server) Invoke(ctx context.Context, c *workerpb.Call) (*workerpb.Reply, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.stopping, cancel)()
	if c.TimeoutNanos > 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.TimeoutNanos))
		defer cancel()
	}
	s.running.Add(1)
	defer s.running.Add(-1)
	return s.run(ctx, c), nil
}

// run executes one call; it never fails as a transport: every failure is in
// the reply.
func (s *server) run(ctx context.Context, c *workerpb.Call) *workerpb.Reply {
	r := &workerpb.Reply{}
	s.runInto(ctx, c, s.methods[c.Method], r, nil, nil)
	return r
}

// runInto is run of c's method m (nil if unknown) into the empty reply r.
// A small result is appended to buf when the serializer can; it returns
// buf, grown if it had to, for the next call (r.Result may refer to it until
// r is written). arena is the connection's shared memory, nil without one:
// the arguments in c's block are copied out of it before the function
// runs, and a big raw result is copied into the block.
func (s *server) runInto(ctx context.Context, c *workerpb.Call, m *method, r *workerpb.Reply, buf, arena []byte) []byte {
	r.Id = c.Id
	if m == nil {
		r.Error = &workerpb.Error{
			Code:    workerpb.Error_UNKNOWN_METHOD,
			Type:    "method",
			Message: fmt.Sprintf("no method %q; the worker has: %s", c.Method, strings.Join(s.names, ", ")),
		}
		wire.BoundError(r.Error, s.lim.Payload)
		return buf
	}
	ser, err := s.sers.Lookup(c.Serializer)
	if err != nil {
		r.Error = &workerpb.Error{Code: workerpb.Error_UNKNOWN_SERIALIZER, Type: "serializer", Message: err.Error()}
		wire.BoundError(r.Error, s.lim.Payload)
		return buf
	}
	args, perr := wire.ShmArgs(arena, c, s.lim.Payload)
	if perr != nil {
		r.Error = perr
		wire.BoundError(r.Error, s.lim.Payload)
		return buf
	}
	result, appended, raw, perr := m.callInto(ctx, ser, callArgs{args: args, raw: c.RawArgs, rawResult: s.rawResults}, buf)
	if appended {
		buf = result
	}
	r.Result, r.Error, r.RawResult = result, perr, raw
	s.checkSize(r)
	if r.RawResult && r.Error == nil && c.ShmSize != 0 && wire.PutShmResult(arena, c, r.Result) {
		r.ShmResultLen, r.Result = uint64(len(r.Result)), nil
	}
	return buf
}

// checkSize replaces a result over the payload limit with a TOO_LARGE
// error, and bounds the texts and details of an error (see limits.go),
// making its strings valid UTF-8: protobuf refuses to marshal others, which
// would break the data plane.
func (s *server) checkSize(r *workerpb.Reply) {
	if len(r.Result) > s.lim.Payload {
		r.Error = wire.TooLarge(len(r.Result), s.lim.Payload)
		r.Result = nil
	}
	if r.Error != nil {
		wire.BoundError(r.Error, s.lim.Payload)
	}
}
