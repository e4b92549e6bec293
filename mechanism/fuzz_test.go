package mechanism

// Fuzz targets for the PLAIN and CURVE state machines and for the CURVE
// MESSAGE codec. Each one checks what the handshake does against a model of
// what it must do, not only that it does not panic:
//
//   - FuzzPlainServer and FuzzPlainClient predict the outcome of every
//     Handle call (the commands returned, the typed error, whether ZAP is
//     asked and with what) from the command and the state so far.
//   - FuzzCurveServer and FuzzCurveClient run against a fixed,
//     deterministic configuration (keys, Rand, metadata) for which a few
//     complete handshakes are known: recorded from libzmq 4.3.4
//     (testdata/curve-*.txt) or made by our own peer via pump. The fuzzer
//     cannot forge a box, so a command is accepted only if it is the
//     corresponding command of a known handshake, byte for byte except the
//     HELLO padding, which nothing authenticates; anything else fails with
//     the error the model names.
//   - FuzzOpener feeds MESSAGE bodies to the Opener of a finished
//     handshake, and FuzzSealOpenRoundTrip seals what the fuzzer chooses
//     and opens it again.
//
// Every handshake target also checks that failure is final (every later
// call returns the same error and no commands), that the commands returned
// are valid, that ERROR goes out only as "400"/"500" after a ZAP refusal,
// that error text is printable (peer text is quoted), and that a handshake keeps
// no view of a command's data: each command's bytes are overwritten once
// Handle returns, and what the Session reports is compared with the
// originals.
//
// The input of a handshake target is what the peer sends after the
// greeting: ZMTP frames (flags, size, body), whatever their flags, as the
// transport accepts handshake commands. A body that is not a command is
// skipped; a frame header that does not parse, or a body cut short, ends the
// input.
//
// Seeds are committed in testdata/fuzz/<Target>/seed-* in the "go test fuzz
// v1" format. TestFuzzSeedCorpus checks them, and
//
//	go test ./mechanism -run TestFuzzSeedCorpus -update-corpus
//
// rewrites them. Seeds taken from the libzmq transcripts exist only as
// files, and the CURVE handshake fixtures are built on the first call of the
// fuzz function, because readTranscript needs a *testing.T.

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/internal/testhelp/testkeys"
	"github.com/zmtpsec/zmtpsec/zap"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

var fuzzUpdateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora in testdata/fuzz")

// fuzzMaxCommands bounds the commands one input feeds a handshake.
const fuzzMaxCommands = 16

// Longer inputs are ignored. Each new input that finds coverage is
// minimized, which takes time quadratic in its length (Go tries removing
// every run of bytes); with no bound a minimization of a few kilobytes
// stalls a worker for up to -fuzzminimizetime. A complete PLAIN handshake
// with the fuzz credentials is under 100 bytes, a CURVE one under 600.
const (
	fuzzMaxPlainInput = 512
	fuzzMaxCurveInput = 1024
)

// fuzzCommands splits a fuzz input into commands (see the file comment).
// Every command's data is a private copy.
func fuzzCommands(data []byte) []zmtp.Command {
	var cmds []zmtp.Command
	for len(cmds) < fuzzMaxCommands {
		_, size, hdr, ok, err := zmtp.ParseFrameHeader(data)
		if err != nil || !ok || size > uint64(len(data)-hdr) {
			break
		}
		body := bytes.Clone(data[hdr : hdr+int(size)])
		data = data[hdr+int(size):]
		cmd, err := zmtp.ParseCommand(body)
		if err != nil {
			continue
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// fuzzFrames encodes commands as the command frames fuzzCommands reads.
func fuzzFrames(cmds ...zmtp.Command) []byte {
	var b []byte
	for _, c := range cmds {
		b = zmtp.AppendFrame(b, zmtp.FlagCommand, c.Append(nil))
	}
	return b
}

// fuzzCmd is a command with data given as a string, for seeds.
func fuzzCmd(name, data string) zmtp.Command { return zmtp.Command{Name: name, Data: []byte(data)} }

func cloneCommand(c zmtp.Command) zmtp.Command {
	return zmtp.Command{Name: c.Name, Data: bytes.Clone(c.Data)}
}

// scribble overwrites a command's data once Handle has returned, so that a
// handshake that kept a view of it is caught by the checks that follow.
func scribble(c zmtp.Command) {
	for i := range c.Data {
		c.Data[i] = 0xA5
	}
}

func sameCommand(a, b zmtp.Command) bool { return a.Name == b.Name && bytes.Equal(a.Data, b.Data) }

func sameCommands(a, b []zmtp.Command) bool { return slices.EqualFunc(a, b, sameCommand) }

// checkOut checks that every command a handshake returned can be sent.
func checkOut(t *testing.T, out []zmtp.Command) {
	t.Helper()
	for _, c := range out {
		if !zmtp.ValidCommandName(c.Name) {
			t.Fatalf("returned a command with the invalid name %q", c.Name)
		}
	}
}

// checkErrText checks that an error's text is valid UTF-8 made of printable
// characters only: peer text must be quoted, never copied raw.
func checkErrText(t *testing.T, err error) {
	t.Helper()
	s := err.Error()
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) >= 0 {
		t.Fatalf("error text holds raw bytes that are not printable: %q", s)
	}
}

// checkFailedCall checks a call made after the handshake failed with first:
// the same error again, no commands, not done.
func checkFailedCall(t *testing.T, h Handshake, first error, out []zmtp.Command, err error) {
	t.Helper()
	if err == nil || !errors.Is(err, first) {
		t.Fatalf("after failing with %v, a call returned %v", first, err)
	}
	if len(out) != 0 {
		t.Fatalf("after failing with %v, a call returned %d commands", first, len(out))
	}
	if h.Done() {
		t.Fatalf("done after failing with %v", first)
	}
}

// checkFinal checks, at the end of an input, that a failed handshake stays
// failed whatever it is asked next.
func checkFinal(t *testing.T, h Handshake, first error) {
	t.Helper()
	if first == nil {
		return
	}
	ctx := context.Background()
	out, err := h.Start(ctx)
	checkFailedCall(t, h, first, out, err)
	for _, c := range []zmtp.Command{{Name: zmtp.CmdReady}, {Name: zmtp.CmdHello}, {Name: zmtp.CmdError, Data: []byte("\x03400")}} {
		out, err := h.Handle(ctx, c)
		checkFailedCall(t, h, first, out, err)
	}
}

// wantUnexpected checks err is an *UnexpectedCommandError naming got and
// want.
func wantUnexpected(t *testing.T, err error, mech, got string, want ...string) {
	t.Helper()
	var ue *UnexpectedCommandError
	if !errors.As(err, &ue) || ue.Mechanism != mech || ue.Got != got || !slices.Equal(ue.Want, want) {
		t.Fatalf("%s: got %v; want an unexpected-command error naming %v", got, err, want)
	}
}

// wantPeerError checks the outcome of an ERROR command from the peer: a
// *PeerError with the reason, or a malformed-input error if the data is not
// a reason.
func wantPeerError(t *testing.T, err error, mech string, data []byte) {
	t.Helper()
	reason, perr := zmtp.ParseErrorReason(data)
	var pe *PeerError
	if perr != nil {
		if !errors.Is(err, zmtp.ErrMalformed) || errors.As(err, &pe) {
			t.Fatalf("ERROR %x: got %v; want a malformed-input error", data, err)
		}
		return
	}
	if !errors.As(err, &pe) || pe.Mechanism != mech || pe.Reason != reason {
		t.Fatalf("ERROR %q: got %v; want a PeerError with that reason", reason, err)
	}
}

// checkPeerErrorSource checks that a *PeerError comes only from an ERROR
// command.
func checkPeerErrorSource(t *testing.T, err error, cmd zmtp.Command) {
	t.Helper()
	var pe *PeerError
	if errors.As(err, &pe) && cmd.Name != zmtp.CmdError {
		t.Fatalf("a %s command gave a PeerError: %v", cmd.Name, err)
	}
}

// wantAuthError checks err is an *AuthError for status.
func wantAuthError(t *testing.T, err error, mech string, status zap.StatusCode) {
	t.Helper()
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Mechanism != mech || ae.Status != status {
		t.Fatalf("got %v; want an AuthError with status %d", err, status)
	}
	if status == zap.StatusInternalError && ae.Err == nil {
		t.Fatalf("a 500 from a failing handler carries no cause: %v", err)
	}
}

// wantRefusal checks the commands a server returns with a ZAP refusal:
// ERROR "400" or "500", exactly once, and nothing for 300.
func wantRefusal(t *testing.T, out []zmtp.Command, status zap.StatusCode) {
	t.Helper()
	var want []zmtp.Command
	if status != zap.StatusTemporaryFailure {
		want = []zmtp.Command{{Name: zmtp.CmdError, Data: append([]byte{3}, status.String()...)}}
	}
	if !sameCommands(out, want) {
		t.Fatalf("ZAP refused with %d; server returned %v, want %v", status, out, want)
	}
}

// fuzzLazy builds a fixture once per process, on the first call of a fuzz
// function, with that call's *testing.T.
type fuzzLazy[T any] struct {
	once sync.Once
	v    T
	ok   bool
}

func (l *fuzzLazy[T]) get(t *testing.T, build func(*testing.T) T) T {
	t.Helper()
	l.once.Do(func() {
		l.v = build(t)
		l.ok = true
	})
	if !l.ok {
		t.Fatal("building the fuzz fixture failed in an earlier call")
	}
	return l.v
}

// ---- PLAIN ----

var (
	fuzzServerMD = zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte("ROUTER")}, {Name: zmtp.PropIdentity, Value: []byte{}}}
	fuzzClientMD = zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte("DEALER")}, {Name: zmtp.PropIdentity, Value: []byte{}}}
)

