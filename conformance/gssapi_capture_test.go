package conformance

// Captures of GSSAPI sessions between a libzmq 4.3.4 client and a libzmq
// 4.3.4 server, recorded through a TCP relay in throwaway MIT realms, for
// the GSSAPI module's tests to decode without libzmq or a KDC
// (docs/gssapi-realm.md#the-libzmq-captures).
//
// The sessions run, and are checked, on every test run, so that the
// recorder cannot rot; they are written to ../gssapi/testdata/libzmq only
// when ZMTPSEC_RECORD=1:
//
//	cd conformance && ZMTPSEC_RECORD=1 go test -count=1 -run 'TestGSSAPICaptureRecord' .
//
// Kerberos randomness cannot be fixed, so every recording differs from the
// last. TestGSSAPICaptures checks the committed ones with the same checker:
// greetings, INITIATE, the empty command, READY, and every frame after the
// handshake, down to the length of each sealed token (which gives the
// length of its plaintext), so that the parts, their order and the
// heartbeats are proved without decrypting anything.

import (
	"bytes"
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zmtpsec/zmtpsec/internal/krbtest"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// gssCaptureDir is where the captures go, relative to conformance/.
const gssCaptureDir = "../gssapi/testdata/libzmq"

// gssHeartbeatIvl and gssHeartbeatHold are the heartbeat sessions'
// ZMQ_HEARTBEAT_IVL (both sides) and the pause between their two
// exchanges, long enough for a few PINGs each way.
const (
	gssHeartbeatIvl  = 100 * time.Millisecond
	gssHeartbeatHold = 350 * time.Millisecond
)

// gssSession is one recorded session: a libzmq REQ client and REP server,
// which exchange gssRequest and gssReply once, or twice around a pause in
// the heartbeat sessions.
type gssSession struct {
	name      string
	about     string
	enctypes  []krbtest.Enctype // the realm's; nil for krbtest's default
	plaintext bool              // ZMQ_GSSAPI_PLAINTEXT on both sides
	heartbeat bool              // ZMQ_HEARTBEAT_IVL on both sides, and the pause
	zap       bool              // a ZAP handler giving gssZAPUserID, the server in domain gssZAPDomain
}

var gssSessions = []gssSession{
	{name: "sealed", about: "default options: sealed, the realm's default enctypes (session key aes256-cts-hmac-sha1-96)"},
	{name: "plaintext", about: "ZMQ_GSSAPI_PLAINTEXT on both sides", plaintext: true},
	{name: "heartbeat", about: "sealed, ZMQ_HEARTBEAT_IVL 100 ms on both sides, two exchanges 350 ms apart: PING and PONG sealed inside MESSAGE", heartbeat: true},
	{name: "heartbeat-plaintext", about: "plaintext, ZMQ_HEARTBEAT_IVL 100 ms on both sides, two exchanges 350 ms apart: PING and PONG as plain commands", plaintext: true, heartbeat: true},
	{name: "aes128-sha1", about: "sealed, every key aes128-cts-hmac-sha1-96 (etype 17)", enctypes: []krbtest.Enctype{krbtest.AES128SHA1}},
	{name: "aes256-sha1", about: "sealed, every key aes256-cts-hmac-sha1-96 (etype 18)", enctypes: []krbtest.Enctype{krbtest.AES256SHA1}},
	{name: "aes128-sha256", about: "sealed, every key aes128-cts-hmac-sha256-128 (etype 19)", enctypes: []krbtest.Enctype{krbtest.AES128SHA256}},
	{name: "aes256-sha384", about: "sealed, every key aes256-cts-hmac-sha384-192 (etype 20)", enctypes: []krbtest.Enctype{krbtest.AES256SHA384}},
	{name: "zap", about: "sealed, the server in ZAP domain \"gss\", its ZAP handler answering 200 with a User-Id", zap: true},
}

func (s gssSession) rounds() int {
	if s.heartbeat {
		return 2
	}
	return 1
}

// etype is the session's enctype: its realm's first.
func (s gssSession) enctype() krbtest.Enctype {
	if s.enctypes == nil {
		return krbtest.DefaultEnctypes[0]
	}
	return s.enctypes[0]
}

// gssPart is one part of a message as it travels inside MESSAGE.
type gssPart struct {
	more bool
	body []byte
}

// wireParts returns the parts each side sends, in order, as they travel:
// a REQ socket puts an empty delimiter before its request, and a REP
// socket before its reply.
func (s gssSession) wireParts(client bool) []gssPart {
	msg := gssReply
	if client {
		msg = gssRequest
	}
	var out []gssPart
	for range s.rounds() {
		out = append(out, gssPart{more: true})
		for i, p := range msg {
			out = append(out, gssPart{more: i < len(msg)-1, body: p})
		}
	}
	return out
}

// readyMetadata is the metadata of libzmq's READY: Socket-Type, and, from
// a REQ socket, an empty Identity.
func readyMetadata(client bool) zmtp.Metadata {
	if client {
		return zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte("REQ")}, {Name: zmtp.PropIdentity}}
	}
	return zmtp.Metadata{{Name: zmtp.PropSocketType, Value: []byte("REP")}}
}

// zapRequest is the ZAP request the server of a zap session sends.
func (s gssSession) zapRequest() []string {
	return []string{"1.0", "1", gssZAPDomain, "127.0.0.1", "", "GSSAPI", krbtest.ClientPrincipal}
}

// gssSessionFile is session.json.
type gssSessionFile struct {
	Name            string         `json:"name"`
	About           string         `json:"about"`
	Realm           string         `json:"realm"`
	ServicePrinc    string         `json:"service_principal"`
	ServiceName     string         `json:"service_name"`
	ClientPrinc     string         `json:"client_principal"`
	Enctype         string         `json:"enctype"`
	Etype           int32          `json:"etype"`
	Plaintext       bool           `json:"plaintext"`
	HeartbeatIvlMS  int            `json:"heartbeat_ivl_ms"`
	HeartbeatHoldMS int            `json:"heartbeat_hold_ms"`
	Client          gssSideFile    `json:"client"`
	Server          gssSideFile    `json:"server"`
	ZAP             *gssZAPFile    `json:"zap"`
	Files           map[string]any `json:"files"`
}

