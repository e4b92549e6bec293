package zap

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// outcome is the part of a reply a decision test compares.
type outcome struct {
	Status   StatusCode
	Text     string
	UserID   string
	Metadata zmtp.Metadata
}

func ok(userID string) outcome { return outcome{Status: 200, Text: "OK", UserID: userID} }
func no(text string) outcome   { return outcome{Status: 400, Text: text} }

var internal = outcome{Status: 500, Text: "Internal error"}

// request builds a version 1.0 request with request id "1".
func request(mech, domain, addr string, creds ...[]byte) *Request {
	return &Request{
		Version:     Version,
		RequestID:   []byte("1"),
		Domain:      domain,
		Address:     addr,
		Mechanism:   mech,
		Credentials: creds,
	}
}

func plainReq(domain, addr, user, pw string) *Request {
	return request("PLAIN", domain, addr, []byte(user), []byte(pw))
}

func curveReq(domain, addr string, key cert.PublicKey) *Request {
	return request("CURVE", domain, addr, key[:])
}

// decide runs req through a and checks the reply's invariants, which hold
// for every reply: version "1.0", the request id echoed, a valid status, an
// empty user id and no metadata unless 200, and frames that ParseReply
// takes back unchanged.
func decide(t testing.TB, a *Authenticator, req *Request) outcome {
	t.Helper()
	rep, err := a.Authenticate(context.Background(), req)
	if err != nil {
		t.Errorf("Authenticate returned error %v", err)
	}
	checkReply(t, req, rep)
	if rep == nil {
		return outcome{}
	}
	return outcome{rep.StatusCode, rep.StatusText, rep.UserID, rep.Metadata}
}

func checkReply(t testing.TB, req *Request, rep *Reply) {
	t.Helper()
	if rep == nil {
		t.Error("Authenticate returned a nil reply")
		return
	}
	if rep.Version != Version {
		t.Errorf("reply version %q, want %q", rep.Version, Version)
	}
	if req != nil && !bytes.Equal(rep.RequestID, req.RequestID) {
		t.Errorf("reply request id %q, want %q", rep.RequestID, req.RequestID)
	}
	if !rep.StatusCode.Valid() {
		t.Errorf("reply status %d is not valid", rep.StatusCode)
	}
	if rep.StatusCode != StatusOK && (rep.UserID != "" || len(rep.Metadata) != 0) {
		t.Errorf("status %d with user id %q and metadata %v", rep.StatusCode, rep.UserID, rep.Metadata)
	}
	back, err := ParseReply(rep.Frames())
	if err != nil {
		t.Errorf("ParseReply(reply.Frames()): %v", err)
		return
	}
	if diff := cmp.Diff(rep, back, cmpEmpty); diff != "" {
		t.Errorf("reply does not survive Frames/ParseReply (-sent +parsed):\n%s", diff)
	}
}

// cmpEmpty makes nil and empty slices equal.
var cmpEmpty = cmp.Transformer("emptyNil", func(b []byte) string { return string(b) })

// certTime is the time written into test certificates, so that their size
// depends only on their content.
var certTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// saveCert writes a public certificate for kp called name into dir,
// replacing any file of that name.
func saveCert(t testing.TB, dir, name string, layout cert.Layout, kp cert.KeyPair, meta ...cert.MetadataEntry) {
	t.Helper()
	saveCertFile(t, dir, name, layout, &cert.Certificate{Public: kp.Public, Metadata: meta})
}

// saveCertPair is saveCert with the secret file too. pyzmq writes the
// metadata only there.
func saveCertPair(t testing.TB, dir, name string, layout cert.Layout, kp cert.KeyPair, meta ...cert.MetadataEntry) {
	t.Helper()
	saveCertFile(t, dir, name, layout, &cert.Certificate{Public: kp.Public, Secret: &kp.Secret, Metadata: meta})
}

func saveCertFile(t testing.TB, dir, name string, layout cert.Layout, c *cert.Certificate) {
	t.Helper()
	if _, _, err := c.Save(dir, name, layout, &cert.SaveOptions{Overwrite: true, Time: certTime}); err != nil {
		t.Fatal(err)
	}
}

// logBuffer is a concurrency-safe buffer for a slog text handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count returns how many log lines contain s.
func (b *logBuffer) count(s string) int {
	n := 0
	for line := range strings.Lines(b.String()) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// encodeFrames and decodeFrames turn a list of frames into one byte string
// for the fuzzers: each frame is a 2-byte big-endian length and the bytes.
// A trailing partial frame is dropped.
func encodeFrames(frames ...[]byte) []byte {
	var b []byte
	for _, f := range frames {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

func decodeFrames(b []byte) [][]byte {
	frames := [][]byte{}
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n > len(b) {
			break
		}
		frames = append(frames, b[:n])
		b = b[n:]
	}
	return frames
}

// newAuth returns a new Authenticator, closed when the test ends.
func newAuth(t testing.TB) *Authenticator {
	a := NewAuthenticator()
	t.Cleanup(func() { a.Close() })
	return a
}

// decideAfterReload is decide after a.Reload, whose error is not checked:
// the files may be broken on purpose.
func decideAfterReload(t testing.TB, a *Authenticator, req *Request) outcome {
	t.Helper()
	a.Reload()
	return decide(t, a, req)
}

// same reports whether two outcomes are equal, nil and empty slices alike.
func same(got, want outcome) bool { return cmp.Equal(got, want, cmpEmpty) }