// fuzzZAPCall is one request a fuzz ZAP handler answered.
type fuzzZAPCall struct {
	req    *zap.Request
	status zap.StatusCode
}

// plainFuzzStatus is the policy of the PLAIN fuzz handler: admin/secret is
// accepted; user "later" gets 300, user "boom" a handler failure (500), and
// everyone else 400.
func plainFuzzStatus(creds [][]byte) zap.StatusCode {
	switch {
	case len(creds) == 2 && string(creds[0]) == "admin" && string(creds[1]) == "secret":
		return zap.StatusOK
	case len(creds) == 2 && string(creds[0]) == "later":
		return zap.StatusTemporaryFailure
	case len(creds) == 2 && string(creds[0]) == "boom":
		return zap.StatusInternalError
	}
	return zap.StatusAuthenticationError
}

func plainFuzzHandler(calls *[]fuzzZAPCall) zap.Handler {
	return zap.HandlerFunc(func(ctx context.Context, r *zap.Request) (*zap.Reply, error) {
		s := plainFuzzStatus(r.Credentials)
		// A copy: the mechanism zeroes the password once the handler returns.
		*calls = append(*calls, fuzzZAPCall{req: cloneRequest(r), status: s})
		switch s {
		case zap.StatusOK:
			return &zap.Reply{StatusCode: s, UserID: "admin"}, nil
		case zap.StatusInternalError:
			return nil, errors.New("fuzz: handler failure")
		}
		return &zap.Reply{StatusCode: s, StatusText: "refused"}, nil
	})
}

// cloneRequest copies r deeply enough to outlive the handler call.
func cloneRequest(r *zap.Request) *zap.Request {
	c := *r
	c.Credentials = make([][]byte, len(r.Credentials))
	for i, b := range r.Credentials {
		c.Credentials[i] = bytes.Clone(b)
	}
	return &c
}

// routerPeerCheck is the CheckPeerMetadata of the fuzzed PLAIN server: a
// Socket-Type, if sent, must be one a ROUTER talks to.
func routerPeerCheck(md zmtp.Metadata) error {
	if v, ok := md.GetExact(zmtp.PropSocketType); ok && !zmtp.SocketType("ROUTER").Compatible(zmtp.SocketType(v)) {
		return fmt.Errorf("fuzz: socket type %q refused", v)
	}
	return nil
}

// checkZAPRequest checks a request the mechanism sent its handler.
func checkZAPRequest(t *testing.T, r *zap.Request, mech string, creds ...[]byte) {
	t.Helper()
	if r.Version != zap.Version || string(r.RequestID) != libzmqRequestID || r.Domain != "fuzz" ||
		r.Address != "192.0.2.1" || string(r.Identity) != "fuzz-id" || r.Mechanism != mech ||
		!slices.EqualFunc(r.Credentials, creds, bytes.Equal) {
		t.Fatalf("ZAP request %+v; want credentials %q", r, creds)
	}
}

// parsePlainHelloModel is the model's reading of a PLAIN HELLO (RFC 24):
// the password length must account for exactly the bytes that remain.
func parsePlainHelloModel(d []byte) (user, pass []byte, ok bool) {
	if len(d) < 1 || len(d) < 1+int(d[0])+1 {
		return nil, nil, false
	}
	user, rest := d[1:1+int(d[0])], d[1+int(d[0]):]
	if len(rest) != 1+int(rest[0]) {
		return nil, nil, false
	}
	return user, rest[1:], true
}

func plainServerSeeds() [][]byte {
	hello := func(user, pass string) zmtp.Command {
		return fuzzCmd(zmtp.CmdHello, string(rune(len(user)))+user+string(rune(len(pass)))+pass)
	}
	ok := hello("admin", "secret")
	initiate := zmtp.Command{Name: zmtp.CmdInitiate, Data: fuzzClientMD.Append(nil)}
	pub := zmtp.Command{Name: zmtp.CmdInitiate, Data: zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte("PUB")}}.Append(nil)}
	return [][]byte{
		fuzzFrames(ok, initiate),
		fuzzFrames(ok, initiate, fuzzCmd(zmtp.CmdReady, "")),
		fuzzFrames(hello("admin", "wrong"), initiate),
		fuzzFrames(hello("boom", "x"), initiate),
		fuzzFrames(hello("later", "x"), initiate),
		fuzzFrames(ok, pub),
		fuzzFrames(ok, fuzzCmd(zmtp.CmdInitiate, "\x05abc")),
		fuzzFrames(fuzzCmd(zmtp.CmdHello, "\x05admin\x07secret"), initiate),
		fuzzFrames(initiate, ok),
		fuzzFrames(ok, ok),
	}
}

