// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/gssapi/internal/gss"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// capture is a recorded libzmq<->libzmq session (testdata/libzmq).
type capture struct {
	dir     string
	Name    string `json:"name"`
	Etype   int32  `json:"etype"`
	Plain   bool   `json:"plaintext"`
	Service string `json:"service_principal"`
	Client  string `json:"client_principal"`
	Sides   map[string]*captureSide
	C2S     []rawFrame
	S2C     []rawFrame
	Keytab  *Keytab
}

type captureSide struct {
	Ready []struct{ Name, Value string } `json:"ready_metadata"`
	Sent  []struct {
		More bool   `json:"more"`
		Body string `json:"body"`
	} `json:"sent"`
}

type rawFrame struct {
	flags byte
	body  []byte
}

func loadCaptures(t *testing.T) []*capture {
	t.Helper()
	dirs, err := filepath.Glob("testdata/libzmq/*/session.json")
	if err != nil || len(dirs) < 9 {
		t.Fatalf("captures: %v (%d)", err, len(dirs))
	}
	var out []*capture
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := &capture{dir: filepath.Dir(f)}
		var raw struct {
			Client *captureSide `json:"client"`
			Server *captureSide `json:"server"`
		}
		if err := json.Unmarshal(b, c); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		c.Sides = map[string]*captureSide{"client": raw.Client, "server": raw.Server}
		c.C2S = readFrames(t, filepath.Join(c.dir, "c2s.bin"))
		c.S2C = readFrames(t, filepath.Join(c.dir, "s2c.bin"))
		c.Keytab, err = LoadKeytab(filepath.Join(c.dir, "service.keytab"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// readFrames splits a recorded direction into its frames, after the
// 64-byte greeting, which it checks says GSSAPI with as-server 0.
func readFrames(t *testing.T, path string) []rawFrame {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := zmtp.ParseGreeting(b[:64])
	if err != nil || g.Mechanism != Name || g.AsServer {
		t.Fatalf("%s: greeting %+v, %v", path, g, err)
	}
	b = b[64:]
	var out []rawFrame
	for len(b) > 0 {
		f := b[0]
		var n uint64
		if f&0x02 != 0 {
			n, b = binary.BigEndian.Uint64(b[1:9]), b[9:]
		} else {
			n, b = uint64(b[1]), b[2:]
		}
		out = append(out, rawFrame{flags: f, body: b[:n]})
		b = b[n:]
	}
	return out
}

func (c *capture) readyBody(side string) []byte {
	var md zmtp.Metadata
	for _, p := range c.Sides[side].Ready {
		md = append(md, zmtp.Property{Name: p.Name, Value: []byte(p.Value)})
	}
	return zmtp.AppendReady(nil, md)
}

// TestCaptureCodec parses every recorded INITIATE with our codec.
func TestCaptureCodec(t *testing.T) {
	for _, c := range loadCaptures(t) {
		t.Run(c.Name, func(t *testing.T) {
			for i, fr := range []rawFrame{c.C2S[0], c.S2C[0]} {
				cmd, err := zmtp.ParseCommand(fr.body)
				if err != nil || !cmd.Is(zmtp.CmdInitiate) || fr.flags != 0x04 && fr.flags != 0x06 {
					t.Fatalf("frame %d: %v %v", i, cmd, err)
				}
				tok, err := parseToken("INITIATE", cmd.Data, DefaultMaxToken)
				if err != nil {
					t.Fatal(err)
				}
				id, _, err := gss.ParseToken(tok)
				want := []gss.TokenID{gss.TokAPReq, gss.TokAPRep}[i]
				if err != nil || id != want {
					t.Errorf("token %v, %v; want %v", id, err, want)
				}
				if again := initiateCommand(tok).Append(nil); !bytes.Equal(again, fr.body) {
					t.Errorf("INITIATE re-encoded differs")
				}
			}
			// The client's second frame is the empty command.
			if c.C2S[1].flags != 0x04 || len(c.C2S[1].body) != 0 {
				t.Errorf("second client frame %02x %x, want the empty command", c.C2S[1].flags, c.C2S[1].body)
			}
		})
	}
}

// TestCaptureKnownAnswers opens every recorded MESSAGE of every sealed
// capture in both directions with our Opener, from the contexts the service
// keytab recovers, and checks the READY bodies, the messages and the
// heartbeats session.json lists. The sizes are checked against SealedSize.
func TestCaptureKnownAnswers(t *testing.T) {
	sealed := 0
	for _, c := range loadCaptures(t) {
		t.Run(c.Name, func(t *testing.T) {
			apReq := mustToken(t, c.C2S[0])
			apRep := mustToken(t, c.S2C[0])
			rec, err := gss.Recover(KeytabInternal(c.Keytab), apReq, apRep)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Client.String() != c.Client {
				t.Errorf("client %q, want %q", rec.Client, c.Client)
			}
			if rec.Initiator.Enctype() != c.Etype {
				t.Errorf("enctype %d, want %d", rec.Initiator.Enctype(), c.Etype)
			}
			if c.Plain {
				checkPlain(t, c)
				return
			}
			sealed++
			// Client -> server: the acceptor opens; server -> client: the
			// initiator opens.
			checkDirection(t, c, "client", c.C2S[2:], &opener{ctx: rec.Acceptor}, &sealer{ctx: rec.Acceptor})
			checkDirection(t, c, "server", c.S2C[1:], &opener{ctx: rec.Initiator}, &sealer{ctx: rec.Initiator})
		})
	}
	if sealed < 7 {
		t.Errorf("only %d sealed captures checked", sealed)
	}
}

func mustToken(t *testing.T, fr rawFrame) []byte {
	t.Helper()
	cmd, err := zmtp.ParseCommand(fr.body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := parseToken("INITIATE", cmd.Data, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkDirection opens frames (READY first, in a command frame; then data
// frames) and compares with what side sent. peerSealer is the opposite
// context's sealer, only for its SealedSize.
func checkDirection(t *testing.T, c *capture, side string, frames []rawFrame, o *opener, s *sealer) {
	t.Helper()
	want := c.Sides[side].Sent
	pings, pongs, data := 0, 0, 0
	for i, fr := range frames {
		flags, body, err := o.Open(nil, fr.body)
		if err != nil {
			t.Fatalf("%s frame %d: %v", side, i, err)
		}
		if len(fr.body) != s.SealedSize(len(body)) || o.MaxOverhead() != len(fr.body)-len(body) {
			t.Errorf("%s frame %d: %d bytes for a %d-byte payload, SealedSize says %d", side, i, len(fr.body), len(body), s.SealedSize(len(body)))
		}
		if i == 0 {
			if fr.flags != 0x04 || flags != 0 || !bytes.Equal(body, c.readyBody(side)) {
				t.Errorf("%s READY: frame flags %02x inner %02x body %q", side, fr.flags, flags, body)
			}
			continue
		}
		if fr.flags != 0x00 && fr.flags != 0x02 {
			t.Errorf("%s frame %d: outer flags %02x, want a final data frame", side, i, fr.flags)
		}
		if flags&mechanism.MessageCommand != 0 {
			cmd, err := zmtp.ParseCommand(body)
			switch {
			case err != nil:
				t.Errorf("%s frame %d: %v", side, i, err)
			case cmd.Is(zmtp.CmdPing):
				if _, err := zmtp.ParsePing(cmd.Data); err != nil {
					t.Errorf("PING: %v", err)
				}
				pings++
			case cmd.Is(zmtp.CmdPong):
				pongs++
			default:
				t.Errorf("%s frame %d: command %v", side, i, cmd)
			}
			continue
		}
		w := want[data%len(want)]
		if string(body) != w.Body || (flags&mechanism.MessageMore != 0) != w.More {
			t.Errorf("%s message %d: flags %02x %q, want more=%v %q", side, data, flags, body, w.More, w.Body)
		}
		data++
	}
	if data == 0 || data%len(want) != 0 {
		t.Errorf("%s: %d messages, want a multiple of %d", side, data, len(want))
	}
	if strings.HasPrefix(c.Name, "heartbeat") && (pings == 0 || pongs == 0) {
		t.Errorf("%s: %d PINGs, %d PONGs", side, pings, pongs)
	}
	// One more frame after the last: a replay of the last one is refused.
	if _, _, err := o.Open(nil, frames[len(frames)-1].body); !errors.Is(err, ErrSequence) {
		t.Errorf("%s: replayed frame: %v, want ErrSequence", side, err)
	}
}

// checkPlain checks a plaintext capture: plain READY both ways, then plain
// frames.
func checkPlain(t *testing.T, c *capture) {
	for _, d := range []struct {
		side string
		fr   rawFrame
	}{{"client", c.C2S[2]}, {"server", c.S2C[1]}} {
		if d.fr.flags != 0x04 || !bytes.Equal(d.fr.body, c.readyBody(d.side)) {
			t.Errorf("%s plain READY: %02x %q", d.side, d.fr.flags, d.fr.body)
		}
	}
}

// TestCaptureServerAcceptsLibzmqClient replays a recorded libzmq client
// into our server, its clock at the capture time: the AP-REQ is accepted
// and answered with an AP-REP; the recorded empty command then makes the
// server send READY. The recorded client READY is under the old subkey, so
// the session ends there, with a decryption error.
func TestCaptureServerAcceptsLibzmqClient(t *testing.T) {
	for _, c := range loadCaptures(t) {
		t.Run(c.Name, func(t *testing.T) {
			rec, err := gss.Recover(KeytabInternal(c.Keytab), mustToken(t, c.C2S[0]), mustToken(t, c.S2C[0]))
			if err != nil {
				t.Fatal(err)
			}
			creds, err := NewServerCredentials(c.Keytab, Principal{})
			if err != nil {
				t.Fatal(err)
			}
			at := rec.AuthTime
			m, err := Server(ServerConfig{Credentials: creds, InsecurePlaintext: c.Plain, Now: func() time.Time { return at }})
			if err != nil {
				t.Fatal(err)
			}
			h, _ := m.NewHandshake(mechanism.Params{Metadata: zmtp.Metadata{{Name: "Socket-Type", Value: []byte("REP")}}})
			defer h.Close()
			if out, err := h.Start(t.Context()); err != nil || len(out) != 0 {
				t.Fatalf("Start: %v %v", out, err)
			}
			cmd, _ := zmtp.ParseCommand(c.C2S[0].body)
			out, err := h.Handle(t.Context(), cmd)
			if err != nil || len(out) != 1 || !out[0].Is(zmtp.CmdInitiate) {
				t.Fatalf("AP-REQ: %v %v", out, err)
			}
			if id, _, err := gss.ParseToken(out[0].Data[4:]); err != nil || id != gss.TokAPRep {
				t.Fatalf("answer %v %v", id, err)
			}
			if !h.(mechanism.EmptyCommandAccepter).AcceptsEmptyCommand() {
				t.Fatal("the empty command is not accepted after the AP-REP")
			}
			out, err = h.Handle(t.Context(), zmtp.Command{})
			want := zmtp.CmdMessage
			if c.Plain {
				want = zmtp.CmdReady
			}
			if err != nil || len(out) != 1 || !out[0].Is(want) {
				t.Fatalf("after the empty command: %v %v", out, err)
			}
			ready, _ := zmtp.ParseCommand(c.C2S[2].body)
			_, err = h.Handle(t.Context(), ready)
			if c.Plain {
				// Plain READY: nothing cryptographic left, the handshake ends.
				if err != nil || !h.Done() {
					t.Fatalf("plain READY: %v", err)
				}
				if got := h.Session().PeerPrincipal; got != c.Client {
					t.Errorf("PeerPrincipal %q", got)
				}
				return
			}
			if !errors.Is(err, ErrDecrypt) {
				t.Errorf("recorded READY under the old subkey: %v, want ErrDecrypt", err)
			}
			// The same AP-REQ again is a replay.
			h2, _ := m.NewHandshake(mechanism.Params{})
			defer h2.Close()
			h2.Start(t.Context())
			if _, err := h2.Handle(t.Context(), cmd); !errors.Is(err, ErrReplay) {
				t.Errorf("replayed AP-REQ: %v, want ErrReplay", err)
			}
		})
	}
}

// TestCaptureResealByteForByte: every Wrap token libzmq (MIT) sent in the
// sealed captures, in both directions, is what our Wrap makes from the
// same key, sequence number, confounder and plaintext, byte for byte: the
// header, the AES-CTS ciphertext and the truncated HMAC, for the four
// enctypes. (The confounder is the one thing MIT chose at random; it is
// read back out of each token.)
func TestCaptureResealByteForByte(t *testing.T) {
	tokens := 0
	for _, c := range loadCaptures(t) {
		if c.Plain {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			rec, err := gss.Recover(KeytabInternal(c.Keytab), mustToken(t, c.C2S[0]), mustToken(t, c.S2C[0]))
			if err != nil {
				t.Fatal(err)
			}
			for _, dir := range []struct {
				name             string
				frames           []rawFrame
				sender, receiver *gss.Context
			}{
				{"client to server", c.C2S[2:], rec.Initiator, rec.Acceptor},
				{"server to client", c.S2C[1:], rec.Acceptor, rec.Initiator},
			} {
				for i, fr := range dir.frames {
					tok, err := parseToken("MESSAGE", fr.body[len("\x07MESSAGE"):], 0)
					if err != nil {
						t.Fatalf("%s frame %d: %v", dir.name, i, err)
					}
					got, err := gss.Reseal(dir.sender, dir.receiver, tok)
					if err != nil {
						t.Fatalf("%s frame %d: %v", dir.name, i, err)
					}
					if !bytes.Equal(got, tok) {
						t.Fatalf("%s frame %d: our Wrap differs from MIT's\n ours % x\n MIT's % x", dir.name, i, got, tok)
					}
					tokens++
				}
			}
		})
	}
	if tokens < 40 {
		t.Errorf("only %d tokens resealed", tokens)
	}
	t.Logf("%d recorded Wrap tokens resealed byte for byte", tokens)
}