type gssSideFile struct {
	Socket  string            `json:"socket"`
	Options []string          `json:"options"`
	Ready   []gssPropertyFile `json:"ready_metadata"`
	// Sent is what the side sent after the handshake: the parts inside its
	// MESSAGE commands, in order, each with its MORE flag.
	Sent []gssPartFile `json:"sent"`
}

type gssPropertyFile struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type gssPartFile struct {
	More bool   `json:"more"`
	Body string `json:"body"`
}

type gssZAPFile struct {
	Domain  string   `json:"domain"`
	Request []string `json:"request"`
	Status  string   `json:"status"`
	UserID  string   `json:"user_id"`
}

// file returns s's session.json, which follows from s alone.
func (s gssSession) file() gssSessionFile {
	side := func(client bool) gssSideFile {
		f := gssSideFile{Socket: "REP", Options: []string{"ZMQ_GSSAPI_SERVER=1"}}
		if client {
			f = gssSideFile{Socket: "REQ", Options: []string{"ZMQ_GSSAPI_SERVICE_PRINCIPAL=" + krbtest.ServiceName}}
		}
		if s.plaintext {
			f.Options = append(f.Options, "ZMQ_GSSAPI_PLAINTEXT=1")
		}
		if s.heartbeat {
			f.Options = append(f.Options, fmt.Sprintf("ZMQ_HEARTBEAT_IVL=%d", gssHeartbeatIvl.Milliseconds()))
		}
		if s.zap && !client {
			f.Options = append(f.Options, "ZMQ_ZAP_DOMAIN="+gssZAPDomain)
		}
		for _, p := range readyMetadata(client) {
			f.Ready = append(f.Ready, gssPropertyFile{p.Name, string(p.Value)})
		}
		f.Sent = []gssPartFile{}
		for _, p := range s.wireParts(client) {
			f.Sent = append(f.Sent, gssPartFile{p.more, string(p.body)})
		}
		return f
	}
	f := gssSessionFile{
		Name: s.name, About: s.about, Realm: krbtest.RealmName,
		ServicePrinc: krbtest.ServicePrincipal, ServiceName: krbtest.ServiceName, ClientPrinc: krbtest.ClientPrincipal,
		Enctype: string(s.enctype()), Etype: s.enctype().Number(), Plaintext: s.plaintext,
		Client: side(true), Server: side(false),
		Files: map[string]any{
			"c2s.bin":        "every byte the client sent, greeting included",
			"s2c.bin":        "every byte the server sent, greeting included",
			"service.keytab": "the keys of " + krbtest.ServicePrincipal + " in the session's realm",
		},
	}
	if s.heartbeat {
		f.HeartbeatIvlMS, f.HeartbeatHoldMS = int(gssHeartbeatIvl.Milliseconds()), int(gssHeartbeatHold.Milliseconds())
	}
	if s.zap {
		f.ZAP = &gssZAPFile{Domain: gssZAPDomain, Request: s.zapRequest(), Status: "200", UserID: gssZAPUserID}
	}
	return f
}