// FuzzPlainServer drives a PLAIN server whose ZAP handler accepts only
// admin/secret with the commands of the input, and predicts every outcome.
func FuzzPlainServer(f *testing.F) {
	for _, s := range plainServerSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxPlainInput {
			return
		}
		ctx := context.Background()
		var calls []fuzzZAPCall
		h, err := PlainServer().NewHandshake(Params{
			Metadata: fuzzServerMD, CheckPeerMetadata: routerPeerCheck,
			ZAP: plainFuzzHandler(&calls), Domain: "fuzz", PeerAddress: "192.0.2.1", Identity: []byte("fuzz-id"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := h.Start(ctx); len(out) != 0 || err != nil {
			t.Fatalf("Start = %v, %v; the server waits for HELLO", out, err)
		}
		const (
			waitHello = iota
			waitInitiate
			done
		)
		state := waitHello
		var first error
		for _, cmd := range fuzzCommands(data) {
			orig := cloneCommand(cmd)
			n := len(calls)
			out, err := h.Handle(ctx, cmd)
			scribble(cmd)
			asked := calls[n:]
			checkOut(t, out)
			if first != nil {
				checkFailedCall(t, h, first, out, err)
				if len(asked) != 0 {
					t.Fatal("ZAP asked after the handshake failed")
				}
				continue
			}
			if err != nil {
				checkErrText(t, err)
				first = err
				if h.Done() {
					t.Fatalf("done with error %v", err)
				}
			}
			if len(asked) > 0 && (state != waitHello || len(asked) != 1) {
				t.Fatalf("ZAP asked %d times in state %d", len(asked), state)
			}
			switch state {
			case waitHello:
				if orig.Name != zmtp.CmdHello {
					wantUnexpected(t, err, PlainName, orig.Name, zmtp.CmdHello)
					break
				}
				user, pass, ok := parsePlainHelloModel(orig.Data)
				if !ok {
					if !errors.Is(err, zmtp.ErrMalformed) || len(asked) != 0 || len(out) != 0 {
						t.Fatalf("HELLO %x: %v, ZAP asked %d times, returned %v; want a malformed HELLO", orig.Data, err, len(asked), out)
					}
					break
				}
				if len(asked) != 1 {
					t.Fatalf("HELLO %x: ZAP asked %d times, want once", orig.Data, len(asked))
				}
				checkZAPRequest(t, asked[0].req, PlainName, user, pass)
				if s := asked[0].status; s != zap.StatusOK {
					wantAuthError(t, err, PlainName, s)
					wantRefusal(t, out, s)
					break
				}
				if err != nil || !sameCommands(out, []zmtp.Command{{Name: zmtp.CmdWelcome}}) {
					t.Fatalf("HELLO admin/secret: %v, %v; want an empty WELCOME", out, err)
				}
				state = waitInitiate
			case waitInitiate:
				if orig.Name != zmtp.CmdInitiate {
					wantUnexpected(t, err, PlainName, orig.Name, zmtp.CmdInitiate)
					break
				}
				md, perr := zmtp.ParseMetadata(orig.Data)
				if perr == nil {
					perr = routerPeerCheck(md)
				}
				var me *MetadataError
				if perr != nil {
					if !errors.As(err, &me) || errors.Is(perr, zmtp.ErrMalformed) != errors.Is(err, zmtp.ErrMalformed) || len(out) != 0 {
						t.Fatalf("INITIATE %x: %v, %v; want a metadata error like %v", orig.Data, out, err, perr)
					}
					break
				}
				ready := zmtp.Command{Name: zmtp.CmdReady, Data: fuzzServerMD.Append(nil)}
				if err != nil || !sameCommands(out, []zmtp.Command{ready}) {
					t.Fatalf("INITIATE %x: %v, %v; want READY", orig.Data, out, err)
				}
				state = done
				s := h.Session()
				if !bytes.Equal(s.PeerMetadata.Append(nil), orig.Data) || s.ZAP == nil || s.ZAP.UserID != "admin" || s.PeerPublicKey != nil || s.Sealer != nil || s.Opener != nil {
					t.Fatalf("Session %+v after INITIATE %x", s, orig.Data)
				}
			case done:
				wantUnexpected(t, err, PlainName, orig.Name)
			}
			if err == nil && h.Done() != (state == done) {
				t.Fatalf("Done = %v in state %d", h.Done(), state)
			}
		}
		checkFinal(t, h, first)
	})
}

func plainClientSeeds() [][]byte {
	welcome := fuzzCmd(zmtp.CmdWelcome, "")
	ready := zmtp.Command{Name: zmtp.CmdReady, Data: fuzzServerMD.Append(nil)}
	return [][]byte{
		fuzzFrames(welcome, ready),
		fuzzFrames(welcome, fuzzCmd(zmtp.CmdError, "\x03400")),
		append(fuzzFrames(welcome), zmtp.AppendFrame(nil, zmtp.FlagCommand, []byte("\x5eRROR\x03400"))...), // libzmq's PLAIN ERROR
		fuzzFrames(fuzzCmd(zmtp.CmdError, "\x03500")),
		fuzzFrames(fuzzCmd(zmtp.CmdWelcome, "x"), ready),
		fuzzFrames(ready, welcome),
		fuzzFrames(welcome, fuzzCmd(zmtp.CmdReady, "\x0bSocket-Type\x00\x00")),
		fuzzFrames(welcome, ready, fuzzCmd(zmtp.CmdPing, "\x00\x64")),
		fuzzFrames(fuzzCmd(zmtp.CmdError, "\x05400")),
	}
}

// FuzzPlainClient drives a PLAIN client (admin/secret) with the server
// commands of the input, and predicts every outcome.
func FuzzPlainClient(f *testing.F) {
	for _, s := range plainClientSeeds() {
		f.Add(s)
	}
	m, err := PlainClient("admin", "secret")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxPlainInput {
			return
		}
		ctx := context.Background()
		h, err := m.NewHandshake(Params{Metadata: fuzzClientMD})
		if err != nil {
			t.Fatal(err)
		}
		out, err := h.Start(ctx)
		if err != nil || !sameCommands(out, []zmtp.Command{fuzzCmd(zmtp.CmdHello, "\x05admin\x06secret")}) {
			t.Fatalf("Start = %v, %v; want HELLO admin/secret", out, err)
		}
		const (
			waitWelcome = iota
			waitReady
			done
		)
		state := waitWelcome
		var first error
		for _, cmd := range fuzzCommands(data) {
			orig := cloneCommand(cmd)
			out, err := h.Handle(ctx, cmd)
			scribble(cmd)
			checkOut(t, out)
			if first != nil {
				checkFailedCall(t, h, first, out, err)
				continue
			}
			if err != nil {
				checkErrText(t, err)
				checkPeerErrorSource(t, err, orig)
				first = err
				if len(out) != 0 || h.Done() {
					t.Fatalf("failed with %v but returned %v, done %v", err, out, h.Done())
				}
			}
			if orig.Name == zmtp.CmdError && state != done {
				wantPeerError(t, err, PlainName, orig.Data)
				continue
			}
			switch state {
			case waitWelcome:
				if orig.Name != zmtp.CmdWelcome {
					wantUnexpected(t, err, PlainName, orig.Name, zmtp.CmdWelcome, zmtp.CmdError)
					break
				}
				if len(orig.Data) != 0 {
					if !errors.Is(err, zmtp.ErrMalformed) {
						t.Fatalf("WELCOME with %d bytes of data: %v; want a malformed WELCOME", len(orig.Data), err)
					}
					break
				}
				if err != nil || !sameCommands(out, []zmtp.Command{{Name: zmtp.CmdInitiate, Data: fuzzClientMD.Append(nil)}}) {
					t.Fatalf("WELCOME: %v, %v; want INITIATE", out, err)
				}
				state = waitReady
			case waitReady:
				if orig.Name != zmtp.CmdReady {
					wantUnexpected(t, err, PlainName, orig.Name, zmtp.CmdReady, zmtp.CmdError)
					break
				}
				if _, perr := zmtp.ParseMetadata(orig.Data); perr != nil {
					var me *MetadataError
					if !errors.As(err, &me) || !errors.Is(err, zmtp.ErrMalformed) {
						t.Fatalf("READY %x: %v; want a metadata error", orig.Data, err)
					}
					break
				}
				if err != nil || len(out) != 0 {
					t.Fatalf("READY %x: %v, %v; want done", orig.Data, out, err)
				}
				state = done
				s := h.Session()
				if !bytes.Equal(s.PeerMetadata.Append(nil), orig.Data) || s.ZAP != nil || s.PeerPublicKey != nil || s.Sealer != nil || s.Opener != nil {
					t.Fatalf("Session %+v after READY %x", s, orig.Data)
				}
			case done:
				wantUnexpected(t, err, PlainName, orig.Name)
			}
			if err == nil && h.Done() != (state == done) {
				t.Fatalf("Done = %v in state %d", h.Done(), state)
			}
		}
		checkFinal(t, h, first)
	})
}

// ---- CURVE handshakes ----

// curveCase is one complete handshake known to succeed, or to be refused by
// ZAP, against the fuzzed side's fixed configuration. Commands are seen from
// the fuzzed side: in is what the peer sent, out what we answered each one
// with.
type curveCase struct {
	name    string
	in      []zmtp.Command
	out     [][]zmtp.Command
	input   []byte // the peer's commands as a fuzz input
	refused bool   // the server refuses the client: ZAP 400, ERROR "400"

	// What the finished handshake's Session holds.
	peerKey cert.PublicKey
	userID  string // the server's ZAP user id; "" on the client
	peerMD  []byte // the peer's metadata, encoded
	// peerNonce is the last short nonce the peer used in the handshake
	// (INITIATE's, READY's): the Opener must refuse it and any below.
	peerNonce uint64
	// probe is a MESSAGE the peer sealed after the handshake; reply is the
	// first MESSAGE our side seals.
	probe, reply sealedSeed
}

// sealedSeed is a MESSAGE body and what it carries.
type sealedSeed struct {
	body    []byte
	flags   byte
	payload []byte
}

// recordingHandshake records what a Handshake was given and returned, so
// that pump can make the known handshakes.
type recordingHandshake struct {
	Handshake
	in  []zmtp.Command
	out [][]zmtp.Command
}

func cloneCommands(cmds []zmtp.Command) []zmtp.Command {
	var out []zmtp.Command
	for _, c := range cmds {
		out = append(out, cloneCommand(c))
	}
	return out
}

func (r *recordingHandshake) Handle(ctx context.Context, cmd zmtp.Command) ([]zmtp.Command, error) {
	r.in = append(r.in, cloneCommand(cmd))
	out, err := r.Handshake.Handle(ctx, cmd)
	r.out = append(r.out, cloneCommands(out))
	return out, err
}

// fuzzSeed is a fixed ChaCha8 seed for a fuzz fixture's Rand.
func fuzzSeed(name string) [32]byte { return sha256.Sum256([]byte("zmtpsec mechanism fuzz " + name)) }

