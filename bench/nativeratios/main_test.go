package main

import (
	"strings"
	"testing"
)

// TestReport: ratios are paired by repetition, a repetition missing one
// side is left out of its row, and the median of an even count is the mean
// of the middle two.
func TestReport(t *testing.T) {
	in := `# header
RESULT fig=thr rep=1 role=local_thr impl=zmtpsec layer=socket mech=null size=16 count=9 msgs_per_s=200 mbit_per_s=1
RESULT fig=thr rep=1 role=remote_thr impl=zmtpsec layer=socket mech=null size=16 count=9 msgs_per_s=999999 mbit_per_s=1
RESULT fig=thr rep=1 role=local_thr impl=libzmq mech=null size=16 count=9 msgs_per_s=100 mbit_per_s=1
RESULT fig=thr rep=2 role=local_thr impl=libzmq mech=null size=16 count=9 msgs_per_s=100 mbit_per_s=1
RESULT fig=thr rep=2 role=local_thr impl=zmtpsec layer=socket mech=null size=16 count=9 msgs_per_s=400 mbit_per_s=1
RESULT fig=thr rep=3 role=local_thr impl=libzmq mech=null size=16 count=9 msgs_per_s=100 mbit_per_s=1
FAIL fig=thr rep=3 impl=zmtpsec: local_thr exit 1
RESULT fig=thr rep=1 role=local_thr impl=gozmq mech=null size=16 count=9 msgs_per_s=10 mbit_per_s=1
RESULT fig=lat rep=1 role=remote_lat impl=zmtpsec layer=socket mech=curve size=64 count=9 p50_us=30 p90_us=1
RESULT fig=lat rep=1 role=remote_lat impl=libzmq mech=curve size=64 count=9 p50_us=100 p90_us=1
RESULT fig=conn rep=1 role=conn_cli impl=libzmq mech=curve size=16 count=9 clients=2 conns_per_s=500
RESULT fig=conn rep=1 role=conn_cli impl=zmtpsec layer=socket mech=curve size=16 count=9 clients=2 conns_per_s=1000
RESULT fig=box rep=1 role=box_thr impl=libsodium mech=curve size=1024 count=9 msgs_per_s=400000 mbit_per_s=1
RESULT fig=box rep=1 role=box_thr impl=zmtpsec mech=curve size=1024 count=9 msgs_per_s=200000 mbit_per_s=1
`
	var out strings.Builder
	if err := report(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"zmtpsec (layer=socket) / other implementation",
		"repetitions: 3",
		"| throughput NULL 16 B | higher | libzmq | 3.00 | 2.00 | 4.00 | 2.00 4.00 - | 300 msgs/s | 100 msgs/s |",
		"| throughput NULL 16 B | higher | gozmq | 20.0 | 20.0 | 20.0 | 20.0 - - |",
		"| round trip p50 CURVE 64 B | lower | libzmq | 0.300 | 0.300 | 0.300 | 0.300 - - | 30.0 us | 100 us |",
		"| connections/s CURVE, 2 clients | higher | libzmq | 2.00 |",
		"| CURVE crypto alone (seal+open) 1 KiB | higher | libsodium | 0.500 | 0.500 | 0.500 | 0.500 - - | 200 k msgs/s | 400 k msgs/s |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReportMalformed(t *testing.T) {
	err := report(strings.NewReader("RESULT fig=x rep=one role=local_thr impl=libzmq msgs_per_s=1\n"), &strings.Builder{})
	if err == nil {
		t.Error("a malformed line was accepted")
	}
}
