package wire

import (
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/grpc"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// Sizes on the data plane. One number is configured, the payload limit
// (LaunchConfig.MaxMessage on the host, EnvMaxMessage in the worker); every
// other bound derives from it:
//
//   - a frame (a socket frame or a gRPC message, Describe included) may hold
//     max(payload limit, maxBatchBytes) bytes of payload, since small items
//     share a message up to maxBatchBytes, plus frameEnvelope for what is
//     not payload: ids, method and serializer names, field tags, error
//     texts. Both sides check a frame's announced length against it before
//     allocating anything, and refuse a larger one with [ErrTooLarge],
//     ending the connection;
//   - a result, and an error's encoded details, may hold the payload limit;
//   - an error's type, message and stack hold at most maxErrorText bytes
//     each; longer ones are cut.
const (
	// DefaultMaxMessage is the payload limit of a side given none: the
	// farm's default MaxMessageSize.
	DefaultMaxMessage = 256 << 20
	// FrameEnvelope is a frame's allowance beyond its payload.
	FrameEnvelope = 1 << 20
	// MaxErrorText bounds each text of an error.
	MaxErrorText = 64 << 10
	// frameChunk is the most a reader allocates for a frame before its
	// bytes arrive; it grows the buffer as they do.
	frameChunk = 256 << 10
)

// Limits are the sizes one side of a connection accepts.
type Limits struct {
	Payload int // a result, an error's details
	Frame   int // a whole frame or gRPC message
}

// NewLimits derives the limits from the payload limit maxMessage; zero or
// less means defaultMaxMessage.
func NewLimits(maxMessage int) Limits {
	if maxMessage <= 0 {
		maxMessage = DefaultMaxMessage
	}
	frame := min(max(maxMessage, MaxBatchBytes), math.MaxInt32-FrameEnvelope) + FrameEnvelope
	return Limits{Payload: maxMessage, Frame: frame}
}

// ErrFrameTooLarge is the error of a frame of n bytes over limit.
func ErrFrameTooLarge(n uint64, limit int) error {
	return fmt.Errorf("%w: data plane frame of %d bytes exceeds the limit of %d bytes", ErrTooLarge, n, limit)
}

// GRPCDialOptions bound what the host's gRPC client sends and receives;
// they come after go-plugin's own, which allow 2 GiB, and win.
func GRPCDialOptions(maxMessage int) []grpc.DialOption {
	n := NewLimits(maxMessage).Frame
	return []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(n), grpc.MaxCallSendMsgSize(n))}
}

// GRPCServerOptions bound what a worker's gRPC server receives and sends.
func GRPCServerOptions(maxMessage int) []grpc.ServerOption {
	n := NewLimits(maxMessage).Frame
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(n), grpc.MaxSendMsgSize(n)}
}

// BoundError cuts e's texts to maxErrorText bytes each and makes them valid
// UTF-8 (protobuf refuses to marshal others), and drops details over the
// payload limit.
func BoundError(e *workerpb.Error, payload int) {
	e.Type, e.Message, e.Stack = BoundText(e.Type), BoundText(e.Message), BoundText(e.Stack)
	if len(e.Details) > payload {
		e.Details = nil
	}
}

// BoundText is s cut to maxErrorText bytes at a rune boundary, marked as
// cut, with its invalid bytes replaced by U+FFFD.
func BoundText(s string) string {
	if len(s) > MaxErrorText {
		const mark = "… (cut)"
		i := MaxErrorText - len(mark)
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + mark
	}
	return ValidUTF8(s)
}

// TooLarge is the failure of a result of n bytes over the payload limit.
func TooLarge(n, payload int) *workerpb.Error {
	return &workerpb.Error{
		Code:    workerpb.Error_TOO_LARGE,
		Type:    "result",
		Message: fmt.Sprintf("result of %d bytes exceeds the limit of %d bytes", n, payload),
	}
}