// fuzzRefusedKeyPair is a third client key pair, which the fuzzed CURVE
// server's ZAP handler refuses.
func fuzzRefusedKeyPair(tb testing.TB) cert.KeyPair {
	tb.Helper()
	sec, err := cert.ParseSecretKey(fuzzerClientSecret)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := sec.PublicKey()
	if err != nil {
		tb.Fatal(err)
	}
	return cert.KeyPair{Public: pub, Secret: sec}
}

// curveFuzzHandler accepts every client key but refused, with the key's Z85
// text as user id.
func curveFuzzHandler(refused cert.PublicKey, calls *[]fuzzZAPCall) zap.Handler {
	return zap.HandlerFunc(func(ctx context.Context, r *zap.Request) (*zap.Reply, error) {
		s := zap.StatusOK
		if len(r.Credentials) != 1 || len(r.Credentials[0]) != keyLen || bytes.Equal(r.Credentials[0], refused[:]) {
			s = zap.StatusAuthenticationError
		}
		*calls = append(*calls, fuzzZAPCall{req: r, status: s})
		if s != zap.StatusOK {
			return &zap.Reply{StatusCode: s, StatusText: "Unknown key"}, nil
		}
		return &zap.Reply{StatusCode: s, UserID: cert.PublicKey(r.Credentials[0]).String()}, nil
	})
}

