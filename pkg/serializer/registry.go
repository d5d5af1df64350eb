package serializer

import (
	"fmt"
	"slices"
	"strings"
)

// Registry is a set of serializers found by name. It always holds [JSON]
// and [CBOR]. A Registry is immutable once built, so it is safe for
// concurrent use. A nil or zero Registry holds only JSON and CBOR.
type Registry struct {
	byName map[string]Serializer
	names  []string // sorted
}

// builtins are the serializers every Registry holds.
func builtins() []Serializer { return []Serializer{JSON, CBOR} }

// NewRegistry returns a Registry holding [JSON], [CBOR] and extra. It
// returns an error wrapping [ErrInvalid] if a serializer in extra is nil,
// has an empty name, or has the name of a built-in or of an earlier extra.
func NewRegistry(extra ...Serializer) (*Registry, error) {
	all := append(builtins(), extra...)
	r := &Registry{byName: make(map[string]Serializer, len(all))}
	for i, s := range all {
		if s == nil {
			return nil, fmt.Errorf("%w: extra[%d] is nil", ErrInvalid, i-len(builtins()))
		}
		name := s.Name()
		if name == "" {
			return nil, fmt.Errorf("%w: extra[%d] (%T) has an empty name", ErrInvalid, i-len(builtins()), s)
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("%w: extra[%d] (%T) has duplicate name %q", ErrInvalid, i-len(builtins()), s, name)
		}
		r.byName[name] = s
		r.names = append(r.names, name)
	}
	slices.Sort(r.names)
	return r, nil
}

// Lookup returns the serializer called name; the empty name means [JSON].
// For an unknown name it returns an error wrapping [ErrUnknown] that names
// the serializer asked for and lists the known ones. Lookup does not block.
func (r *Registry) Lookup(name string) (Serializer, error) {
	if name == "" {
		return JSON, nil
	}
	if r == nil || r.byName == nil {
		for _, s := range builtins() {
			if s.Name() == name {
				return s, nil
			}
		}
	} else if s, ok := r.byName[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(r.Names(), ", "))
}

// Names returns the names of the serializers in r, sorted. The caller owns
// the returned slice.
func (r *Registry) Names() []string {
	if r == nil || r.byName == nil {
		names := []string{}
		for _, s := range builtins() {
			names = append(names, s.Name())
		}
		slices.Sort(names)
		return names
	}
	return slices.Clone(r.names)
}
