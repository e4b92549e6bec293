// Package hostile holds the hostile-peer suite: tests that attack a server
// built from this module's exported API (slowloris at every handshake step,
// floods, frame and metadata bombs, peers that stop reading, games with
// watched files, ZAP handlers that hang or panic) and assert, for each
// attack, a typed error, bounded memory, no goroutine left behind, and a
// legitimate client still served while the attack runs.
//
// The package has no exported API; it exists for its tests.
package hostile
