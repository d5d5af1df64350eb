package serializer_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/workestrator/workestrator/pkg/serializer"
)

type T struct{ C chan int }

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		s    serializer.Serializer
		err  func(serializer.Serializer) error
		want string
	}{
		{serializer.JSON, func(s serializer.Serializer) error { _, err := s.Marshal(make(chan int)); return err },
			"serializer json: cannot marshal chan int: json: unsupported type: chan int"},
		{serializer.JSON, func(s serializer.Serializer) error { _, err := s.Marshal(&T{}); return err },
			"serializer json: cannot marshal *serializer_test.T: json: unsupported type: chan int"},
		{serializer.JSON, func(s serializer.Serializer) error { var n int; return s.Unmarshal([]byte(`"x"`), &n) },
			"serializer json: cannot unmarshal into *int: json: cannot unmarshal string into Go value of type int"},
		{serializer.CBOR, func(s serializer.Serializer) error { return s.Unmarshal([]byte{0x01}, nil) },
			"serializer cbor: cannot unmarshal into <nil>: cbor: Unmarshal(nil)"},
	}
	for _, tt := range tests {
		err := tt.err(tt.s)
		if err == nil || err.Error() != tt.want {
			t.Errorf("err = %v\nwant  %s", err, tt.want)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	var n int
	err := serializer.JSON.Unmarshal([]byte(`"x"`), &n)
	var se *serializer.Error
	if !errors.As(err, &se) || se.Serializer != "json" || se.Op != serializer.OpUnmarshal || se.Type != "*int" {
		t.Fatalf("err = %#v", err)
	}
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Fatalf("cause %T is not reachable through errors.As", se.Err)
	}

	for _, s := range []serializer.Serializer{serializer.JSON, serializer.CBOR} {
		if err := s.Unmarshal([]byte{0xff, 0x00, 0x01}, &n); !errors.As(err, &se) || se.Op != serializer.OpUnmarshal {
			t.Errorf("%s: garbage input: err = %v, want a *serializer.Error", s.Name(), err)
		}
		if err := s.Unmarshal(nil, &n); !errors.As(err, &se) {
			t.Errorf("%s: empty input: err = %v, want a *serializer.Error", s.Name(), err)
		}
	}
	// Trailing bytes after the single data item are refused.
	if err := serializer.CBOR.Unmarshal([]byte{0x01, 0x02}, &n); !errors.As(err, &se) {
		t.Errorf("cbor: trailing data: err = %v, want a *serializer.Error", err)
	}
}

func TestDefault(t *testing.T) {
	if got := serializer.Default(); got != serializer.JSON {
		t.Fatalf("Default() = %v, want JSON", got)
	}
}
