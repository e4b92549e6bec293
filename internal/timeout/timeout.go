// Package timeout finds a timeout in an error tree without allocating,
// for the read and write paths of zmtp and transport that check every
// error they see.
package timeout

// Of returns the first error in err's tree that has a Timeout method, as
// errors.As finds it for a target of that interface type, without the
// allocation that target's pointer costs on every call.
func Of(err error) (interface{ Timeout() bool }, bool) {
	for err != nil {
		if t, ok := err.(interface{ Timeout() bool }); ok {
			return t, true
		}
		if x, ok := err.(interface{ As(any) bool }); ok {
			var t interface{ Timeout() bool }
			if x.As(&t) {
				return t, true
			}
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if t, ok := Of(e); ok {
					return t, true
				}
			}
			return nil, false
		default:
			return nil, false
		}
	}
	return nil, false
}

// Is reports whether err's tree holds an error whose Timeout method says
// true (the first one with such a method decides, as errors.As would).
func Is(err error) bool {
	t, ok := Of(err)
	return ok && t.Timeout()
}
