package zap

import (
	"errors"
	"fmt"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

var (
	// ErrMalformedRequest is wrapped by every error ParseRequest returns.
	ErrMalformedRequest = errors.New("zap: malformed request")
	// ErrMalformedReply is wrapped by every error ParseReply returns.
	ErrMalformedReply = errors.New("zap: malformed reply")
)

// ProtocolError reports a ZAP message that breaks 27/ZAP. Detail quotes any
// text that came from the message.
type ProtocolError struct {
	Kind   error // ErrMalformedRequest or ErrMalformedReply
	Detail string
}

func (e *ProtocolError) Error() string { return e.Kind.Error() + ": " + e.Detail }

// Unwrap returns ErrMalformedRequest or ErrMalformedReply.
func (e *ProtocolError) Unwrap() error { return e.Kind }

func badRequest(format string, args ...any) error {
	return &ProtocolError{Kind: ErrMalformedRequest, Detail: fmt.Sprintf(format, args...)}
}

func badReply(format string, args ...any) error {
	return &ProtocolError{Kind: ErrMalformedReply, Detail: fmt.Sprintf(format, args...)}
}

// maxField is the longest a ZAP string field may be (27/ZAP).
const maxField = 255

// credentialCount is how many credential frames each mechanism sends.
var credentialCount = map[string]int{"NULL": 0, "PLAIN": 2, "CURVE": 1, "GSSAPI": 1}

// Frames returns the request as the frames a ZAP handler socket receives
// after the envelope (a REP socket sees exactly these; a ROUTER sees an
// identity and an empty delimiter before them): version, request id, domain,
// address, identity, mechanism, then the credentials.
func (r *Request) Frames() [][]byte {
	f := [][]byte{
		[]byte(r.Version), r.RequestID, []byte(r.Domain), []byte(r.Address),
		r.Identity, []byte(r.Mechanism),
	}
	return append(f, r.Credentials...)
}

// ParseRequest parses and validates the frames of a request (without any
// envelope): version "1.0", string fields of at most 255 bytes, and the
// number of credential frames the mechanism sends (NULL 0, PLAIN 2, CURVE 1
// of 32 bytes, GSSAPI 1). An unknown mechanism is an error. The result does
// not alias frames.
func ParseRequest(frames [][]byte) (*Request, error) {
	if len(frames) < 6 {
		return nil, badRequest("%d frames, want at least 6", len(frames))
	}
	if string(frames[0]) != Version {
		return nil, badRequest("version %q, want %q", frames[0], Version)
	}
	for i, name := range [...]string{"request id", "domain", "address", "identity", "mechanism"} {
		if len(frames[1+i]) > maxField {
			return nil, badRequest("%s of %d bytes, at most %d", name, len(frames[1+i]), maxField)
		}
	}
	mech := string(frames[5])
	want, ok := credentialCount[mech]
	if !ok {
		return nil, badRequest("unknown mechanism %q", mech)
	}
	creds := frames[6:]
	if len(creds) != want {
		return nil, badRequest("%s request with %d credential frames, want %d", mech, len(creds), want)
	}
	switch mech {
	case "PLAIN":
		if len(creds[0]) > maxField || len(creds[1]) > maxField {
			return nil, badRequest("PLAIN credentials longer than %d bytes", maxField)
		}
	case "CURVE":
		if len(creds[0]) != 32 {
			return nil, badRequest("CURVE key of %d bytes, want 32", len(creds[0]))
		}
	}
	r := &Request{
		Version:   Version,
		RequestID: clone(frames[1]),
		Domain:    string(frames[2]),
		Address:   string(frames[3]),
		Identity:  clone(frames[4]),
		Mechanism: mech,
	}
	for _, c := range creds {
		r.Credentials = append(r.Credentials, clone(c))
	}
	return r, nil
}

// Frames returns the reply as the 6 frames a ZAP handler sends after the
// envelope: version, request id, status code, status text, user id,
// metadata. An empty Version is sent as "1.0".
func (r *Reply) Frames() [][]byte {
	v := r.Version
	if v == "" {
		v = Version
	}
	return [][]byte{
		[]byte(v), r.RequestID, []byte(r.StatusCode.String()), []byte(r.StatusText),
		[]byte(r.UserID), r.Metadata.Append(nil),
	}
}

// ParseReply parses and validates the frames of a reply (without any
// envelope) as strictly as libzmq: exactly 6 frames, version "1.0", a status
// code of 200, 300, 400 or 500, text fields of at most 255 bytes and
// well-formed metadata. It does not check the request id; the caller
// compares it with the one it sent.
func ParseReply(frames [][]byte) (*Reply, error) {
	if len(frames) != 6 {
		return nil, badReply("%d frames, want 6", len(frames))
	}
	if string(frames[0]) != Version {
		return nil, badReply("version %q, want %q", frames[0], Version)
	}
	code := frames[2]
	if len(code) != 3 || code[1] != '0' || code[2] != '0' || code[0] < '2' || code[0] > '5' {
		return nil, badReply("status code %q", code)
	}
	for _, f := range [...]struct {
		i    int
		name string
	}{{1, "request id"}, {3, "status text"}, {4, "user id"}} {
		if len(frames[f.i]) > maxField {
			return nil, badReply("%s of %d bytes, at most %d", f.name, len(frames[f.i]), maxField)
		}
	}
	md, err := zmtp.ParseMetadata(frames[5])
	if err != nil {
		return nil, badReply("metadata: %v", err)
	}
	return &Reply{
		Version:    Version,
		RequestID:  clone(frames[1]),
		StatusCode: StatusCode(int(code[0]-'0') * 100),
		StatusText: string(frames[3]),
		UserID:     string(frames[4]),
		Metadata:   md,
	}, nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
