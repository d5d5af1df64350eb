package serializer_test

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/workestrator/workestrator/pkg/serializer"
)

func ExampleCBOR() {
	type Reading struct {
		At     time.Time
		Value  float64
		Raw    []byte
		Counts map[int]string
		Total  *big.Int
	}
	total, _ := new(big.Int).SetString("340282366920938463463374607431768211456", 10) // 2^128
	in := Reading{
		At:     time.Date(2024, 3, 5, 13, 14, 15, 123456789, time.FixedZone("", 3600)),
		Value:  math.NaN(),
		Raw:    []byte{0xca, 0xfe},
		Counts: map[int]string{7: "seven"},
		Total:  total,
	}
	data, err := serializer.CBOR.Marshal(in)
	if err != nil {
		panic(err)
	}
	var out Reading
	if err := serializer.CBOR.Unmarshal(data, &out); err != nil {
		panic(err)
	}
	fmt.Println(out.At.Format(time.RFC3339Nano), out.At.Equal(in.At))
	fmt.Println(out.Value, out.Raw, out.Counts, out.Total)

	// Into any: integers become int64, maps map[any]any.
	var generic any
	data, _ = serializer.CBOR.Marshal([]any{1, "a", map[int]bool{2: true}})
	_ = serializer.CBOR.Unmarshal(data, &generic)
	fmt.Printf("%#v\n", generic)
	// Output:
	// 2024-03-05T13:14:15.123456789+01:00 true
	// NaN [202 254] map[7:seven] 340282366920938463463374607431768211456
	// []interface {}{1, "a", map[interface {}]interface {}{2:true}}
}

// upperJSON is a custom serializer: JSON with a different name.
type upperJSON struct{}

func (upperJSON) Name() string                       { return "upper-json" }
func (upperJSON) Marshal(v any) ([]byte, error)      { return serializer.JSON.Marshal(v) }
func (upperJSON) Unmarshal(data []byte, v any) error { return serializer.JSON.Unmarshal(data, v) }

func ExampleRegistry() {
	reg, err := serializer.NewRegistry(upperJSON{})
	if err != nil {
		panic(err)
	}
	fmt.Println(reg.Names())

	s, _ := reg.Lookup("") // the empty name means JSON
	fmt.Println(s.Name())

	_, err = reg.Lookup("xml")
	fmt.Println(err)
	fmt.Println(errors.Is(err, serializer.ErrUnknown))
	// Output:
	// [cbor json upper-json]
	// json
	// unknown serializer "xml" (known: cbor, json, upper-json)
	// true
}

func ExampleError() {
	_, err := serializer.JSON.Marshal(make(chan int))
	fmt.Println(err)

	var se *serializer.Error
	if errors.As(err, &se) {
		fmt.Println(se.Serializer, se.Op, se.Type)
	}
	// Output:
	// serializer json: cannot marshal chan int: json: unsupported type: chan int
	// json marshal chan int
}
