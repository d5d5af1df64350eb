package serializer

// Default returns the serializer used when none is named: [JSON].
func Default() Serializer { return JSON }
