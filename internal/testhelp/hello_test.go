package testhelp_test

import (
	"bytes"
	"testing"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// TestNullDealerHello: the hand-written bytes are what the codec writes.
func TestNullDealerHello(t *testing.T) {
	for _, id := range [][]byte{nil, []byte("me"), {0, 1, 2}, bytes.Repeat([]byte("x"), 255)} {
		want := zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"}.Append(nil)
		want = zmtp.AppendFrame(want, zmtp.FlagCommand, zmtp.AppendReady(nil, zmtp.Metadata{
			{Name: zmtp.PropSocketType, Value: []byte("DEALER")},
			{Name: zmtp.PropIdentity, Value: id},
		}))
		if got := testhelp.NullDealerHello(id); !bytes.Equal(got, want) {
			t.Errorf("identity %q:\n got %x\nwant %x", id, got, want)
		}
	}
}