func (s gssSession) fileJSON() []byte {
	b, err := json.MarshalIndent(s.file(), "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// gssCapture is a recorded or committed session.
type gssCapture struct {
	c2s, s2c []byte
	keytab   []krbtest.KeytabEntry
}

// recordGSS runs session s in a realm of its own through a recording relay
// and returns what crossed it and the service keytab's path.
func recordGSS(t *testing.T, s gssSession) (gssCapture, string) {
	t.Helper()
	var opts []krbtest.Option
	if s.enctypes != nil {
		opts = append(opts, krbtest.WithEnctypes(s.enctypes...))
	}
	r := gssRealm(t, opts...)
	lib := newZMQLib(t)
	var zh *libZAP
	if s.zap {
		zh = lib.zap(func(req [][]byte) zapAnswer { return zapAnswer{Status: "200", Text: "OK", UserID: gssZAPUserID} })
	}
	srv := lib.gssServer(zmq.REP, s.plaintext)
	cli := lib.gssClient(zmq.REQ, r.ServiceName, s.plaintext)
	if s.heartbeat {
		must(t, srv.SetHeartbeatIvl(gssHeartbeatIvl))
		must(t, cli.SetHeartbeatIvl(gssHeartbeatIvl))
	}
	if s.zap {
		must(t, srv.SetZapDomain(gssZAPDomain))
	}
	p := startProxy(t, lib.bind(srv))
	must(t, cli.Connect(p.endpoint))
	for round := range s.rounds() {
		if round > 0 {
			time.Sleep(gssHeartbeatHold)
		}
		libSend(t, cli, gssRequest...)
		got, md := libRecvMeta(t, srv, "User-Id")
		sameMsg(t, "libzmq server received", got, gssRequest)
		if s.zap && md["User-Id"] != gssZAPUserID {
			t.Errorf("User-Id %q, want %q", md["User-Id"], gssZAPUserID)
		}
		libSend(t, srv, gssReply...)
		libExpect(t, cli, gssReply...)
	}
	if s.zap {
		if req := zh.lastRequest(); zh.calls.Load() != 1 || !sameStrings(req, s.zapRequest()) {
			t.Errorf("ZAP: %d requests, the last %q; want one, %q", zh.calls.Load(), req, s.zapRequest())
		}
	}
	must(t, cli.Close())
	if n := p.count(); n != 1 {
		t.Fatalf("%d connections through the relay, want 1 (did a handshake outlast ZMQ_HANDSHAKE_IVL?)", n)
	}
	p.closed(0, stepTimeout)
	toClient, toServer := p.conns[0].bytes()
	kt, err := krbtest.ReadKeytab(r.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	return gssCapture{c2s: toServer, s2c: toClient, keytab: kt}, r.ServiceKeytab
}

// TestGSSAPICaptureRecord records every session of gssSessions and checks
// it; with ZMTPSEC_RECORD=1, and only if every session passed, it writes
// them all, and the README, to gssCaptureDir.
func TestGSSAPICaptureRecord(t *testing.T) {
	type recorded struct {
		c      gssCapture
		keytab []byte
		notes  []string
	}
	got := map[string]recorded{}
	for _, s := range gssSessions {
		t.Run(s.name, func(t *testing.T) {
			c, keytab := recordGSS(t, s)
			kt, err := os.ReadFile(keytab)
			must(t, err)
			got[s.name] = recorded{c, kt, checkGSSCapture(t, s, c)}
			t.Logf("%s: %d bytes from the client, %d from the server", s.name, len(c.c2s), len(c.s2c))
		})
	}
	if os.Getenv("ZMTPSEC_RECORD") != "1" {
		t.Log("set ZMTPSEC_RECORD=1 to write the captures")
		return
	}
	if t.Failed() {
		t.Fatal("not writing the captures: a session failed")
	}
	notes := map[string][]string{}
	for _, s := range gssSessions {
		r := got[s.name]
		dir := filepath.Join(gssCaptureDir, s.name)
		must(t, os.MkdirAll(dir, 0o755))
		for name, data := range map[string][]byte{
			"c2s.bin": r.c.c2s, "s2c.bin": r.c.s2c, "service.keytab": r.keytab, "session.json": s.fileJSON(),
		} {
			must(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
		}
		notes[s.name] = r.notes
	}
	must(t, os.WriteFile(filepath.Join(gssCaptureDir, "README.md"), gssCaptureReadme(notes), 0o644))
}

// TestGSSAPICaptures checks the committed captures: every session of
// gssSessions is there, nothing else is, each session.json is what its
// definition gives, and each capture passes the checker.
func TestGSSAPICaptures(t *testing.T) {
	entries, err := os.ReadDir(gssCaptureDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		} else if e.Name() != "README.md" {
			t.Errorf("unexpected file %s in %s", e.Name(), gssCaptureDir)
		}
	}
	var names []string
	for _, s := range gssSessions {
		names = append(names, s.name)
	}
	slices.Sort(names)
	if !slices.Equal(dirs, names) {
		t.Errorf("%s holds %q, want %q", gssCaptureDir, dirs, names)
	}
	readme, err := os.ReadFile(filepath.Join(gssCaptureDir, "README.md"))
	if err != nil {
		t.Error(err)
	}
	for _, s := range gssSessions {
		t.Run(s.name, func(t *testing.T) {
			dir := filepath.Join(gssCaptureDir, s.name)
			var c gssCapture
			for name, dst := range map[string]*[]byte{"c2s.bin": &c.c2s, "s2c.bin": &c.s2c} {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				*dst = b
			}
			if c.keytab, err = krbtest.ReadKeytab(filepath.Join(dir, "service.keytab")); err != nil {
				t.Fatal(err)
			}
			js, err := os.ReadFile(filepath.Join(dir, "session.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(js, s.fileJSON()) {
				t.Errorf("session.json differs from the session's definition; record again:\n%s", js)
			}
			notes := checkGSSCapture(t, s, c)
			// The README's summary is the checker's, for these very bytes.
			for _, n := range notes {
				if !bytes.Contains(readme, []byte(n)) {
					t.Errorf("README.md lacks the line %q", n)
					break
				}
			}
		})
	}
}

// Wrap token sizes (RFC 4121 section 4.2.6.2, with the AES enctypes of
// RFC 3962 and RFC 8009): a 16-byte header, then E(confounder | plaintext
// | header copy) with a 16-byte confounder, then the checksum.
const (
	wrapHeaderLen = 16
	wrapConfLen   = 16
)

// wrapHMACLen returns the checksum length of an etype's Wrap tokens.
func wrapHMACLen(etype int32) int {
	switch etype {
	case 17, 18:
		return 12
	case 19:
		return 16
	case 20:
		return 24
	}
	panic(fmt.Sprintf("etype %d", etype))
}

// The plaintexts of libzmq's heartbeats inside MESSAGE: the inner flags
// byte (COMMAND), then "\x04PING" and a 2-byte TTL, or "\x04PONG" and the
// PING's context, empty from libzmq.
const (
	pingPlainLen = 1 + 5 + 2
	pongPlainLen = 1 + 5
)

// checkGSSCapture checks both directions of a capture and returns the
// README's frame-by-frame summary of it.
func checkGSSCapture(t *testing.T, s gssSession, c gssCapture) []string {
	t.Helper()
	etype := s.enctype().Number()
	svc := serviceKeys(c.keytab)
	if len(svc) == 0 || svc[0].Etype != etype {
		t.Errorf("service keytab %+v: want %s keys first, of etype %d", c.keytab, krbtest.ServicePrincipal, etype)
	}
	var notes []string
	for _, client := range []bool{true, false} {
		stream, dir := c.s2c, "S->C"
		if client {
			stream, dir = c.c2s, "C->S"
		}
		ns, err := checkGSSStream(s, client, stream, svc)
		if err != nil {
			t.Errorf("%s %s: %v", s.name, dir, err)
		}
		for _, n := range ns {
			notes = append(notes, dir+" "+n)
		}
	}
	return notes
}

// serviceKeys returns the keys of the service principal in a keytab.
func serviceKeys(kt []krbtest.KeytabEntry) []krbtest.KeytabEntry {
	var svc []krbtest.KeytabEntry
	for _, e := range kt {
		if e.Principal == krbtest.ServicePrincipal {
			svc = append(svc, e)
		}
	}
	return svc
}

// checkGSSStream checks one direction's bytes: greeting, handshake, and
// the frames after it. It returns one note per item, and the first error.
func checkGSSStream(s gssSession, client bool, stream []byte, svc []krbtest.KeytabEntry) ([]string, error) {
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	etype := s.enctype().Number()

	// The greeting: GSSAPI, and as-server 0 on both sides.
	rd := zmtp.NewReader(bytes.NewReader(stream))
	g, err := rd.ReadGreeting()
	if err != nil {
		return notes, err
	}
	if g.Mechanism != "GSSAPI" || g.AsServer || g.Major != 3 || stream[32] != 0 {
		return notes, fmt.Errorf("greeting %+v (as-server byte %#x): want GSSAPI, as-server 0, version 3", g, stream[32])
	}
	note("%-26s version %d.%d, mechanism GSSAPI, as-server 0", "greeting", g.Major, g.Minor)

	// The frames, each re-encoded by zmtp and compared with the bytes
	// libzmq sent: the same header (the LONG flag exactly over 255 bytes)
	// and body.
	type rawFrame struct {
		f   zmtp.Frame
		hdr []byte
	}
	var frames []rawFrame
	off := zmtp.GreetingSize
	for {
		f, err := rd.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			return notes, fmt.Errorf("frame %d: %w", len(frames), err)
		}
		enc := zmtp.AppendFrame(nil, f.Flags, f.Body)
		if !bytes.Equal(enc, stream[off:off+len(enc)]) {
			return notes, fmt.Errorf("frame %d at byte %d does not re-encode to libzmq's bytes", len(frames), off)
		}
		hdr := stream[off : off+len(enc)-len(f.Body)]
		frames = append(frames, rawFrame{zmtp.Frame{Flags: f.Flags, Body: bytes.Clone(f.Body)}, hdr})
		off += len(enc)
	}
	if off != len(stream) {
		return notes, fmt.Errorf("%d bytes after the last frame", len(stream)-off)
	}
	hdrHex := func(i int) string { return fmt.Sprintf("%-26s", fmt.Sprintf("% x", frames[i].hdr)) }

	// The handshake: INITIATE; from the client, the empty command; READY.
	want := 2
	if client {
		want = 3
	}
	if len(frames) < want {
		return notes, fmt.Errorf("%d frames, want at least %d for the handshake", len(frames), want)
	}
	ini, err := parseCommandFrame(frames[0].f, zmtp.CmdInitiate)
	if err != nil {
		return notes, fmt.Errorf("first frame: %w", err)
	}
	tok, err := lengthPrefixed(ini.Data)
	if err != nil {
		return notes, fmt.Errorf("INITIATE: %w", err)
	}
	desc, err := checkGSSToken(tok, client, etype, svc)
	if err != nil {
		return notes, fmt.Errorf("INITIATE token: %w", err)
	}
	note("%s CMD INITIATE, token %d bytes: %s", hdrHex(0), len(tok), desc)
	next := 1
	if client {
		if f := frames[1]; !f.f.IsCommand() || len(f.f.Body) != 0 || !bytes.Equal(f.hdr, []byte{0x04, 0x00}) {
			return notes, fmt.Errorf("second frame % x %s: want the empty command 04 00", f.hdr, partString(f.f.Body))
		}
		note("%s CMD (empty: the client's token loop is done)", hdrHex(1))
		next = 2
	}
	ready := zmtp.AppendReady(nil, readyMetadata(client))
	var seq uint64
	wrapFlags := byte(0x07) // SentByAcceptor | Sealed | AcceptorSubkey
	if client {
		wrapFlags = 0x06 // Sealed | AcceptorSubkey
	}
	// unwrapLen checks a MESSAGE body's Wrap token and returns the length
	// of its plaintext.
	unwrapLen := func(i int, cmd zmtp.Command) (int, error) {
		n, sn, err := wrapPlainLen(i, cmd, wrapFlags, etype)
		if err != nil {
			return 0, err
		}
		if i > next && sn != seq+1 {
			return 0, fmt.Errorf("frame %d: SND_SEQ %d after %d", i, sn, seq)
		}
		seq = sn
		return n, nil
	}
	rf := frames[next]
	if s.plaintext {
		cmd, err := parseCommandFrame(rf.f, zmtp.CmdReady)
		if err != nil {
			return notes, fmt.Errorf("READY: %w", err)
		}
		if !bytes.Equal(rf.f.Body, ready) {
			return notes, fmt.Errorf("READY %q, want %q", rf.f.Body, ready)
		}
		note("%s CMD READY %s (plain)", hdrHex(next), metaString(cmd.Data))
	} else {
		cmd, err := parseCommandFrame(rf.f, zmtp.CmdMessage)
		if err != nil {
			return notes, fmt.Errorf("READY: %w", err)
		}
		n, err := unwrapLen(next, cmd)
		if err != nil {
			return notes, err
		}
		if n != 1+len(ready) {
			return notes, fmt.Errorf("sealed READY: %d bytes of plaintext, want %d (flags byte and %q)", n, 1+len(ready), ready)
		}
		note("%s CMD MESSAGE, Wrap flags %02x seq %d, plaintext %d bytes: 00 + READY %s",
			hdrHex(next), wrapFlags, seq, n, metaString(ready[1+len(zmtp.CmdReady):]))
	}

	// After the handshake: every frame a data frame (no MORE: each part
	// travels alone, its MORE flag inside), carrying MESSAGE when sealed.
	parts := s.wireParts(client)
	pings, pongs := 0, 0
	for i := next + 1; i < len(frames); i++ {
		f := frames[i]
		if s.plaintext {
			if f.f.IsCommand() {
				cmd, err := zmtp.ParseCommand(f.f.Body)
				if err != nil {
					return notes, fmt.Errorf("frame %d: %w", i, err)
				}
				switch {
				case s.heartbeat && cmd.Is(zmtp.CmdPing):
					p, err := zmtp.ParsePing(cmd.Data)
					if err != nil || p.TTL != 0 || len(p.Context) != 0 {
						return notes, fmt.Errorf("frame %d: PING %q (%v): want TTL 0, no context", i, cmd.Data, err)
					}
					pings++
					note("%s CMD PING ttl 0", hdrHex(i))
				case s.heartbeat && cmd.Is(zmtp.CmdPong) && len(cmd.Data) == 0:
					pongs++
					note("%s CMD PONG", hdrHex(i))
				default:
					return notes, fmt.Errorf("frame %d: unexpected command %v", i, cmd)
				}
				continue
			}
			if len(parts) == 0 {
				return notes, fmt.Errorf("frame %d: a data frame past the expected parts: %q", i, f.f.Body)
			}
			if f.f.More() != parts[0].more || !bytes.Equal(f.f.Body, parts[0].body) {
				return notes, fmt.Errorf("frame %d: more=%v %q, want more=%v %q", i, f.f.More(), f.f.Body, parts[0].more, parts[0].body)
			}
			note("%s DATA%s %s", hdrHex(i), moreString(f.f.More()), partString(f.f.Body))
			parts = parts[1:]
			continue
		}
		if f.f.IsCommand() || f.f.More() {
			return notes, fmt.Errorf("frame %d: flags %02x: want a data frame without MORE", i, f.hdr[0])
		}
		cmd, err := zmtp.ParseCommand(f.f.Body)
		if err != nil || !cmd.Is(zmtp.CmdMessage) {
			return notes, fmt.Errorf("frame %d: want MESSAGE: %v %v", i, cmd, err)
		}
		n, err := unwrapLen(i, cmd)
		if err != nil {
			return notes, err
		}
		switch {
		case len(parts) > 0 && n == 1+len(parts[0].body):
			note("%s MESSAGE, Wrap flags %02x seq %d, plaintext %d bytes: %s",
				hdrHex(i), wrapFlags, seq, n, innerString(parts[0]))
			parts = parts[1:]
		case s.heartbeat && n == pingPlainLen:
			pings++
			note("%s MESSAGE, Wrap flags %02x seq %d, plaintext %d bytes: 02 + PING ttl 0 (by its length)", hdrHex(i), wrapFlags, seq, n)
		case s.heartbeat && n == pongPlainLen:
			pongs++
			note("%s MESSAGE, Wrap flags %02x seq %d, plaintext %d bytes: 02 + PONG (by its length)", hdrHex(i), wrapFlags, seq, n)
		default:
			exp := "nothing more"
			if len(parts) > 0 {
				exp = fmt.Sprintf("%d bytes (%s)", 1+len(parts[0].body), innerString(parts[0]))
			}
			return notes, fmt.Errorf("frame %d: %d bytes of plaintext, want %s", i, n, exp)
		}
	}
	if len(parts) > 0 {
		return notes, fmt.Errorf("%d parts missing, the first %s", len(parts), innerString(parts[0]))
	}
	if s.heartbeat && (pings == 0 || pongs == 0) {
		return notes, fmt.Errorf("%d PINGs and %d PONGs, want some of each", pings, pongs)
	}
	if !s.heartbeat && (pings != 0 || pongs != 0) {
		return notes, errors.New("heartbeats in a session without them")
	}
	return notes, nil
}

// parseCommandFrame parses a command frame that must be the command named.
func parseCommandFrame(f zmtp.Frame, name string) (zmtp.Command, error) {
	if !f.IsCommand() {
		return zmtp.Command{}, fmt.Errorf("a data frame %s, want command %s", partString(f.Body), name)
	}
	cmd, err := zmtp.ParseCommand(f.Body)
	if err != nil {
		return cmd, err
	}
	if !cmd.Is(name) {
		return cmd, fmt.Errorf("command %s, want %s", cmd.Name, name)
	}
	return cmd, nil
}

// lengthPrefixed returns the token of an INITIATE or MESSAGE body: a
// 4-byte big-endian length that must be that of the rest.
func lengthPrefixed(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%d bytes, no room for the length", len(b))
	}
	if n := binary.BigEndian.Uint32(b); int64(n) != int64(len(b)-4) {
		return nil, fmt.Errorf("token length %d, but %d bytes follow", n, len(b)-4)
	}
	return b[4:], nil
}

// krb5OID is the Kerberos V5 GSS-API mechanism, RFC 1964.
var krb5OID = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}

// checkGSSToken checks a context token: RFC 2743 section 3.1 framing with
// the krb5 OID, then an AP-REQ (TOK_ID 01 00) from the client or an AP-REP
// (02 00) from the server, RFC 1964 section 1.1 / RFC 4121 section 4.1.
// It returns a description.
func checkGSSToken(tok []byte, client bool, etype int32, svc []krbtest.KeytabEntry) (string, error) {
	var outer asn1.RawValue
	rest, err := asn1.Unmarshal(tok, &outer)
	if err != nil || len(rest) != 0 || outer.Class != asn1.ClassApplication || outer.Tag != 0 || !outer.IsCompound {
		return "", fmt.Errorf("not an RFC 2743 token (60 len ...): %v, %d bytes left", err, len(rest))
	}
	var oid asn1.ObjectIdentifier
	inner, err := asn1.Unmarshal(outer.Bytes, &oid)
	if err != nil || !oid.Equal(krb5OID) {
		return "", fmt.Errorf("mechanism %v (%v), want krb5 %v", oid, err, krb5OID)
	}
	if len(inner) < 2 {
		return "", errors.New("no TOK_ID")
	}
	tokID, msg := inner[:2], inner[2:]
	if !client {
		if !bytes.Equal(tokID, []byte{2, 0}) {
			return "", fmt.Errorf("TOK_ID % x, want 02 00 (AP-REP)", tokID)
		}
		f, err := derFields(msg, asn1.ClassApplication, 15)
		if err != nil {
			return "", fmt.Errorf("AP-REP: %w", err)
		}
		if err := derInts(f, map[int]int{0: 5, 1: 15}); err != nil {
			return "", fmt.Errorf("AP-REP: %w", err)
		}
		et, _, err := encryptedData(f[2])
		if err != nil || et != etype {
			return "", fmt.Errorf("AP-REP enc-part etype %d (%v), want %d", et, err, etype)
		}
		return fmt.Sprintf("GSS krb5 AP-REP (TOK_ID 02 00), enc-part etype %d", et), nil
	}
	if !bytes.Equal(tokID, []byte{1, 0}) {
		return "", fmt.Errorf("TOK_ID % x, want 01 00 (AP-REQ)", tokID)
	}
	f, err := derFields(msg, asn1.ClassApplication, 14)
	if err != nil {
		return "", fmt.Errorf("AP-REQ: %w", err)
	}
	if err := derInts(f, map[int]int{0: 5, 1: 14}); err != nil {
		return "", fmt.Errorf("AP-REQ: %w", err)
	}
	var opts asn1.BitString
	if _, err := asn1.Unmarshal(f[2].FullBytes, &opts); err != nil || opts.At(2) != 1 || opts.At(1) != 0 {
		return "", fmt.Errorf("AP-REQ ap-options %x (%v): want mutual-required, not use-session-key", opts.Bytes, err)
	}
	tf, err := derFields(f[3].FullBytes, asn1.ClassApplication, 1)
	if err != nil {
		return "", fmt.Errorf("ticket: %w", err)
	}
	realm := string(tf[1].Bytes)
	pn, err := derFields(tf[2].FullBytes, asn1.ClassUniversal, asn1.TagSequence)
	if err != nil {
		return "", fmt.Errorf("ticket sname: %w", err)
	}
	var comps []string
	for b := pn[1].Bytes; len(b) > 0; {
		var s asn1.RawValue
		if b, err = asn1.Unmarshal(b, &s); err != nil {
			return "", fmt.Errorf("ticket sname: %w", err)
		}
		comps = append(comps, string(s.Bytes))
	}
	sname := strings.Join(comps, "/") + "@" + realm
	if sname != krbtest.ServicePrincipal {
		return "", fmt.Errorf("ticket for %s, want %s", sname, krbtest.ServicePrincipal)
	}
	tet, kvno, err := encryptedData(tf[3])
	if err != nil || tet != etype || len(svc) == 0 || kvno != int(svc[0].KVNO) {
		return "", fmt.Errorf("ticket enc-part etype %d kvno %d (%v), want etype %d and the keytab's kvno", tet, kvno, err, etype)
	}
	aet, _, err := encryptedData(f[4])
	if err != nil || aet != etype {
		return "", fmt.Errorf("authenticator etype %d (%v), want %d", aet, err, etype)
	}
	return fmt.Sprintf("GSS krb5 AP-REQ (TOK_ID 01 00), mutual-required, ticket for %s etype %d kvno %d, authenticator etype %d",
		sname, tet, kvno, aet), nil
}

// derFields parses a DER element of the class and tag given whose
// content is a SEQUENCE of explicitly tagged fields ([n] x), or is itself
// that SEQUENCE, and returns each field's inner element by its tag.
func derFields(b []byte, class, tag int) (map[int]asn1.RawValue, error) {
	var el asn1.RawValue
	rest, err := asn1.Unmarshal(b, &el)
	if err != nil || len(rest) != 0 || el.Class != class || el.Tag != tag {
		return nil, fmt.Errorf("want [%d %d], got [%d %d] (%v, %d bytes left)", class, tag, el.Class, el.Tag, err, len(rest))
	}
	seq := el
	if class != asn1.ClassUniversal {
		if rest, err = asn1.Unmarshal(el.Bytes, &seq); err != nil || len(rest) != 0 || seq.Tag != asn1.TagSequence {
			return nil, fmt.Errorf("want a SEQUENCE inside (%v)", err)
		}
	}
	out := map[int]asn1.RawValue{}
	for b := seq.Bytes; len(b) > 0; {
		var fld, inner asn1.RawValue
		if b, err = asn1.Unmarshal(b, &fld); err != nil {
			return nil, err
		}
		if fld.Class != asn1.ClassContextSpecific {
			return nil, fmt.Errorf("field of class %d", fld.Class)
		}
		if rest, err := asn1.Unmarshal(fld.Bytes, &inner); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("field [%d]: %v", fld.Tag, err)
		}
		out[fld.Tag] = inner
	}
	return out, nil
}

