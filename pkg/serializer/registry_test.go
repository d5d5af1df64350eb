package serializer_test

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/workestrator/workestrator/pkg/serializer"
)

// gobSerializer is a custom serializer built on encoding/gob.
type gobSerializer struct{ name string }

func (g gobSerializer) Name() string { return g.name }

func (g gobSerializer) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, &serializer.Error{Serializer: g.name, Op: serializer.OpMarshal, Type: fmt.Sprintf("%T", v), Err: err}
	}
	return buf.Bytes(), nil
}

func (g gobSerializer) Unmarshal(data []byte, v any) error {
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		return &serializer.Error{Serializer: g.name, Op: serializer.OpUnmarshal, Type: fmt.Sprintf("%T", v), Err: err}
	}
	return nil
}

func TestRegistryCustom(t *testing.T) {
	r, err := serializer.NewRegistry(gobSerializer{"gob"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Names(), []string{"cbor", "gob", "json"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
	s, err := r.Lookup("gob")
	if err != nil {
		t.Fatal(err)
	}
	in := node{Name: "a", Tags: []string{"x"}, Next: &node{Name: "b"}}
	data, err := s.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out node
	if err := s.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("gob round trip: got %+v, want %+v", out, in)
	}
	var se *serializer.Error
	if _, err := s.Marshal(make(chan int)); !errors.As(err, &se) || se.Serializer != "gob" {
		t.Fatalf("gob Marshal(chan) err = %v", err)
	}
}

func TestRegistryLookup(t *testing.T) {
	r, err := serializer.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]serializer.Serializer{
		"": serializer.JSON, "json": serializer.JSON, "cbor": serializer.CBOR,
	} {
		for _, reg := range []*serializer.Registry{r, nil, {}} {
			got, err := reg.Lookup(name)
			if err != nil || got != want {
				t.Errorf("Lookup(%q) = %v, %v; want %v", name, got, err, want.Name())
			}
		}
	}
	for _, reg := range []*serializer.Registry{r, nil, {}} {
		_, err := reg.Lookup("xml")
		if !errors.Is(err, serializer.ErrUnknown) {
			t.Fatalf("Lookup(xml) err = %v, want ErrUnknown", err)
		}
		if want := `unknown serializer "xml" (known: cbor, json)`; err.Error() != want {
			t.Errorf("Lookup(xml) err = %q, want %q", err, want)
		}
		if got := reg.Names(); !reflect.DeepEqual(got, []string{"cbor", "json"}) {
			t.Errorf("Names() = %q", got)
		}
	}
}

func TestRegistryNamesIsACopy(t *testing.T) {
	r, _ := serializer.NewRegistry()
	r.Names()[0] = "changed"
	if got := r.Names()[0]; got != "cbor" {
		t.Fatalf("Names()[0] = %q after the caller changed its copy", got)
	}
}

func TestNewRegistryInvalid(t *testing.T) {
	tests := []struct {
		extra []serializer.Serializer
		want  string
	}{
		{[]serializer.Serializer{nil}, "extra[0] is nil"},
		{[]serializer.Serializer{gobSerializer{""}}, "extra[0] (serializer_test.gobSerializer) has an empty name"},
		{[]serializer.Serializer{gobSerializer{"json"}}, `extra[0] (serializer_test.gobSerializer) has duplicate name "json"`},
		{[]serializer.Serializer{gobSerializer{"gob"}, gobSerializer{"gob"}}, `extra[1] (serializer_test.gobSerializer) has duplicate name "gob"`},
	}
	for _, tt := range tests {
		r, err := serializer.NewRegistry(tt.extra...)
		if r != nil || !errors.Is(err, serializer.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewRegistry(%v) = %v, %v; want ErrInvalid mentioning %q", tt.extra, r, err, tt.want)
		}
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r, err := serializer.NewRegistry(gobSerializer{"gob"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				for _, name := range r.Names() {
					s, err := r.Lookup(name)
					if err != nil {
						t.Error(err)
						return
					}
					data, err := s.Marshal(map[string]int{"a": 1})
					if err != nil {
						t.Error(err)
						return
					}
					var out map[string]int
					if err := s.Unmarshal(data, &out); err != nil || out["a"] != 1 {
						t.Error(out, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
