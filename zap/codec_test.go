package zap

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

func frames(s ...string) [][]byte {
	f := make([][]byte, len(s))
	for i, x := range s {
		f[i] = []byte(x)
	}
	return f
}

func TestParseRequest(t *testing.T) {
	key := strings.Repeat("k", 32)
	long := strings.Repeat("x", 256)
	max := strings.Repeat("x", 255)
	tests := []struct {
		name    string
		in      [][]byte
		want    *Request
		wantErr string // a substring of the error; "" for success
	}{
		{"NULL", frames("1.0", "1", "dom", "1.2.3.4", "id", "NULL"),
			&Request{Version: "1.0", RequestID: []byte("1"), Domain: "dom", Address: "1.2.3.4", Identity: []byte("id"), Mechanism: "NULL"}, ""},
		{"NULL, empty fields", frames("1.0", "", "", "", "", "NULL"),
			&Request{Version: "1.0", Mechanism: "NULL"}, ""},
		{"PLAIN", frames("1.0", "7", "", "::1", "", "PLAIN", "admin", "pw"),
			&Request{Version: "1.0", RequestID: []byte("7"), Address: "::1", Mechanism: "PLAIN", Credentials: frames("admin", "pw")}, ""},
		{"PLAIN, empty credentials", frames("1.0", "1", "", "", "", "PLAIN", "", ""),
			&Request{Version: "1.0", RequestID: []byte("1"), Mechanism: "PLAIN", Credentials: frames("", "")}, ""},
		{"PLAIN, 255-byte credentials", frames("1.0", "1", "", "", "", "PLAIN", max, max),
			&Request{Version: "1.0", RequestID: []byte("1"), Mechanism: "PLAIN", Credentials: frames(max, max)}, ""},
		{"CURVE", frames("1.0", "1", "", "", "", "CURVE", key),
			&Request{Version: "1.0", RequestID: []byte("1"), Mechanism: "CURVE", Credentials: frames(key)}, ""},
		{"GSSAPI", frames("1.0", "1", "", "", "", "GSSAPI", "principal"),
			&Request{Version: "1.0", RequestID: []byte("1"), Mechanism: "GSSAPI", Credentials: frames("principal")}, ""},
		{"255-byte fields", frames("1.0", max, max, max, max, "NULL"),
			&Request{Version: "1.0", RequestID: []byte(max), Domain: max, Address: max, Identity: []byte(max), Mechanism: "NULL"}, ""},

		{"no frames", nil, nil, "0 frames"},
		{"5 frames", frames("1.0", "1", "", "", ""), nil, "5 frames"},
		{"version 1.1", frames("1.1", "1", "", "", "", "NULL"), nil, `version "1.1"`},
		{"version empty", frames("", "1", "", "", "", "NULL"), nil, "version"},
		{"version 1.0 with NUL", frames("1.0\x00", "1", "", "", "", "NULL"), nil, "version"},
		{"request id too long", frames("1.0", long, "", "", "", "NULL"), nil, "request id of 256 bytes"},
		{"domain too long", frames("1.0", "1", long, "", "", "NULL"), nil, "domain of 256 bytes"},
		{"address too long", frames("1.0", "1", "", long, "", "NULL"), nil, "address of 256 bytes"},
		{"identity too long", frames("1.0", "1", "", "", long, "NULL"), nil, "identity of 256 bytes"},
		{"unknown mechanism", frames("1.0", "1", "", "", "", "FOO"), nil, `unknown mechanism "FOO"`},
		{"lower-case mechanism", frames("1.0", "1", "", "", "", "null"), nil, "unknown mechanism"},
		{"empty mechanism", frames("1.0", "1", "", "", "", ""), nil, "unknown mechanism"},
		{"NULL with a credential", frames("1.0", "1", "", "", "", "NULL", "x"), nil, "NULL request with 1 credential frames, want 0"},
		{"PLAIN with one", frames("1.0", "1", "", "", "", "PLAIN", "u"), nil, "want 2"},
		{"PLAIN with three", frames("1.0", "1", "", "", "", "PLAIN", "u", "p", "x"), nil, "want 2"},
		{"PLAIN username too long", frames("1.0", "1", "", "", "", "PLAIN", long, "p"), nil, "PLAIN credentials longer"},
		{"PLAIN password too long", frames("1.0", "1", "", "", "", "PLAIN", "u", long), nil, "PLAIN credentials longer"},
		{"CURVE with none", frames("1.0", "1", "", "", "", "CURVE"), nil, "want 1"},
		{"CURVE with two", frames("1.0", "1", "", "", "", "CURVE", key, key), nil, "want 1"},
		{"CURVE key of 31", frames("1.0", "1", "", "", "", "CURVE", key[:31]), nil, "CURVE key of 31 bytes"},
		{"CURVE key of 33", frames("1.0", "1", "", "", "", "CURVE", key+"k"), nil, "CURVE key of 33 bytes"},
		{"CURVE key of 0", frames("1.0", "1", "", "", "", "CURVE", ""), nil, "CURVE key of 0 bytes"},
		{"CURVE Z85 key", frames("1.0", "1", "", "", "", "CURVE", strings.Repeat("z", 40)), nil, "CURVE key of 40 bytes"},
		{"GSSAPI with none", frames("1.0", "1", "", "", "", "GSSAPI"), nil, "want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest(tt.in)
			if tt.wantErr != "" {
				var pe *ProtocolError
				if err == nil || !errors.Is(err, ErrMalformedRequest) || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRequest = %+v, %v; want a *ProtocolError wrapping ErrMalformedRequest containing %q", got, err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("a request came with the error: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Frames gives back the input.
			if diff := cmp.Diff(tt.in, got.Frames(), cmpEmpty); diff != "" {
				t.Errorf("Frames (-in +out):\n%s", diff)
			}
			// The result does not alias the input.
			for _, f := range tt.in {
				for i := range f {
					f[i] ^= 0xff
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
				t.Errorf("after changing the input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseReply(t *testing.T) {
	md := zmtp.Metadata{{Name: "X-Role", Value: []byte("reader")}, {Name: "name", Value: nil}}
	mdBytes := md.Append(nil)
	long := strings.Repeat("x", 256)
	max := strings.Repeat("x", 255)
	reply := func(code string, rest ...string) [][]byte {
		f := frames("1.0", "1", code, "OK", "user", "")
		for i, r := range rest {
			f[3+i] = []byte(r)
		}
		return f
	}
	tests := []struct {
		name    string
		in      [][]byte
		want    *Reply
		wantErr string
	}{
		{"200", reply("200"), &Reply{Version: "1.0", RequestID: []byte("1"), StatusCode: 200, StatusText: "OK", UserID: "user"}, ""},
		{"300", reply("300"), &Reply{Version: "1.0", RequestID: []byte("1"), StatusCode: 300, StatusText: "OK", UserID: "user"}, ""},
		{"400", reply("400", "No access", ""), &Reply{Version: "1.0", RequestID: []byte("1"), StatusCode: 400, StatusText: "No access"}, ""},
		{"500", reply("500"), &Reply{Version: "1.0", RequestID: []byte("1"), StatusCode: 500, StatusText: "OK", UserID: "user"}, ""},
		{"metadata", [][]byte{[]byte("1.0"), []byte("1"), []byte("200"), nil, nil, mdBytes},
			&Reply{Version: "1.0", RequestID: []byte("1"), StatusCode: 200, Metadata: md}, ""},
		{"empty fields", frames("1.0", "", "200", "", "", ""), &Reply{Version: "1.0", StatusCode: 200}, ""},
		{"255-byte fields", frames("1.0", max, "200", max, max, ""),
			&Reply{Version: "1.0", RequestID: []byte(max), StatusCode: 200, StatusText: max, UserID: max}, ""},

		{"201", reply("201"), nil, `status code "201"`},
		{"210", reply("210"), nil, `status code "210"`},
		{"600", reply("600"), nil, `status code "600"`},
		{"100", reply("100"), nil, `status code "100"`},
		{"000", reply("000"), nil, `status code "000"`},
		{"20", reply("20"), nil, `status code "20"`},
		{"2000", reply("2000"), nil, `status code "2000"`},
		{"0200", reply("0200"), nil, `status code "0200"`},
		{"empty status", reply(""), nil, `status code ""`},
		{"status with space", reply("200 "), nil, "status code"},
		{"status text", reply("OK"), nil, "status code"},
		{"5 frames", frames("1.0", "1", "200", "OK", "user"), nil, "5 frames, want 6"},
		{"7 frames", frames("1.0", "1", "200", "OK", "user", "", ""), nil, "7 frames, want 6"},
		{"0 frames", nil, nil, "0 frames"},
		{"version 2.0", frames("2.0", "1", "200", "OK", "", ""), nil, `version "2.0"`},
		{"empty version", frames("", "1", "200", "OK", "", ""), nil, "version"},
		{"request id too long", frames("1.0", long, "200", "OK", "", ""), nil, "request id of 256 bytes"},
		{"status text too long", frames("1.0", "1", "200", long, "", ""), nil, "status text of 256 bytes"},
		{"user id too long", frames("1.0", "1", "200", "OK", long, ""), nil, "user id of 256 bytes"},
		{"metadata truncated", [][]byte{[]byte("1.0"), []byte("1"), []byte("200"), nil, nil, mdBytes[:len(mdBytes)-1]}, nil, "metadata"},
		{"metadata one byte", [][]byte{[]byte("1.0"), []byte("1"), []byte("200"), nil, nil, {1}}, nil, "metadata"},
		{"metadata bad name", [][]byte{[]byte("1.0"), []byte("1"), []byte("200"), nil, nil, {1, '/', 0, 0, 0, 0}}, nil, "metadata"},
		{"metadata empty name", [][]byte{[]byte("1.0"), []byte("1"), []byte("200"), nil, nil, {0, 0, 0, 0, 0}}, nil, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReply(tt.in)
			if tt.wantErr != "" {
				var pe *ProtocolError
				if err == nil || !errors.Is(err, ErrMalformedReply) || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseReply = %+v, %v; want a *ProtocolError wrapping ErrMalformedReply containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReply: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.in, got.Frames(), cmpEmpty); diff != "" {
				t.Errorf("Frames (-in +out):\n%s", diff)
			}
			for _, f := range tt.in {
				for i := range f {
					f[i] ^= 0xff
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
				t.Errorf("after changing the input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProtocolErrorQuotesPeerText(t *testing.T) {
	_, err := ParseRequest(frames("1.0\n\x1b[31m", "1", "", "", "", "NULL"))
	if err == nil || strings.ContainsAny(err.Error(), "\n\x1b") {
		t.Errorf("control bytes escaped into the error: %q", err)
	}
	_, err = ParseReply(frames("1.0", "1", "2\n0", "", "", ""))
	if err == nil || strings.ContainsAny(err.Error(), "\n") {
		t.Errorf("control bytes escaped into the error: %q", err)
	}
	_, err = ParseRequest(frames("1.0", "1", "", "", "", "\r\nFOO"))
	if err == nil || strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("control bytes escaped into the error: %q", err)
	}
}

func TestReplyFramesEmptyVersion(t *testing.T) {
	f := (&Reply{StatusCode: StatusOK}).Frames()
	if string(f[0]) != Version || string(f[2]) != "200" || len(f) != 6 {
		t.Errorf("Frames = %q", f)
	}
}

func TestRequestFramesOrder(t *testing.T) {
	r := &Request{Version: "1.0", RequestID: []byte("r"), Domain: "d", Address: "a", Identity: []byte("i"), Mechanism: "PLAIN",
		Credentials: frames("u", "p")}
	want := frames("1.0", "r", "d", "a", "i", "PLAIN", "u", "p")
	if got := r.Frames(); !cmp.Equal(want, got) {
		t.Errorf("Frames = %q, want %q", got, want)
	}
}