// derInts checks INTEGER fields.
func derInts(f map[int]asn1.RawValue, want map[int]int) error {
	for tag, w := range want {
		var v int
		if _, err := asn1.Unmarshal(f[tag].FullBytes, &v); err != nil || v != w {
			return fmt.Errorf("field [%d] = %d (%v), want %d", tag, v, err, w)
		}
	}
	return nil
}

// encryptedData returns an EncryptedData's etype and kvno (0 if absent).
func encryptedData(el asn1.RawValue) (etype int32, kvno int, err error) {
	f, err := derFields(el.FullBytes, asn1.ClassUniversal, asn1.TagSequence)
	if err != nil {
		return 0, 0, err
	}
	var e int
	if _, err := asn1.Unmarshal(f[0].FullBytes, &e); err != nil {
		return 0, 0, err
	}
	if k, ok := f[1]; ok {
		if _, err := asn1.Unmarshal(k.FullBytes, &kvno); err != nil {
			return 0, 0, err
		}
	}
	if c, ok := f[2]; !ok || c.Tag != asn1.TagOctetString || len(c.Bytes) == 0 {
		return 0, 0, errors.New("no cipher")
	}
	return int32(e), kvno, nil
}

func metaString(b []byte) string {
	md, err := zmtp.ParseMetadata(b)
	if err != nil {
		return fmt.Sprintf("(bad metadata: %v)", err)
	}
	var s []string
	for _, p := range md {
		s = append(s, fmt.Sprintf("%s=%q", p.Name, p.Value))
	}
	return strings.Join(s, " ")
}

