module github.com/zmtpsec/zmtpsec/conformance

go 1.25.0

require (
	github.com/pebbe/zmq4 v1.4.0
	github.com/zmtpsec/zmtpsec v0.0.0-00010101000000-000000000000
)

require (
	github.com/tilinna/z85 v1.0.0 // indirect
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace github.com/zmtpsec/zmtpsec => ../
