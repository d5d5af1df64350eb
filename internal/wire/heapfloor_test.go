package wire

import "testing"

func TestParseHeapFloor(t *testing.T) {
	for v, want := range map[string]int64{
		"":              DefaultHeapFloor,
		"0":             0,
		"67108864":      64 << 20,
		"1099511627776": MaxHeapFloor,
	} {
		if got, err := ParseHeapFloor(v); err != nil || got != want {
			t.Errorf("ParseHeapFloor(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"-1", "lots", "64M", "1.5", "1099511627777"} {
		if got, err := ParseHeapFloor(v); err == nil {
			t.Errorf("ParseHeapFloor(%q) = %v; want an error", v, got)
		}
	}
}