func moreString(more bool) string {
	if more {
		return " MORE"
	}
	return ""
}

// partString shows a part: short ones quoted, long ones by their length.
func partString(b []byte) string {
	if len(b) > 32 {
		return fmt.Sprintf("%d bytes %q...", len(b), b[:8])
	}
	return fmt.Sprintf("%q", b)
}

// innerString shows a part as it is inside MESSAGE: the flags byte, then
// the body.
func innerString(p gssPart) string {
	flags := "00"
	if p.more {
		flags = "01"
	}
	return flags + " + " + partString(p.body)
}

// gssCaptureReadme is the captures' README.md.
func gssCaptureReadme(notes map[string][]string) []byte {
	var b strings.Builder
	b.WriteString("# GSSAPI sessions between two libzmq 4.3.4 peers\n\n")
	b.WriteString("Recorded through a TCP relay between a libzmq REQ client and a libzmq REP server, each\n")
	b.WriteString("session in a throwaway MIT realm of its own (internal/krbtest), by\n")
	b.WriteString("`conformance/gssapi_capture_test.go`; docs/gssapi-realm.md says what each file is and\n")
	b.WriteString("what is checked. Regenerate them all with:\n\n")
	b.WriteString("```\ncd conformance && ZMTPSEC_RECORD=1 go test -count=1 -run 'TestGSSAPICaptureRecord' .\n```\n\n")
	fmt.Fprintf(&b, "Recorded %s with %s on %s/%s.\n\n", time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	maj, min, pat := zmq.Version()
	fmt.Fprintf(&b, "libzmq %d.%d.%d (zmq_version); Debian packages (dpkg-query):\n\n```\n", maj, min, pat)
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Package} ${Version}\n",
		"libzmq5", "libkrb5-3", "libgssapi-krb5-2", "krb5-kdc", "krb5-admin-server").Output()
	if err != nil {
		fmt.Fprintf(&b, "(dpkg-query: %v)\n", err)
	} else {
		b.Write(out)
	}
	b.WriteString("```\n\n")
	b.WriteString("Realm `ZMTP.TEST`; service `zmqtest/localhost@ZMTP.TEST` (the client sets\n")
	b.WriteString("ZMQ_GSSAPI_SERVICE_PRINCIPAL to `zmqtest@localhost`), client `alice@ZMTP.TEST` from a keytab.\n")
	b.WriteString("The client sends `hello world`, an empty part and 300 bytes of `x` (a REQ socket puts an\n")
	b.WriteString("empty delimiter first); the server answers `the reply`. Each directory's session.json has\n")
	b.WriteString("the details.\n\n")
	b.WriteString("Below, each direction's frames in order, as the checker of TestGSSAPICaptures reads them.\n")
	b.WriteString("Frame headers in hex (flags, size); sealed plaintexts are known by their length (token\n")
	b.WriteString("length - 16 header - 16 confounder - 16 header copy - the enctype's HMAC), not decrypted.\n")
	b.WriteString("The client sends INITIATE, the server its INITIATE, the client its empty command, the\n")
	b.WriteString("server READY, the client READY; then the messages.\n")
	for _, s := range gssSessions {
		fmt.Fprintf(&b, "\n## %s\n\n%s.\n\n```\n", s.name, s.about)
		for _, n := range notes[s.name] {
			b.WriteString(n + "\n")
		}
		b.WriteString("```\n")
	}
	return []byte(b.String())
}

