package zmtp

import "strconv"

// quote renders peer-supplied text for an error message: control bytes and
// non-ASCII bytes are escaped, so nothing the peer sends can forge log lines
// or terminal escapes.
func quote(s string) string { return strconv.QuoteToASCII(s) }
