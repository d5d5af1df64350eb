package host

// SetAfterCheck makes fn run between the check of the executable and its
// exec, and returns what restores the previous hook.
func SetAfterCheck(fn func(path string)) (restore func()) {
	old := afterCheck
	afterCheck = fn
	return func() { afterCheck = old }
}
