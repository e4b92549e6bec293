// Command boxperf is the Go twin of perf/boxperf.c: the CURVE message
// crypto alone, in one goroutine. It seals and opens -count payloads of
// -size bytes with internal/box (SealFlagged and OpenFlagged, what
// mechanism.Sealer and mechanism.Opener run for every CURVE MESSAGE) under
// one precomputed key, the nonce counting up, into reused buffers, and
// prints a RESULT line like boxperf.c's:
//
//	RESULT role=box_thr impl=zmtpsec mech=curve size=S count=N msgs_per_s=R mbit_per_s=M seconds=T
//
// run-native.sh runs both in the same run as the socket figures, so that
// the crypto's own speed ratio stands beside the CURVE throughput ratios it
// bounds.
package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/box"
)

func main() {
	size := flag.Int("size", 16, "payload bytes")
	count := flag.Int("count", 1000000, "seals and opens")
	flag.Parse()
	if *size < 0 || *count < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: boxperf [-size N] [-count N]")
		os.Exit(2)
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		fmt.Fprintln(os.Stderr, "boxperf:", err)
		os.Exit(1)
	}
	key, err := box.SharedWith(priv, priv.PublicKey())
	if err != nil {
		fmt.Fprintln(os.Stderr, "boxperf:", err)
		os.Exit(1)
	}
	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = 'x'
	}
	sealed := make([]byte, 0, *size+box.Overhead+1)
	opened := make([]byte, 0, *size)
	var nonce [24]byte
	copy(nonce[:], "CurveZMQMESSAGEC")
	t0 := time.Now()
	for i := 1; i <= *count; i++ {
		binary.BigEndian.PutUint64(nonce[16:], uint64(i))
		sealed = box.SealFlagged(sealed[:0], 0, payload, &nonce, &key)
		var ok bool
		if _, opened, ok = box.OpenFlagged(opened[:0], sealed, &nonce, &key); !ok {
			fmt.Fprintln(os.Stderr, "boxperf: open failed")
			os.Exit(1)
		}
	}
	el := time.Since(t0).Seconds()
	rate := float64(*count) / el
	fmt.Printf("RESULT role=box_thr impl=zmtpsec mech=curve size=%d count=%d msgs_per_s=%.0f mbit_per_s=%.1f seconds=%.3f\n",
		*size, *count, rate, rate*float64(*size)*8/1e6, el)
	fmt.Printf("box_thr: %d seals and opens of %d B in %.3f s: %.3f M/s (zmtpsec internal/box, %s)\n",
		*count, *size, el, rate/1e6, runtime.Version())
}
