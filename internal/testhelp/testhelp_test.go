package testhelp

import (
	"bytes"
	"testing"
)

func TestWire(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
	}{
		{"", nil},
		{"00", []byte{0}},
		{"ff00 11", []byte{0xff, 0, 0x11}},
		{"FF\n\t0a\r\n", []byte{0xff, 0x0a}},
		{`05 "ERROR" 03 "400"`, []byte("\x05ERROR\x03400")},
		{`"a b"""`, []byte("a b")},
		{`"no blank before"00`, []byte("no blank before\x00")},
	}
	for _, tt := range tests {
		if got := Wire(tt.in); !bytes.Equal(got, tt.want) {
			t.Errorf("Wire(%q) = %x, want %x", tt.in, got, tt.want)
		}
	}
}

func TestWirePanics(t *testing.T) {
	for _, in := range []string{"0", "0g", "00 1", `"open`, "0 0"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Wire(%q) did not panic", in)
				}
			}()
			Wire(in)
		}()
	}
}

func TestCat(t *testing.T) {
	a, b := []byte("ab"), []byte("cd")
	got := Cat(a, nil, b)
	if string(got) != "abcd" {
		t.Fatalf("Cat = %q, want %q", got, "abcd")
	}
	got[0] = 'X'
	if a[0] != 'a' {
		t.Error("Cat shares memory with its first part")
	}
	if got := Cat(); len(got) != 0 {
		t.Errorf("Cat() = %q, want empty", got)
	}
}
