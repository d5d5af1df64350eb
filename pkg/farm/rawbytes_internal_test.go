package farm

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// A []byte argument sent as it is reaches a parameter of any type, and a
// []byte result decodes into any type, exactly as through the serializer:
// the same calls give the same answers with raw byte slices off.
func TestRawBytesKeepSerializerSemantics(t *testing.T) {
	bin := testutil.MustBuild(t, testutil.Worker)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	payload := []byte("raw \x00\xff bytes")
	for _, ser := range []serializer.Serializer{serializer.JSON, serializer.CBOR} {
		farms := make([]*Farm, 2)
		for i := range farms {
			f, err := New(Config{Path: bin, Workers: 1, Serializer: ser, Logger: hclog.NewNullLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Kill()
			farms[i] = f
		}
		if !farms[0].rawBytes.Load() {
			t.Fatalf("%s: raw byte slices off", ser.Name())
		}
		farms[1].rawBytes.Store(false) // before any call: as without the feature
		for _, method := range []string{"echoBytes", "echoAny", "echoString", "size"} {
			var bs [2][]byte
			var as [2]any
			var errs [4]error
			var enc [2][]byte
			var callErrs [2]error
			for i, f := range farms {
				r, err := f.RunMethod(ctx, method, payload)
				callErrs[i] = err
				errs[2*i], errs[2*i+1] = r.Decode(&bs[i]), r.Decode(&as[i])
				enc[i] = r.Bytes()
			}
			if (callErrs[0] == nil) != (callErrs[1] == nil) {
				t.Errorf("%s %s: raw %v; encoded %v", ser.Name(), method, callErrs[0], callErrs[1])
				continue
			}
			if !bytes.Equal(bs[0], bs[1]) || !reflect.DeepEqual(as[0], as[1]) || !bytes.Equal(enc[0], enc[1]) ||
				(errs[0] == nil) != (errs[2] == nil) || (errs[1] == nil) != (errs[3] == nil) {
				t.Errorf("%s %s: raw %q %#v %s (%v %v); encoded %q %#v %s (%v %v)", ser.Name(), method,
					bs[0], as[0], enc[0], errs[0], errs[1], bs[1], as[1], enc[1], errs[2], errs[3])
			}
		}
	}
}
