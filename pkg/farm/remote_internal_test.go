package farm

import (
	"errors"
	"math"
	"testing"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

func TestRemoteErrorIs(t *testing.T) {
	re := remoteError("m", &workerpb.Error{Code: workerpb.Error_UNKNOWN_METHOD, Message: "x"}, nil)
	if !errors.Is(re, ErrUnknownMethod) || errors.Is(re, ErrPanic) || re.Retryable() {
		t.Fatalf("%v", re)
	}
	re = remoteError("m", &workerpb.Error{Code: workerpb.Error_APPLICATION, Type: "T", Message: "x"}, nil)
	if !re.Retryable() || re.Error() != `method "m": T: x` {
		t.Fatalf("%v", re)
	}
}

// MaxMessageSizeLimit leaves a frame's envelope below 2 GiB.
func TestMaxMessageSizeLimit(t *testing.T) {
	if MaxMessageSizeLimit != math.MaxInt32-wire.FrameEnvelope {
		t.Fatalf("MaxMessageSizeLimit = %d, want %d", MaxMessageSizeLimit, math.MaxInt32-wire.FrameEnvelope)
	}
}
