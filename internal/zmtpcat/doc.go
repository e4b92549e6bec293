// Package zmtpcat is the zmtpcat command (netcat for ZMTP) as a package:
// cmd/zmtpcat is a main that runs the zero [Program], and a command in a
// nested module may run a Program with a [Mechanism] of its own, as
// gssapi/cmd/zmtpcat does for GSSAPI, without the root module importing
// that module. Go's internal rule is by import path, so
// github.com/zmtpsec/zmtpsec/gssapi/... may import this package.
//
// What the command does, its flags and its exit status are documented in
// cmd/zmtpcat and in the help text (zmtpcat -h).
package zmtpcat
