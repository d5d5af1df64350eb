package wire

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// ProtocolVersion is the version of the worker protocol: the go-plugin
// handshake's protocol version and DescribeResponse.protocol_version. A host
// refuses a worker that speaks another version.
const ProtocolVersion = 1

// PluginName is the name under which a worker serves the Worker service in
// go-plugin's plugin set.
const PluginName = "worker"

// SDKName identifies this worker SDK in Describe.
const SDKName = "workestrator-go/1"

// Handshake is the go-plugin handshake every worker and host share. A binary
// that is not a worker refuses to run when started by hand, and a host
// refuses a program that does not answer with it.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "WORKESTRATOR_WORKER",
	MagicCookieValue: "7d1c2b4e-workestrator-worker",
}

// Environment variables the host passes to a worker.
const (
	// EnvLifelineFD names the file descriptor of the lifeline pipe: the
	// worker exits when it reads EOF, that is when the host dies or stops it.
	EnvLifelineFD = "WORKESTRATOR_LIFELINE_FD"
	// EnvExeFD names the descriptor of the worker's own executable, which
	// the host opened, checked and ran (Checksum): the worker closes it
	// once it runs, so that its children do not inherit it.
	EnvExeFD = "WORKESTRATOR_EXE_FD"
	// EnvRawBytes set to "1" says the host reads raw byte-slice results
	// (workerpb.Reply.raw_result).
	EnvRawBytes = "WORKESTRATOR_RAW_BYTES"
	// EnvLogLevel is the hclog level of the worker's logger.
	EnvLogLevel = "WORKESTRATOR_WORKER_LOG_LEVEL"
	// EnvKillTimeout is the host's KillTimeout (a Go duration): a worker
	// whose host died exits that long after, even if its shutdown hooks hang.
	EnvKillTimeout = "WORKESTRATOR_KILL_TIMEOUT"
	// EnvMaxMessage is the largest payload in bytes the worker accepts or
	// returns.
	EnvMaxMessage = "WORKESTRATOR_MAX_MESSAGE"
	// EnvDataPlane set to [DataPlaneGRPC] makes the data plane use the gRPC
	// stream: a worker then offers no socket of its own, and a host (which
	// reads it from its own environment) does not use one.
	EnvDataPlane = "WORKESTRATOR_DATA_PLANE"
)

// EnvSocketDir is go-plugin's variable for the private directory in which a
// plugin makes its unix sockets (goplugin.EnvUnixSocketDir).
const EnvSocketDir = goplugin.EnvUnixSocketDir

// DataPlaneGRPC is the value of [EnvDataPlane] that forces the gRPC stream.
const DataPlaneGRPC = "grpc"

// GRPCPlugin is the go-plugin plugin for the Worker service: Impl is set
// in a worker, nil in a host.
type GRPCPlugin struct {
	goplugin.Plugin // net/rpc is not supported: nil
	// Impl implements the service in a worker process.
	Impl workerpb.WorkerServer
}

// GRPCServer registers the Worker service on a worker's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	workerpb.RegisterWorkerServer(s, p.Impl)
	return nil
}

// GRPCClient returns the host's client for the Worker service.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return workerpb.NewWorkerClient(c), nil
}

// PluginSet returns the go-plugin plugin set of a host.
func PluginSet() goplugin.PluginSet {
	return goplugin.PluginSet{PluginName: &GRPCPlugin{}}
}

// FeatureRawBytes is the Describe feature of a worker that takes raw
// byte-slice arguments (workerpb.Call.raw_args).
const FeatureRawBytes = "raw-bytes"

// DefaultMethod is the name of a worker's default method, the one a farm's
// Run calls: plugin.DefaultMethod and farm.DefaultMethod.
const DefaultMethod = "run"
