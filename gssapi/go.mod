module github.com/zmtpsec/zmtpsec/gssapi

go 1.25.0

// The root module; the GSSAPI mechanism built on this module imports it.
require github.com/zmtpsec/zmtpsec v0.0.0

require (
	github.com/jcmturner/gofork v1.7.6
	github.com/jcmturner/gokrb5/v8 v8.4.4
	golang.org/x/crypto v0.55.0
)

require (
	github.com/hashicorp/go-uuid v1.0.3 // indirect
	github.com/jcmturner/aescts/v2 v2.0.0 // indirect
	github.com/jcmturner/dnsutils/v2 v2.0.0 // indirect
	github.com/jcmturner/rpc/v2 v2.0.3 // indirect
	github.com/tilinna/z85 v1.0.0 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace github.com/zmtpsec/zmtpsec => ../
