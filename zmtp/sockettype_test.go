package zmtp_test

import (
	"testing"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

// allSocketTypes lists every type of docs/wire-format.md#socket-types.
var allSocketTypes = []zmtp.SocketType{
	zmtp.REQ, zmtp.REP, zmtp.DEALER, zmtp.ROUTER, zmtp.PUB, zmtp.XPUB, zmtp.SUB, zmtp.XSUB,
	zmtp.PUSH, zmtp.PULL, zmtp.PAIR,
	zmtp.CLIENT, zmtp.SERVER, zmtp.RADIO, zmtp.DISH, zmtp.SCATTER, zmtp.GATHER, zmtp.PEER, zmtp.CHANNEL,
}

// compatibleWant is the matrix of docs/wire-format.md#socket-types, written out by hand
// from the document (not from the package's table).
var compatibleWant = map[string][]string{
	"REQ":     {"REP", "ROUTER"},
	"REP":     {"REQ", "DEALER"},
	"DEALER":  {"REP", "DEALER", "ROUTER"},
	"ROUTER":  {"REQ", "DEALER", "ROUTER"},
	"PUB":     {"SUB", "XSUB"},
	"XPUB":    {"SUB", "XSUB"},
	"SUB":     {"PUB", "XPUB"},
	"XSUB":    {"PUB", "XPUB"},
	"PUSH":    {"PULL"},
	"PULL":    {"PUSH"},
	"PAIR":    {"PAIR"},
	"CLIENT":  {"SERVER"},
	"SERVER":  {"CLIENT"},
	"RADIO":   {"DISH"},
	"DISH":    {"RADIO"},
	"SCATTER": {"GATHER"},
	"GATHER":  {"SCATTER"},
	"PEER":    {"PEER"},
	"CHANNEL": {"CHANNEL"},
}

func TestSocketTypeConstants(t *testing.T) {
	if len(allSocketTypes) != len(compatibleWant) {
		t.Fatalf("%d types, matrix has %d", len(allSocketTypes), len(compatibleWant))
	}
	for _, st := range allSocketTypes {
		if _, ok := compatibleWant[string(st)]; !ok {
			t.Errorf("constant %q is not a wire name", st)
		}
		if st.String() != string(st) {
			t.Errorf("String() = %q, want %q", st.String(), string(st))
		}
		if !st.Valid() {
			t.Errorf("%s.Valid() = false", st)
		}
	}
}

// TestSocketTypeCompatible checks every ordered pair, so both directions of
// every pair.
func TestSocketTypeCompatible(t *testing.T) {
	allowed := func(a, b string) bool {
		for _, p := range compatibleWant[a] {
			if p == b {
				return true
			}
		}
		return false
	}
	n := 0
	for _, a := range allSocketTypes {
		for _, b := range allSocketTypes {
			want := allowed(string(a), string(b))
			if got := a.Compatible(b); got != want {
				t.Errorf("%s.Compatible(%s) = %v, want %v", a, b, got, want)
			}
			// The matrix is symmetric.
			if a.Compatible(b) != b.Compatible(a) {
				t.Errorf("%s/%s: not symmetric", a, b)
			}
			if want {
				n++
			}
		}
	}
	if n != 29 {
		t.Errorf("%d compatible ordered pairs, want 29", n)
	}
}

func TestSocketTypeCaseAndUnknown(t *testing.T) {
	for _, st := range []zmtp.SocketType{"dealer", "Dealer", "DEALER ", " DEALER", "DEALER\x00", "", "DGRAM", "STREAM", "UNKNOWN"} {
		if st.Valid() {
			t.Errorf("%q.Valid() = true", st)
		}
		for _, other := range allSocketTypes {
			if st.Compatible(other) {
				t.Errorf("%q.Compatible(%s) = true", st, other)
			}
			if other.Compatible(st) {
				t.Errorf("%s.Compatible(%q) = true", other, st)
			}
		}
	}
	// Exact, case-sensitive comparison of the peer's value, as libzmq.
	if zmtp.DEALER.Compatible("router") || zmtp.REQ.Compatible("Rep") {
		t.Error("Compatible is case-insensitive")
	}
}

func TestSocketTypeSendsIdentity(t *testing.T) {
	for _, st := range allSocketTypes {
		want := st == zmtp.REQ || st == zmtp.DEALER || st == zmtp.ROUTER
		if got := st.SendsIdentity(); got != want {
			t.Errorf("%s.SendsIdentity() = %v, want %v", st, got, want)
		}
	}
}
