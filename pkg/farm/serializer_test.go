package farm_test

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil/fixturetypes"
	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// roundTrip sends v to the worker's echo method and decodes the answer into
// a new value of type T.
func roundTrip[T any](t *testing.T, f *farm.Farm, method string, v T) (T, error) {
	t.Helper()
	return farm.Call[T](ctx(t), f, method, v)
}

// TestSerializerRoundTrips checks, through real workers, the README's table
// of what each serializer keeps intact.
func TestSerializerRoundTrips(t *testing.T) {
	zone := time.FixedZone("X", 5*3600+30*60)
	when := time.Date(2026, 11, 27, 16, 30, 1, 123456789, zone)
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	nested := fixturetypes.Nested{
		Name: "ünïcode ✓", Tags: []string{"a", "b"}, Scores: map[string]float64{"x": 1.5},
		Child: &fixturetypes.Nested{Name: "child", When: when.UTC()}, When: when, Payload: []byte{0, 1, 255},
	}
	for _, s := range []serializer.Serializer{serializer.JSON, serializer.CBOR} {
		t.Run(s.Name(), func(t *testing.T) {
			f := newFarm(t, farm.Config{Workers: 1, Serializer: s})
			cbor := s == serializer.CBOR

			for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
				got, err := roundTrip(t, f, "echoFloat", v)
				if cbor {
					if err != nil || math.Float64bits(got) != math.Float64bits(v) {
						t.Errorf("%v: got %v, %v", v, got, err)
					}
				} else {
					var se *serializer.Error
					if !errors.As(err, &se) {
						t.Errorf("JSON %v: err = %v, want a serializer.Error", v, err)
					}
				}
			}
			if got, err := roundTrip(t, f, "echoFloat", math.Copysign(0, -1)); err != nil || !math.Signbit(got) {
				t.Errorf("-0: %v, %v", got, err)
			}
			if got, err := roundTrip(t, f, "echoFloat", math.MaxFloat64); err != nil || got != math.MaxFloat64 {
				t.Errorf("max float: %v, %v", got, err)
			}
			if got, err := roundTrip(t, f, "echoInt64", int64(math.MaxInt64)); err != nil || got != math.MaxInt64 {
				t.Errorf("int64 max: %v, %v", got, err)
			}
			if got, err := roundTrip(t, f, "echoUint64", uint64(math.MaxUint64)); err != nil || got != math.MaxUint64 {
				t.Errorf("uint64 max: %v, %v", got, err)
			}
			if got, err := roundTrip(t, f, "echoBig", huge); err != nil || got.Cmp(huge) != 0 {
				t.Errorf("big.Int: %v, %v", got, err)
			}
			for _, b := range [][]byte{nil, {}, {0, 1, 2, 255}} {
				got, err := roundTrip(t, f, "echoBytes", b)
				if err != nil || !bytes.Equal(got, b) || (b == nil) != (got == nil) {
					t.Errorf("bytes %v: %v, %v", b, got, err)
				}
			}
			if got, err := roundTrip(t, f, "echoTime", when); err != nil || !got.Equal(when) || got.Nanosecond() != 123456789 {
				t.Errorf("time: %v, %v", got, err)
			} else if _, off := got.Zone(); off != 5*3600+30*60 {
				t.Errorf("time offset %d", off)
			}
			m := map[int]string{1: "one", -2: "minus two"}
			if got, err := roundTrip(t, f, "echoMap", m); err != nil || !reflect.DeepEqual(got, m) {
				t.Errorf("map[int]string: %v, %v", got, err)
			}
			if got, err := roundTrip(t, f, "echoPtr", (*fixturetypes.Nested)(nil)); err != nil || got != nil {
				t.Errorf("nil pointer: %v, %v", got, err)
			}
			if got, err := roundTrip[any](t, f, "echoAny", nil); err != nil || got != nil {
				t.Errorf("nil: %v, %v", got, err)
			}
			got, err := roundTrip(t, f, "echoNested", nested)
			if err != nil || got.Name != nested.Name || !reflect.DeepEqual(got.Tags, nested.Tags) ||
				!reflect.DeepEqual(got.Scores, nested.Scores) || got.Child == nil || got.Child.Name != "child" ||
				!got.When.Equal(when) || !bytes.Equal(got.Payload, nested.Payload) {
				t.Errorf("nested: %+v, %v", got, err)
			}
		})
	}
}
