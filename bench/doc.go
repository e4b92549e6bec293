// Package bench compares zmtpsec with libzmq 4.3.4 (through
// github.com/pebbe/zmq4) and, for NULL, with github.com/go-zeromq/zmq4, in
// one run, as sub-benchmarks of the same benchmark that differ only in the
// impl= key, so that benchstat shows each implementation against libzmq.
// It is a module of its own because it needs cgo and libzmq, which the root
// module never does.
//
// That is what a Go user of the cgo binding sees. libzmq's own speed, with
// no binding on the path, is measured by run-native.sh instead (make
// bench-native at the repository root): two processes per measurement,
// each side one of cmd/zmtpperf, perf/zmqperf.c (C, linked to libzmq,
// built by perf/build.sh into build/) or gozmqperf (go-zeromq/zmq4, NULL
// throughput only), every figure 5 times with the order of the
// implementations reversed every other time, and each ratio taken within
// one repetition; nativeratios makes the table. TestNativePeers runs every
// pair of those programs with tiny counts, so a broken setup fails go test.
//
// # What is measured
//
// Everything runs over TCP loopback on ephemeral ports, in one process.
// Sockets are set up, shaken hands with, and warmed up with one message of
// the measured size before the clock starts, and closed afterwards.
//
//   - BenchmarkThroughput/mech=/size=/impl=: b.N messages one way, PUSH to
//     PULL, sender and receiver of the same implementation; the clock stops
//     when the last message has arrived. ns/op is the time per message with
//     the pipeline full; B/s the payload rate. mech is null or curve, size
//     16, 1024 or 65536 bytes.
//   - BenchmarkRoundTrip/mech=/size=/impl=: latency, one REQ/REP round trip
//     per op at 16 and 1024 bytes. On the wire every message is an empty
//     delimiter frame and the payload, as libzmq's REQ and REP send it
//     (zmtpsec leaves envelopes to its caller, so the benchmark adds it).
//   - BenchmarkHandshake/mech=/impl=: one whole connection per op: a new
//     DEALER connects to a bound ROUTER, shakes hands, bounces one 16-byte
//     message and closes (libzmq with LINGER 0). libzmq shakes hands in its
//     I/O thread, so for every implementation the clock runs through that
//     first round trip. Also reported as handshakes/s.
//   - Mixed pairs, informative: impl=zmtpsec-client+libzmq-server and
//     impl=libzmq-client+zmtpsec-server in BenchmarkThroughput/mech=curve,
//     a zmtpsec PUSH to a libzmq PULL and the reverse.
//
// go-zeromq/zmq4 has no CURVE, so impl=gozmq4 appears in the mech=null
// rows only.
//
// Every benchmark calls b.ReportAllocs, and those of messages b.SetBytes
// (BenchmarkHandshake reports handshakes/s instead). allocs/op counts
// the whole process, both ends: zmtpsec's steady state allocates nothing,
// so anything but 0 there is a regression. libzmq's figures include
// pebbe/zmq4's cgo binding, which copies every received message into a new
// Go slice, and each cgo call (one per send, one per receive); ZeroMQ
// users in Go pay them too, but libzmq's own C programs would not.
// libzmq's client and server have a context (and an I/O thread) each, as
// two processes would.
//
// A tiny test per implementation, mechanism and pattern (TestStream,
// TestReqRep, TestHandshake) exchanges real messages over the same setups,
// so a broken benchmark setup fails `go test ./...` loudly and quickly.
//
// # How to run
//
// libzmq and a C compiler are needed (make deps at the repository root
// installs them). Then:
//
//	cd bench && go test -run='^$' -bench=. -count=10 | tee new.txt; benchstat new.txt
//
// benchstat is golang.org/x/perf/cmd/benchstat (go install
// golang.org/x/perf/cmd/benchstat@latest). The whole set takes about a
// minute per count at the default 1 s benchtime; -benchtime=200ms gives a
// quick look. go test's -count repeats each benchmark back to back, so on a
// busy machine a burst of load can hit one implementation's repeats and
// not another's. run.sh instead runs the whole set once per pass, passes in
// a row, so that the implementations of one row alternate in time, and
// saves the raw output and the tables in results/:
//
//	./run.sh 6 1s
//
// The run prints its setting first (nproc, go, libzmq, binding versions)
// as benchmark configuration lines, and the load average at the start.
//
// # How to read the ratios
//
// Put the implementations side by side:
//
//	benchstat -col /impl new.txt
//
// Each row is one benchmark (mechanism and size); the first column is the
// first implementation that ran, libzmq, and every other column says how
// it differs from libzmq: for sec/op, "+50%" means 1.5 times libzmq's time
// per op (slower), "-50%" half of it (twice as fast); for B/s the sign is
// the other way round. "~" means no significant difference at these
// samples. To compare only zmtpsec with libzmq:
//
//	benchstat -col '/impl@(libzmq zmtpsec)' new.txt
//
// Compare across commits the usual way, one file per commit:
// benchstat old.txt new.txt.
//
// Small-message throughput is bimodal for every implementation: while the
// receiver keeps up, each message wakes it (a netpoller or I/O-thread
// wake-up per message); once it falls behind, it drains many messages per
// read and the rate jumps. Which mode a run settles in depends on
// scheduling, so expect wide intervals there and compare medians over many
// passes.
//
// The absolute numbers depend on the machine; the ratios are the point,
// and they also move with the number of cores, since libzmq runs an I/O
// thread per context beside the application's threads while zmtpsec does
// its I/O in the calling goroutine.
package bench
