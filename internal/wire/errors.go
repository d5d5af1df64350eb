package wire

import "errors"

// ErrTooLarge: a payload, a result or a frame exceeds the size limit; the
// farm exports it as farm.ErrTooLarge.
var ErrTooLarge = errors.New("payload too large")
