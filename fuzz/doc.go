// Package fuzz holds black-box fuzz targets over zmtpsec's exported API:
// whole handshakes driven by arbitrary peer bytes, and message reads after
// a valid handshake. It has no exported API of its own; the targets live in
// fuzz_test.go and run with, for example,
//
//	go test ./fuzz -run='^$' -fuzz='^FuzzServerHandshake$' -fuzztime=10s
//
// The peer is an in-memory net.Conn whose Read serves the fuzz input and then
// io.EOF, and whose Write records what we send, so an iteration never blocks
// on the network and never waits for a timer.
//
// Seed corpora are in testdata/fuzz; "go test ./fuzz -run=TestSeedCorpus
// -update" rewrites the generated seed files from the seeds in fuzz_test.go.
//
// Targets for unexported parsers live beside them, in their own package's
// fuzz_test.go.
package fuzz