func commandOf(tb testing.TB, body []byte) zmtp.Command {
	tb.Helper()
	c, err := zmtp.ParseCommand(bytes.Clone(body))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// wantCurveError checks that err is a *CurveError about command wrapping
// one of causes.
func wantCurveError(t *testing.T, err error, command string, causes ...error) {
	t.Helper()
	var ce *CurveError
	if !errors.As(err, &ce) || ce.Command != command || !slices.ContainsFunc(causes, func(c error) bool { return errors.Is(err, c) }) {
		t.Fatalf("%s: got %v; want a CURVE %s error wrapping one of %v", command, err, command, causes)
	}
}

// checkCurveSession checks the Session of a handshake that finished known
// handshake c.
func checkCurveSession(t *testing.T, s Session, c *curveCase) {
	t.Helper()
	if s.PeerPublicKey == nil || *s.PeerPublicKey != c.peerKey || s.Sealer == nil || s.Opener == nil {
		t.Fatalf("%s: Session %+v, want peer key %v and a Sealer and Opener", c.name, s, c.peerKey)
	}
	if !bytes.Equal(s.PeerMetadata.Append(nil), c.peerMD) {
		t.Fatalf("%s: peer metadata %q, want %x", c.name, s.PeerMetadata, c.peerMD)
	}
	if (c.userID == "") != (s.ZAP == nil) || s.ZAP != nil && s.ZAP.UserID != c.userID {
		t.Fatalf("%s: Session.ZAP %+v, want user id %q", c.name, s.ZAP, c.userID)
	}
	// A MESSAGE under the peer's last handshake nonce is a replay. It is
	// sealed here with the Session's own key, as only the peer could.
	o := *curveOpener(s)
	replay := Sealer{key: o.key, prefix: o.prefix, next: c.peerNonce}
	body, err := replay.Seal(nil, 0, []byte("replay"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Open(nil, body); !errors.Is(err, ErrNonceReplay) {
		t.Fatalf("%s: a MESSAGE with the peer's handshake nonce %d: %v; want ErrNonceReplay", c.name, c.peerNonce, err)
	}
	flags, p, err := s.Opener.Open(nil, c.probe.body)
	if err != nil || flags != c.probe.flags || !bytes.Equal(p, c.probe.payload) {
		t.Fatalf("%s: opening the peer's MESSAGE: %#x %q %v", c.name, flags, p, err)
	}
	body, err = s.Sealer.Seal(nil, c.reply.flags, c.reply.payload)
	if err != nil || !bytes.Equal(body, c.reply.body) {
		t.Fatalf("%s: our first MESSAGE is %x (%v), want %x", c.name, body, err, c.reply.body)
	}
}

// curveServerFixture is the fuzzed CURVE server's configuration: that of
// the libzmq client transcript, so that libzmq's recorded HELLO and INITIATE
// make a complete handshake, and a ZAP handler refusing one key.
type curveServerFixture struct {
	mech    Mechanism
	seed    [32]byte
	md      zmtp.Metadata
	refused cert.PublicKey
	priv    *ecdh.PrivateKey // the server's secret key, for the low-order model
	cases   []*curveCase
}

func (fx *curveServerFixture) newHandshake(tb testing.TB, calls *[]fuzzZAPCall) Handshake {
	tb.Helper()
	h, err := fx.mech.NewHandshake(Params{
		Metadata: fx.md, ZAP: curveFuzzHandler(fx.refused, calls),
		Domain: "fuzz", PeerAddress: "192.0.2.1", Identity: []byte("fuzz-id"),
		Rand: rand.NewChaCha8(fx.seed),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

var curveServerFix fuzzLazy[*curveServerFixture]

func buildCurveServerFixture(t *testing.T) *curveServerFixture {
	t.Helper()
	tr := readTranscript(t, filepath.Join("testdata", "curve-server-router-libzmq-dealer.txt"))
	m, err := CurveServer(tr.server)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(tr.server.Secret.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	refused := fuzzRefusedKeyPair(t)
	fx := &curveServerFixture{mech: m, seed: tr.seed, md: tr.metadata, refused: refused.Public, priv: priv}

	// libzmq's client, as recorded; our server's answers are checked
	// against the recording below.
	c, s := tr.frames['C'], tr.frames['S']
	fx.cases = append(fx.cases, &curveCase{
		name:    "libzmq",
		in:      []zmtp.Command{commandOf(t, c[0].body), commandOf(t, c[1].body)},
		out:     [][]zmtp.Command{{commandOf(t, s[0].body)}, {commandOf(t, s[1].body)}},
		input:   slices.Concat(c[0].raw, c[1].raw),
		peerKey: tr.client.Public,
		probe:   sealedSeed{c[2].body, c[2].plain.flags, c[2].plain.payload},
		reply:   sealedSeed{s[2].body, s[2].plain.flags, s[2].plain.payload},
	})
	// Our own client, accepted and refused, each with its own transient
	// key, against a server of this configuration.
	for _, k := range []struct {
		name    string
		client  cert.KeyPair
		refused bool
	}{{"ours", tr.client, false}, {"refused", refused, true}} {
		cm, err := CurveClient(tr.server.Public, k.client)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := cm.NewHandshake(Params{Metadata: fuzzClientMD, Rand: rand.NewChaCha8(fuzzSeed("server fixture client " + k.name))})
		if err != nil {
			t.Fatal(err)
		}
		var calls []fuzzZAPCall
		rc, rs := &recordingHandshake{Handshake: ch}, &recordingHandshake{Handshake: fx.newHandshake(t, &calls)}
		cerr, serr := pump(t, rc, rs)
		if k.refused != (serr != nil) || k.refused != (cerr != nil) || len(rs.in) != 2 {
			t.Fatalf("%s: client %v, server %v, %d commands", k.name, cerr, serr, len(rs.in))
		}
		cc := &curveCase{name: k.name, in: rs.in, out: rs.out, input: fuzzFrames(rs.in...), refused: k.refused, peerKey: k.client.Public}
		if !k.refused {
			body, err := ch.Session().Sealer.Seal(nil, MessageMore, []byte("probe"))
			if err != nil {
				t.Fatal(err)
			}
			cc.probe = sealedSeed{body, MessageMore, []byte("probe")}
			cc.reply = sealedSeed{nil, 0, []byte("reply")}
		}
		fx.cases = append(fx.cases, cc)
	}

	// Replay every case against a fresh server: the same answers, and the
	// expected Session.
	ctx := context.Background()
	for _, c := range fx.cases {
		var calls []fuzzZAPCall
		h := fx.newHandshake(t, &calls)
		if _, err := h.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for i, cmd := range c.in {
			out, err := h.Handle(ctx, cloneCommand(cmd))
			if last := i == len(c.in)-1; err != nil && !(last && c.refused) || err == nil && last && c.refused {
				t.Fatalf("%s: %s: %v", c.name, cmd.Name, err)
			}
			if !sameCommands(out, c.out[i]) {
				t.Fatalf("%s: %s: answered %v, want %v", c.name, cmd.Name, out, c.out[i])
			}
		}
		if c.refused {
			continue
		}
		s := h.Session()
		if !h.Done() || s.ZAP == nil {
			t.Fatalf("%s: not done", c.name)
		}
		c.userID = s.ZAP.UserID
		c.peerMD = s.PeerMetadata.Append(nil)
		c.peerNonce = binary.BigEndian.Uint64(c.in[1].Data[cookieLen:])
		if c.name == "ours" && !bytes.Equal(c.peerMD, fuzzClientMD.Append(nil)) {
			t.Fatalf("%s: peer metadata %q", c.name, s.PeerMetadata)
		}
		if c.reply.body == nil {
			if c.reply.body, err = s.Sealer.Seal(nil, c.reply.flags, c.reply.payload); err != nil {
				t.Fatal(err)
			}
		}
	}
	return fx
}

// helloMatch reports whether two HELLO data are the same but for the
// padding, which nothing authenticates.
func helloMatch(a, b []byte) bool {
	const pad = 2 + helloPaddingLen
	return len(a) == helloDataLen && len(b) == helloDataLen && bytes.Equal(a[:2], b[:2]) && bytes.Equal(a[pad:], b[pad:])
}

// lowOrder reports whether key is a low-order X25519 point.
func lowOrder(priv *ecdh.PrivateKey, key []byte) bool {
	pub, err := ecdh.X25519().NewPublicKey(key)
	if err != nil {
		return true
	}
	_, err = priv.ECDH(pub)
	return err != nil
}

func curveServerSeeds(fx *curveServerFixture) [][]byte {
	var libzmq, ours *curveCase
	var seeds [][]byte
	for _, c := range fx.cases {
		seeds = append(seeds, c.input)
		switch c.name {
		case "libzmq":
			libzmq = c
		case "ours":
			ours = c
		}
	}
	padded := cloneCommand(libzmq.in[0])
	padded.Data[2+17] = 0xAA // padding: still a complete handshake
	badCookie := cloneCommand(ours.in[1])
	badCookie.Data[20] ^= 0x01
	short := zmtp.Command{Name: zmtp.CmdInitiate, Data: ours.in[1].Data[:initiateMinDataLen-1]}
	return append(seeds,
		fuzzFrames(ours.in[0], short),
		fuzzFrames(padded, libzmq.in[1]),
		fuzzFrames(append(slices.Clone(ours.in), ours.in[0])...),
		fuzzFrames(ours.in[1], ours.in[0]),
		fuzzFrames(ours.in[0], badCookie),
		fuzzFrames(libzmq.in[0], ours.in[1]),
		fuzzFrames(ours.in[0]),
	)
}

// FuzzCurveServer drives a CURVE server with the client commands of the
// input. Only the HELLO and INITIATE of a known handshake can get it
// anywhere: a HELLO is accepted only if it is a known one (its padding
// aside), an INITIATE only if it is the known one that goes with it, ZAP is
// asked only then, and ERROR goes out only as ZAP's "400" for the refused
// key. Every other command fails with the error the model predicts.
func FuzzCurveServer(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxCurveInput {
			return
		}
		fx := curveServerFix.get(t, buildCurveServerFixture)
		ctx := context.Background()
		var calls []fuzzZAPCall
		h := fx.newHandshake(t, &calls)
		if out, err := h.Start(ctx); len(out) != 0 || err != nil {
			t.Fatalf("Start = %v, %v; the server waits for HELLO", out, err)
		}
		const (
			waitHello = iota
			waitInitiate
			done
		)
		state := waitHello
		var cands []*curveCase // the known handshakes the accepted HELLO starts
		var first error
		for _, cmd := range fuzzCommands(data) {
			orig := cloneCommand(cmd)
			checkCommandRoundTrip(t, orig) // the layout alone: parse, append, same bytes
			n := len(calls)
			out, err := h.Handle(ctx, cmd)
			scribble(cmd)
			asked := calls[n:]
			checkOut(t, out)
			if first != nil {
				checkFailedCall(t, h, first, out, err)
				if len(asked) != 0 {
					t.Fatal("ZAP asked after the handshake failed")
				}
				continue
			}
			if err != nil {
				checkErrText(t, err)
				first = err
				if h.Done() {
					t.Fatalf("done with error %v", err)
				}
			}
			for _, c := range out {
				if c.Name == zmtp.CmdError && (len(asked) != 1 || asked[0].status != zap.StatusAuthenticationError) {
					t.Fatalf("sent ERROR %q without a ZAP refusal", c.Data)
				}
			}
			if len(asked) > 0 && (state != waitInitiate || len(asked) != 1) {
				t.Fatalf("ZAP asked %d times in state %d", len(asked), state)
			}
			switch state {
			case waitHello:
				if orig.Name != zmtp.CmdHello {
					wantUnexpected(t, err, CurveName, orig.Name, zmtp.CmdHello)
					break
				}
				for _, c := range fx.cases {
					if helloMatch(c.in[0].Data, orig.Data) {
						cands = append(cands, c)
					}
				}
				if len(cands) == 0 {
					d := orig.Data
					switch {
					case len(d) != helloDataLen || d[0] != 1 || d[1] != 0:
						wantCurveError(t, err, zmtp.CmdHello, zmtp.ErrMalformed)
					case !cert.PublicKey(d[2+helloPaddingLen:][:keyLen]).IsCanonical():
						wantCurveError(t, err, zmtp.CmdHello, ErrNonCanonicalKey)
					case lowOrder(fx.priv, d[2+helloPaddingLen:][:keyLen]):
						wantCurveError(t, err, zmtp.CmdHello, ErrLowOrderKey)
					default:
						wantCurveError(t, err, zmtp.CmdHello, ErrDecrypt)
					}
					if len(out) != 0 {
						t.Fatalf("answered a bad HELLO with %v", out)
					}
					break
				}
				if err != nil || !sameCommands(out, cands[0].out[0]) {
					t.Fatalf("known HELLO (%s): %v, %v; want the known WELCOME", cands[0].name, out, err)
				}
				state = waitInitiate
			case waitInitiate:
				if orig.Name != zmtp.CmdInitiate {
					wantUnexpected(t, err, CurveName, orig.Name, zmtp.CmdInitiate)
					break
				}
				var c *curveCase
				for _, k := range cands {
					if bytes.Equal(k.in[1].Data, orig.Data) {
						c = k
					}
				}
				if c == nil {
					if len(asked) != 0 || len(out) != 0 {
						t.Fatalf("an unknown INITIATE got ZAP asked %d times and %v", len(asked), out)
					}
					d, known := orig.Data, cands[0].in[1].Data
					helloNonce := binary.BigEndian.Uint64(cands[0].in[0].Data[2+helloPaddingLen+keyLen:])
					switch {
					case len(d) < initiateMinDataLen:
						wantCurveError(t, err, zmtp.CmdInitiate, zmtp.ErrMalformed)
					case !bytes.Equal(d[:cookieLen], known[:cookieLen]):
						wantCurveError(t, err, zmtp.CmdInitiate, ErrCookie)
					case binary.BigEndian.Uint64(d[cookieLen:]) <= helloNonce:
						wantCurveError(t, err, zmtp.CmdInitiate, ErrNonceReplay)
					default:
						wantCurveError(t, err, zmtp.CmdInitiate, ErrDecrypt)
					}
					break
				}
				if len(asked) != 1 {
					t.Fatalf("%s: ZAP asked %d times, want once", c.name, len(asked))
				}
				checkZAPRequest(t, asked[0].req, CurveName, c.peerKey[:])
				if c.refused {
					wantAuthError(t, err, CurveName, zap.StatusAuthenticationError)
					wantRefusal(t, out, zap.StatusAuthenticationError)
					break
				}
				if err != nil || !sameCommands(out, c.out[1]) {
					t.Fatalf("%s: INITIATE: %v, %v; want the known READY", c.name, out, err)
				}
				state = done
				checkCurveSession(t, h.Session(), c)
			case done:
				wantUnexpected(t, err, CurveName, orig.Name)
			}
			if err == nil && h.Done() != (state == done) {
				t.Fatalf("Done = %v in state %d", h.Done(), state)
			}
			if s := h.Session(); !h.Done() && (s.Sealer != nil || s.Opener != nil || s.PeerPublicKey != nil) {
				t.Fatalf("Session of an unfinished handshake: %+v", s)
			}
		}
		checkFinal(t, h, first)
	})
}

// curveClientFixture is the fuzzed CURVE client's configuration: that of
// the libzmq server transcript, so that libzmq's recorded WELCOME and READY
// make a complete handshake.
type curveClientFixture struct {
	mech  Mechanism
	seed  [32]byte
	md    zmtp.Metadata
	hello zmtp.Command // what Start sends
	cases []*curveCase
}

func (fx *curveClientFixture) newHandshake(tb testing.TB) Handshake {
	tb.Helper()
	h, err := fx.mech.NewHandshake(Params{Metadata: fx.md, Rand: rand.NewChaCha8(fx.seed)})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

var curveClientFix fuzzLazy[*curveClientFixture]

func buildCurveClientFixture(t *testing.T) *curveClientFixture {
	t.Helper()
	tr := readTranscript(t, filepath.Join("testdata", "curve-client-dealer-libzmq-router.txt"))
	m, err := CurveClient(tr.server.Public, tr.client)
	if err != nil {
		t.Fatal(err)
	}
	c, s := tr.frames['C'], tr.frames['S']
	fx := &curveClientFixture{mech: m, seed: tr.seed, md: tr.metadata, hello: commandOf(t, c[0].body)}
	fx.cases = append(fx.cases, &curveCase{
		name:    "libzmq",
		in:      []zmtp.Command{commandOf(t, s[0].body), commandOf(t, s[1].body)},
		out:     [][]zmtp.Command{{commandOf(t, c[1].body)}, nil},
		input:   slices.Concat(s[0].raw, s[1].raw),
		peerKey: tr.server.Public,
		probe:   sealedSeed{s[2].body, s[2].plain.flags, s[2].plain.payload},
		reply:   sealedSeed{c[2].body, c[2].plain.flags, c[2].plain.payload},
	})
	// Our own server, accepting and refusing, each with its own Rand.
	for _, k := range []struct {
		name    string
		refused bool
	}{{"ours", false}, {"refused", true}} {
		sm, err := CurveServer(tr.server)
		if err != nil {
			t.Fatal(err)
		}
		p := Params{Metadata: fuzzServerMD, Rand: rand.NewChaCha8(fuzzSeed("client fixture server " + k.name))}
		if k.refused {
			p.ZAP = zap.HandlerFunc(func(context.Context, *zap.Request) (*zap.Reply, error) {
				return &zap.Reply{StatusCode: zap.StatusAuthenticationError}, nil
			})
		}
		sh, err := sm.NewHandshake(p)
		if err != nil {
			t.Fatal(err)
		}
		rc, rs := &recordingHandshake{Handshake: fx.newHandshake(t)}, &recordingHandshake{Handshake: sh}
		cerr, serr := pump(t, rc, rs)
		if k.refused != (serr != nil) || k.refused != (cerr != nil) || len(rc.in) != 2 {
			t.Fatalf("%s: client %v, server %v, %d commands", k.name, cerr, serr, len(rc.in))
		}
		cc := &curveCase{name: k.name, in: rc.in, out: rc.out, input: fuzzFrames(rc.in...), refused: k.refused, peerKey: tr.server.Public}
		if !k.refused {
			body, err := sh.Session().Sealer.Seal(nil, MessageCommand, []byte("\x04PING\x00\x00"))
			if err != nil {
				t.Fatal(err)
			}
			cc.probe = sealedSeed{body, MessageCommand, []byte("\x04PING\x00\x00")}
			cc.reply = sealedSeed{nil, MessageMore, []byte("reply")}
		}
		fx.cases = append(fx.cases, cc)
	}

	// Replay every case against a fresh client.
	ctx := context.Background()
	for _, c := range fx.cases {
		h := fx.newHandshake(t)
		if out, err := h.Start(ctx); err != nil || !sameCommands(out, []zmtp.Command{fx.hello}) {
			t.Fatalf("%s: Start = %v, %v; want the recorded HELLO", c.name, out, err)
		}
		for i, cmd := range c.in {
			out, err := h.Handle(ctx, cloneCommand(cmd))
			if last := i == len(c.in)-1; err != nil && !(last && c.refused) || err == nil && last && c.refused {
				t.Fatalf("%s: %s: %v", c.name, cmd.Name, err)
			}
			if !sameCommands(out, c.out[i]) {
				t.Fatalf("%s: %s: answered %v, want %v", c.name, cmd.Name, out, c.out[i])
			}
		}
		if c.refused {
			continue
		}
		if !h.Done() {
			t.Fatalf("%s: not done", c.name)
		}
		s := h.Session()
		c.peerMD = s.PeerMetadata.Append(nil)
		c.peerNonce = binary.BigEndian.Uint64(c.in[1].Data)
		if c.name == "ours" && !bytes.Equal(c.peerMD, fuzzServerMD.Append(nil)) {
			t.Fatalf("%s: peer metadata %q", c.name, s.PeerMetadata)
		}
		if c.reply.body == nil {
			if c.reply.body, err = s.Sealer.Seal(nil, c.reply.flags, c.reply.payload); err != nil {
				t.Fatal(err)
			}
		}
	}
	return fx
}

func curveClientSeeds(fx *curveClientFixture) [][]byte {
	var libzmq, ours *curveCase
	var seeds [][]byte
	for _, c := range fx.cases {
		seeds = append(seeds, c.input)
		switch c.name {
		case "libzmq":
			libzmq = c
		case "ours":
			ours = c
		}
	}
	badWelcome := cloneCommand(libzmq.in[0])
	badWelcome.Data[len(badWelcome.Data)-1] ^= 0x80
	short := zmtp.Command{Name: zmtp.CmdReady, Data: ours.in[1].Data[:readyMinDataLen-1]}
	return append(seeds,
		fuzzFrames(ours.in[0], short),
		fuzzFrames(append(slices.Clone(ours.in), ours.in[1])...),
		fuzzFrames(ours.in[1], ours.in[0]),
		fuzzFrames(fuzzCmd(zmtp.CmdError, "\x03400"), ours.in[0]),
		fuzzFrames(badWelcome, libzmq.in[1]),
		fuzzFrames(libzmq.in[0], ours.in[1]),
	)
}

// FuzzCurveClient drives a CURVE client with the server commands of the
// input. A WELCOME is accepted only if it is a known one, and then the
// client sends the known INITIATE; a READY only if it is the known one
// that goes with it; ERROR ends the handshake with a PeerError; every other
// command fails with the error the model predicts.
func FuzzCurveClient(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxCurveInput {
			return
		}
		fx := curveClientFix.get(t, buildCurveClientFixture)
		ctx := context.Background()
		h := fx.newHandshake(t)
		if out, err := h.Start(ctx); err != nil || !sameCommands(out, []zmtp.Command{fx.hello}) {
			t.Fatalf("Start = %v, %v; want the known HELLO", out, err)
		}
		const (
			waitWelcome = iota
			waitReady
			done
		)
		state := waitWelcome
		var cands []*curveCase
		var first error
		for _, cmd := range fuzzCommands(data) {
			orig := cloneCommand(cmd)
			checkCommandRoundTrip(t, orig) // the layout alone: parse, append, same bytes
			out, err := h.Handle(ctx, cmd)
			scribble(cmd)
			checkOut(t, out)
			if first != nil {
				checkFailedCall(t, h, first, out, err)
				continue
			}
			if err != nil {
				checkErrText(t, err)
				checkPeerErrorSource(t, err, orig)
				first = err
				if len(out) != 0 || h.Done() {
					t.Fatalf("failed with %v but returned %v, done %v", err, out, h.Done())
				}
			}
			if orig.Name == zmtp.CmdError && state != done {
				wantPeerError(t, err, CurveName, orig.Data)
				continue
			}
			switch state {
			case waitWelcome:
				if orig.Name != zmtp.CmdWelcome {
					wantUnexpected(t, err, CurveName, orig.Name, zmtp.CmdWelcome, zmtp.CmdError)
					break
				}
				for _, c := range fx.cases {
					if sameCommand(c.in[0], orig) {
						cands = append(cands, c)
					}
				}
				if len(cands) == 0 {
					if len(orig.Data) != welcomeDataLen {
						wantCurveError(t, err, zmtp.CmdWelcome, zmtp.ErrMalformed)
					} else {
						wantCurveError(t, err, zmtp.CmdWelcome, ErrDecrypt)
					}
					break
				}
				if err != nil || !sameCommands(out, cands[0].out[0]) {
					t.Fatalf("known WELCOME (%s): %v, %v; want the known INITIATE", cands[0].name, out, err)
				}
				state = waitReady
			case waitReady:
				if orig.Name != zmtp.CmdReady {
					wantUnexpected(t, err, CurveName, orig.Name, zmtp.CmdReady, zmtp.CmdError)
					break
				}
				var c *curveCase
				for _, k := range cands {
					if sameCommand(k.in[1], orig) {
						c = k
					}
				}
				if c == nil {
					if len(orig.Data) < readyMinDataLen {
						wantCurveError(t, err, zmtp.CmdReady, zmtp.ErrMalformed)
					} else {
						wantCurveError(t, err, zmtp.CmdReady, ErrDecrypt)
					}
					break
				}
				if err != nil || len(out) != 0 {
					t.Fatalf("%s: READY: %v, %v; want done", c.name, out, err)
				}
				state = done
				checkCurveSession(t, h.Session(), c)
			case done:
				wantUnexpected(t, err, CurveName, orig.Name)
			}
			if err == nil && h.Done() != (state == done) {
				t.Fatalf("Done = %v in state %d", h.Done(), state)
			}
			if s := h.Session(); !h.Done() && (s.Sealer != nil || s.Opener != nil || s.PeerPublicKey != nil) {
				t.Fatalf("Session of an unfinished handshake: %+v", s)
			}
		}
		checkFinal(t, h, first)
	})
}

// ---- CURVE MESSAGE ----

// fuzzCurveSessions returns both Sessions of a CURVE handshake between our
// own client and server with fixed Rands, so the same on every run.
func fuzzCurveSessions(tb testing.TB) (client, server Session) {
	tb.Helper()
	srv := testkeys.FromZ85(tb, docServerPublic, docServerSecret)
	cli := testkeys.FromZ85(tb, docClientPublic, docClientSecret)
	cm, err := CurveClient(srv.Public, cli)
	if err != nil {
		tb.Fatal(err)
	}
	sm, err := CurveServer(srv)
	if err != nil {
		tb.Fatal(err)
	}
	ch, err := cm.NewHandshake(Params{Metadata: fuzzClientMD, Rand: rand.NewChaCha8(fuzzSeed("session client"))})
	if err != nil {
		tb.Fatal(err)
	}
	sh, err := sm.NewHandshake(Params{Metadata: fuzzServerMD, Rand: rand.NewChaCha8(fuzzSeed("session server"))})
	if err != nil {
		tb.Fatal(err)
	}
	if cerr, serr := pump(tb, ch, sh); cerr != nil || serr != nil || !ch.Done() || !sh.Done() {
		tb.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	return ch.Session(), sh.Session()
}

// openerFixture is an Opener in a known state, the bodies known to open
// with it, and a sentinel body with a nonce above all of theirs.
type openerFixture struct {
	name     string
	base     Opener
	known    []sealedSeed
	sentinel sealedSeed
}

func newOpenerFixture(tb testing.TB, name string, o *Opener, known []sealedSeed) *openerFixture {
	tb.Helper()
	fx := &openerFixture{name: name, base: *o, known: known}
	// The sentinel is sealed under the Opener's own key and direction.
	s := Sealer{key: o.key, prefix: o.prefix, next: 1 << 40}
	body, err := s.Seal(nil, MessageMore, []byte("sentinel"))
	if err != nil {
		tb.Fatal(err)
	}
	fx.sentinel = sealedSeed{body, MessageMore, []byte("sentinel")}
	for _, k := range append(slices.Clone(known), fx.sentinel) {
		o := fx.base
		if flags, p, err := o.Open(nil, k.body); err != nil || flags != k.flags || !bytes.Equal(p, k.payload) {
			tb.Fatalf("%s: a known body does not open: %#x %q %v", name, flags, p, err)
		}
	}
	return fx
}

// ownOpenerFixture is the server's Opener of fuzzCurveSessions, with
// MESSAGEs our client sealed (nonces 3, 4, ...).
func ownOpenerFixture(tb testing.TB) *openerFixture {
	tb.Helper()
	cs, ss := fuzzCurveSessions(tb)
	var known []sealedSeed
	for _, m := range []struct {
		flags   byte
		payload []byte
	}{
		{0, []byte("hello")},
		{MessageMore, []byte("multi")},
		{MessageCommand, []byte("\x04PING\x00\x64")},
		{0, []byte{}},
		{MessageMore | MessageCommand, bytes.Repeat([]byte("z"), 300)},
	} {
		body, err := cs.Sealer.Seal(nil, m.flags, m.payload)
		if err != nil {
			tb.Fatal(err)
		}
		known = append(known, sealedSeed{body, m.flags, m.payload})
	}
	return newOpenerFixture(tb, "ours", curveOpener(ss), known)
}

var libzmqOpenerFix fuzzLazy[*openerFixture]

// buildLibzmqOpenerFixture is our server's Opener after the recorded
// handshake with a libzmq client, with that client's recorded MESSAGEs.
func buildLibzmqOpenerFixture(t *testing.T) *openerFixture {
	t.Helper()
	tr := readTranscript(t, filepath.Join("testdata", "curve-server-router-libzmq-dealer.txt"))
	sess := tr.replayHandshake(t).Session()
	var known []sealedSeed
	for _, f := range tr.frames['C'][2:] {
		known = append(known, sealedSeed{f.body, f.plain.flags, f.plain.payload})
	}
	return newOpenerFixture(t, "libzmq", curveOpener(sess), known)
}

// check opens body with a fresh copy of the fixture's Opener.
func (fx *openerFixture) check(t *testing.T, body []byte) {
	t.Helper()
	o := fx.base
	in := bytes.Clone(body)
	dst := []byte("dst")
	flags, out, err := o.Open(dst, body)
	if !bytes.Equal(body, in) {
		t.Fatalf("%s: Open changed its input", fx.name)
	}
	var want *sealedSeed
	for i := range fx.known {
		if bytes.Equal(fx.known[i].body, body) {
			want = &fx.known[i]
		}
	}
	if err == nil {
		if want == nil {
			t.Fatalf("%s: opened a body nobody sealed: %x → %#x %q", fx.name, body, flags, out)
		}
		if flags != want.flags || !bytes.Equal(out, append([]byte("dst"), want.payload...)) {
			t.Fatalf("%s: opened %#x %q, want %#x %q after dst", fx.name, flags, out, want.flags, want.payload)
		}
		if n := binary.BigEndian.Uint64(body[8:16]); o.last != n {
			t.Fatalf("%s: after nonce %d the Opener's last is %d", fx.name, n, o.last)
		}
		if _, _, err := o.Open(nil, body); !errors.Is(err, ErrNonceReplay) {
			t.Fatalf("%s: the same body twice: %v; want ErrNonceReplay", fx.name, err)
		}
	} else {
		checkErrText(t, err)
		var ce *CurveError
		if !errors.As(err, &ce) || ce.Command != zmtp.CmdMessage {
			t.Fatalf("%s: %v is not a CURVE MESSAGE error", fx.name, err)
		}
		var cause error
		switch {
		case len(body) < MessageOverhead || !bytes.HasPrefix(body, []byte(messagePrefix)):
			cause = zmtp.ErrMalformed
		case binary.BigEndian.Uint64(body[8:16]) <= fx.base.last:
			cause = ErrNonceReplay
		case want != nil:
			t.Fatalf("%s: a sealed body does not open: %v", fx.name, err)
		default:
			cause = ErrDecrypt
		}
		if !errors.Is(err, cause) {
			t.Fatalf("%s: %x: %v; want an error wrapping %v", fx.name, body, err, cause)
		}
		if flags != 0 || !bytes.Equal(out, dst) || len(out) != len(dst) {
			t.Fatalf("%s: a failed Open returned %#x %q", fx.name, flags, out)
		}
		if o != fx.base {
			t.Fatalf("%s: a failed Open changed the Opener", fx.name)
		}
	}
	// A fresh body still opens: failure changed nothing, success only the
	// last nonce.
	s := fx.sentinel
	if flags, p, err := o.Open(nil, s.body); err != nil || flags != s.flags || !bytes.Equal(p, s.payload) {
		t.Fatalf("%s: the sentinel does not open after %x: %#x %q %v", fx.name, body, flags, p, err)
	}
}

func openerSeeds(fx ...*openerFixture) [][]byte {
	var seeds [][]byte
	for _, f := range fx {
		for _, k := range f.known {
			seeds = append(seeds, k.body)
		}
	}
	flipped := bytes.Clone(fx[0].known[0].body)
	flipped[len(flipped)-1] ^= 0x01
	return append(seeds, flipped, []byte(messagePrefix), []byte("\x07MESSAGF\x00\x00\x00\x00\x00\x00\x00\x09"+strings.Repeat("\x00", 17)))
}

// FuzzOpener opens arbitrary MESSAGE bodies with the Opener of a finished
// handshake with our own client, and with that of the recorded handshake
// with a libzmq client. A body opens only if it is one the peer sealed, and
// then to what was sealed, once; any other fails with ErrMalformed,
// ErrNonceReplay or ErrDecrypt as the model predicts, and leaves the Opener
// unchanged.
func FuzzOpener(f *testing.F) {
	own := ownOpenerFixture(f)
	for _, s := range openerSeeds(own) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > fuzzMaxCurveInput {
			return
		}
		own.check(t, body)
		libzmqOpenerFix.get(t, buildLibzmqOpenerFixture).check(t, body)
	})
}

// roundTripSeed is one input of FuzzSealOpenRoundTrip.
type roundTripSeed struct {
	toClient bool
	flags    byte
	payload  []byte
	flip     uint16
}

func roundTripSeeds() []roundTripSeed {
	return []roundTripSeed{
		{false, 0, []byte{}, 0},
		{false, MessageMore, []byte("hello"), 77},
		{true, MessageCommand, []byte("\x04PING\x00\x64"), 300},
		{true, 0xFF, bytes.Repeat([]byte{0x5A}, 300), 0xFFFF},
		{false, 0xFC, bytes.Repeat([]byte{0}, 31), 260},
	}
}

// FuzzSealOpenRoundTrip seals flags and payload in either direction of a
// finished handshake and opens the body again: the same payload and the
// flags masked to MORE and COMMAND, a body of SealedSize bytes that opens
// once, only in its own direction, and not with any bit flipped. A Sealer
// at the last nonce seals once more and then refuses.
func FuzzSealOpenRoundTrip(f *testing.F) {
	cs, ss := fuzzCurveSessions(f)
	for _, s := range roundTripSeeds() {
		f.Add(s.toClient, s.flags, s.payload, s.flip)
	}
	f.Fuzz(func(t *testing.T, toClient bool, flags byte, payload []byte, flip uint16) {
		sealer, opener, wrong := *curveSealer(cs), *curveOpener(ss), *curveOpener(cs)
		if toClient {
			sealer, opener, wrong = *curveSealer(ss), *curveOpener(cs), *curveOpener(ss)
		}
		base := opener
		in := bytes.Clone(payload)
		next := sealer.next
		sealed, err := sealer.Seal([]byte("hdr"), flags, payload)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(payload, in) {
			t.Fatal("Seal changed its payload")
		}
		if !bytes.HasPrefix(sealed, []byte("hdr")) {
			t.Fatalf("Seal did not append to dst: %x", sealed)
		}
		body := sealed[3:]
		if len(body) != SealedSize(len(payload)) || len(body) != MessageOverhead+len(payload) {
			t.Fatalf("body of %d bytes for %d bytes of payload; SealedSize says %d", len(body), len(payload), SealedSize(len(payload)))
		}
		if !bytes.HasPrefix(body, []byte(messagePrefix)) || binary.BigEndian.Uint64(body[8:16]) != next || sealer.next != next+1 {
			t.Fatalf("body %x: want MESSAGE with nonce %d", body[:16], next)
		}
		if cmd, err := zmtp.ParseCommand(body); err != nil || cmd.Name != zmtp.CmdMessage || !bytes.Equal(cmd.Data, body[8:]) {
			t.Fatalf("the body is not a MESSAGE command: %v", err)
		}

		gotFlags, got, err := opener.Open(nil, body)
		if err != nil || gotFlags != flags&(MessageMore|MessageCommand) || !bytes.Equal(got, payload) {
			t.Fatalf("Open = %#x %q %v; sealed %#x %q", gotFlags, got, err, flags, payload)
		}
		if _, _, err := opener.Open(nil, body); !errors.Is(err, ErrNonceReplay) {
			t.Fatalf("the same body twice: %v; want ErrNonceReplay", err)
		}
		if _, _, err := wrong.Open(nil, body); err == nil {
			t.Fatal("the other direction's Opener opened the body")
		}

		// Any bit flipped fails and changes nothing.
		bad := bytes.Clone(body)
		bad[int(flip>>3)%len(bad)] ^= 1 << (flip & 7)
		o := base
		if fl, p, err := o.Open(nil, bad); err == nil || o != base {
			t.Fatalf("bit %d flipped: Open = %#x %q %v", flip, fl, p, err)
		}
		if _, _, err := o.Open(nil, body); err != nil {
			t.Fatalf("after a refusal the genuine body: %v", err)
		}

		// At the last nonce: one more MESSAGE, then ErrNonceExhausted.
		last := sealer
		last.next = math.MaxUint64
		o = base
		o.last = math.MaxUint64 - 1
		body, err = last.Seal(nil, flags, payload)
		if err != nil {
			t.Fatal(err)
		}
		if gotFlags, got, err := o.Open(nil, body); err != nil || gotFlags != flags&(MessageMore|MessageCommand) || !bytes.Equal(got, payload) {
			t.Fatalf("the last nonce: Open = %#x %q %v", gotFlags, got, err)
		}
		if b, err := last.Seal([]byte("hdr"), flags, payload); !errors.Is(err, ErrNonceExhausted) || string(b) != "hdr" {
			t.Fatalf("past the last nonce: Seal = %x, %v; want ErrNonceExhausted", b, err)
		}
	})
}

// ---- seed corpora ----

// fuzzCorpusFile renders values in the "go test fuzz v1" format, as the Go
// fuzzing engine writes them.
func fuzzCorpusFile(values ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case bool, uint16:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		default:
			panic(fmt.Sprintf("fuzzCorpusFile: %T", v))
		}
	}
	return []byte(b.String())
}

// fuzzSeedCorpora returns, for each fuzz target, the seed files it should
// have.
func fuzzSeedCorpora(t *testing.T) map[string]map[string][]byte {
	corpora := map[string]map[string][]byte{}
	limit := map[string]int{
		"FuzzPlainServer": fuzzMaxPlainInput, "FuzzPlainClient": fuzzMaxPlainInput,
		"FuzzCurveServer": fuzzMaxCurveInput, "FuzzCurveClient": fuzzMaxCurveInput, "FuzzOpener": fuzzMaxCurveInput,
	}
	add := func(target string, values ...any) {
		if b, ok := values[0].([]byte); ok && limit[target] > 0 && len(b) > limit[target] {
			t.Fatalf("%s: a seed of %d bytes, over the target's limit of %d", target, len(b), limit[target])
		}
		if corpora[target] == nil {
			corpora[target] = map[string][]byte{}
		}
		content := fuzzCorpusFile(values...)
		sum := sha256.Sum256(content)
		corpora[target][fmt.Sprintf("seed-%016x", binary.BigEndian.Uint64(sum[:]))] = content
	}
	for _, s := range plainServerSeeds() {
		add("FuzzPlainServer", s)
	}
	for _, s := range plainClientSeeds() {
		add("FuzzPlainClient", s)
	}
	for _, s := range curveServerSeeds(buildCurveServerFixture(t)) {
		add("FuzzCurveServer", s)
	}
	for _, s := range curveClientSeeds(buildCurveClientFixture(t)) {
		add("FuzzCurveClient", s)
	}
	for _, s := range openerSeeds(ownOpenerFixture(t), buildLibzmqOpenerFixture(t)) {
		add("FuzzOpener", s)
	}
	for _, s := range roundTripSeeds() {
		add("FuzzSealOpenRoundTrip", s.toClient, s.flags, s.payload, s.flip)
	}
	return corpora
}

// TestFuzzSeedCorpus checks that the committed seed files under
// testdata/fuzz are the ones the seed functions above produce; other files,
// such as inputs the fuzzer found, are left alone. With -update-corpus it
// writes them.
func TestFuzzSeedCorpus(t *testing.T) {
	for target, files := range fuzzSeedCorpora(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		if *fuzzUpdateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
			for _, f := range old {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}
		for name, content := range files {
			path := filepath.Join(dir, name)
			if *fuzzUpdateCorpus {
				if err := os.WriteFile(path, content, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v (run go test ./mechanism -run TestFuzzSeedCorpus -update-corpus)", err)
				continue
			}
			if !bytes.Equal(got, content) {
				t.Errorf("%s is stale (run go test ./mechanism -run TestFuzzSeedCorpus -update-corpus)", path)
			}
		}
		if !*fuzzUpdateCorpus {
			old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
			for _, f := range old {
				if _, ok := files[filepath.Base(f)]; !ok {
					t.Errorf("%s is not a seed any more (run with -update-corpus)", f)
				}
			}
		}
	}
}