// TestGSSAPICaptureChecker feeds the checker committed captures with one
// thing wrong each, so that a checker that accepts anything cannot pass.
func TestGSSAPICaptureChecker(t *testing.T) {
	load := func(name string) (gssSession, gssCapture) {
		t.Helper()
		i := slices.IndexFunc(gssSessions, func(s gssSession) bool { return s.name == name })
		if i < 0 {
			t.Fatalf("no session %s", name)
		}
		dir := filepath.Join(gssCaptureDir, name)
		var c gssCapture
		var err error
		if c.c2s, err = os.ReadFile(filepath.Join(dir, "c2s.bin")); err != nil {
			t.Fatal(err)
		}
		if c.s2c, err = os.ReadFile(filepath.Join(dir, "s2c.bin")); err != nil {
			t.Fatal(err)
		}
		if c.keytab, err = krbtest.ReadKeytab(filepath.Join(dir, "service.keytab")); err != nil {
			t.Fatal(err)
		}
		return gssSessions[i], c
	}
	// split and join cut a stream into its greeting and frames, and put
	// it back together.
	split := func(stream []byte) ([]byte, []zmtp.Frame) {
		rd := zmtp.NewReader(bytes.NewReader(stream))
		if _, err := rd.ReadGreeting(); err != nil {
			t.Fatal(err)
		}
		var fs []zmtp.Frame
		for {
			f, err := rd.ReadFrame()
			if err == io.EOF {
				return stream[:zmtp.GreetingSize], fs
			}
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, zmtp.Frame{Flags: f.Flags, Body: bytes.Clone(f.Body)})
		}
	}
	join := func(g []byte, fs []zmtp.Frame) []byte {
		out := bytes.Clone(g)
		for _, f := range fs {
			out = zmtp.AppendFrame(out, f.Flags, f.Body)
		}
		return out
	}
	// frameEdit returns the stream with fn applied to a copy of its frames.
	frameEdit := func(stream []byte, fn func([]zmtp.Frame) []zmtp.Frame) []byte {
		g, fs := split(stream)
		return join(g, fn(fs))
	}
	// The frames of the sealed client stream: 0 INITIATE, 1 empty, 2
	// READY, 3 delimiter, 4 "hello world", 5 "", 6 300 bytes. In a
	// MESSAGE body the token starts at byte 12 (name and length).
	const tokAt = 1 + len(zmtp.CmdMessage) + 4
	setByte := func(i, at int, v byte) func([]zmtp.Frame) []zmtp.Frame {
		return func(fs []zmtp.Frame) []zmtp.Frame { fs[i].Body[at] = v; return fs }
	}

	sealed, sc := load("sealed")
	plain, pc := load("plaintext")
	hb, hc := load("heartbeat")
	_, ec := load("aes128-sha256")
	type side struct {
		s      gssSession
		client bool
		stream []byte
		svc    []krbtest.KeytabEntry
	}
	for _, ok := range []side{{sealed, true, sc.c2s, sc.keytab}, {sealed, false, sc.s2c, sc.keytab},
		{plain, true, pc.c2s, pc.keytab}, {plain, false, pc.s2c, pc.keytab}, {hb, true, hc.c2s, hc.keytab}} {
		if _, err := checkGSSStream(ok.s, ok.client, ok.stream, serviceKeys(ok.svc)); err != nil {
			t.Fatalf("%s client=%v: the unaltered capture fails: %v", ok.s.name, ok.client, err)
		}
	}

	cases := []struct {
		name string
		side side
	}{
		{"as-server 1", side{sealed, true, func() []byte { b := bytes.Clone(sc.c2s); b[32] = 1; return b }(), sc.keytab}},
		{"mechanism CURVE", side{sealed, true, func() []byte { b := bytes.Clone(sc.c2s); copy(b[12:], "CURVE\x00"); return b }(), sc.keytab}},
		{"no empty command", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame { return slices.Delete(fs, 1, 2) }), sc.keytab}},
		{"INITIATE length off by one", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame {
			fs[0].Body[1+len(zmtp.CmdInitiate)+3]++
			return fs
		}), sc.keytab}},
		{"AP-REQ TOK_ID 02 00", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame {
			i := bytes.Index(fs[0].Body, []byte{0x12, 0x01, 0x02, 0x02, 0x01, 0x00})
			fs[0].Body[i+4] = 2
			return fs
		}), sc.keytab}},
		{"AP-REP from the client", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame {
			_, sfs := split(sc.s2c)
			fs[0] = sfs[0]
			return fs
		}), sc.keytab}},
		{"READY in a data frame", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame { fs[2].Flags = 0; return fs }), sc.keytab}},
		{"a data frame as a command", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame { fs[4].Flags = zmtp.FlagCommand; return fs }), sc.keytab}},
		{"a data frame with MORE", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame { fs[3].Flags = zmtp.FlagMore; return fs }), sc.keytab}},
		{"Wrap flags 07 from the client", side{sealed, true, frameEdit(sc.c2s, setByte(4, tokAt+2, 0x07)), sc.keytab}},
		{"Wrap RRC 28", side{sealed, true, frameEdit(sc.c2s, setByte(4, tokAt+7, 28)), sc.keytab}},
		{"Wrap sequence gap", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame {
			for _, f := range fs[5:] {
				seq := binary.BigEndian.Uint64(f.Body[tokAt+8:])
				binary.BigEndian.PutUint64(f.Body[tokAt+8:], seq+1)
			}
			return fs
		}), sc.keytab}},
		{"parts reordered", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame {
			fs[4], fs[5] = fs[5], fs[4]
			return fs
		}), sc.keytab}},
		{"a part missing", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame { return fs[:len(fs)-1] }), sc.keytab}},
		{"a longer token", side{sealed, true, frameEdit(sc.c2s, func(fs []zmtp.Frame) []zmtp.Frame {
			b := append(bytes.Clone(fs[4].Body), 0)
			binary.BigEndian.PutUint32(b[1+len(zmtp.CmdMessage):], uint32(len(b)-tokAt))
			fs[4].Body = b
			return fs
		}), sc.keytab}},
		{"a trailing partial frame", side{sealed, true, append(bytes.Clone(sc.c2s), 0x00, 0x49, 0x07), sc.keytab}},
		{"a ticket under another kvno", side{sealed, true, sc.c2s, func() []krbtest.KeytabEntry {
			kt := slices.Clone(sc.keytab)
			for i := range kt {
				kt[i].KVNO = 2
			}
			return kt
		}()}},
		{"another enctype than the session's", side{sealed, true, ec.c2s, ec.keytab}},
		{"plaintext: a part changed", side{plain, true, bytes.Replace(pc.c2s, []byte("hello world"), []byte("hello worle"), 1), pc.keytab}},
		{"plaintext: READY of a DEALER", side{plain, true, bytes.Replace(pc.c2s, []byte("\x03REQ"), []byte("\x03DEA"), 1), pc.keytab}},
		{"plaintext: sealed session", side{sealed, true, pc.c2s, pc.keytab}},
		{"sealed: plaintext session", side{plain, true, sc.c2s, sc.keytab}},
		{"heartbeats unexpected", side{sealed, true, hc.c2s, hc.keytab}},
		{"heartbeats missing", side{hb, true, sc.c2s, sc.keytab}},
	}
	for _, tc := range cases {
		if _, err := checkGSSStream(tc.side.s, tc.side.client, tc.side.stream, serviceKeys(tc.side.svc)); err == nil {
			t.Errorf("%s: the checker accepted it", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}

// wrapPlainLen checks the sealed Wrap token in MESSAGE command cmd (frame
// i): its length prefix, and a header 05 04 wrapFlags ff with EC and RRC 0,
// as MIT sends them. It returns the length of the token's plaintext under
// enctype etype (at least 1: the inner flags byte) and its SND_SEQ.
func wrapPlainLen(i int, cmd zmtp.Command, wrapFlags byte, etype int32) (n int, seq uint64, err error) {
	tok, err := lengthPrefixed(cmd.Data)
	if err != nil {
		return 0, 0, fmt.Errorf("frame %d: MESSAGE: %w", i, err)
	}
	if len(tok) < wrapHeaderLen {
		return 0, 0, fmt.Errorf("frame %d: Wrap token of %d bytes", i, len(tok))
	}
	h := tok[:wrapHeaderLen]
	if h[0] != 0x05 || h[1] != 0x04 || h[2] != wrapFlags || h[3] != 0xff || h[4] != 0 || h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return 0, 0, fmt.Errorf("frame %d: Wrap header % x: want 05 04 %02x ff, EC 0, RRC 0", i, h[:8], wrapFlags)
	}
	n = len(tok) - wrapHeaderLen - wrapConfLen - wrapHeaderLen - wrapHMACLen(etype)
	if n < 1 {
		return 0, 0, fmt.Errorf("frame %d: Wrap token of %d bytes has no room for the flags byte", i, len(tok))
	}
	return n, binary.BigEndian.Uint64(h[8:]), nil
}
