package transport

// Replays of NULL sessions recorded against libzmq 4.3.4 (testdata/
// transcripts, written by conformance/null_record_test.go): our side runs
// again, with the recorded Config, on a transcript.Replay that plays
// libzmq's part. Our bytes must match the recording byte for byte, and
// every message we read must be the recorded one. These are libzmq-backed
// tests that need no libzmq.
//
// To record the transcripts again (needs libzmq3-dev and cgo):
//
//	cd conformance && ZMTPSEC_RECORD=1 go test -count=1 -run 'TestNullRecord' .

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/internal/transcript"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

const replayDir = "testdata/transcripts"

// replayFiles returns the recorded transcripts; there must be some.
func replayFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(replayDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("%d transcripts in %s; want the five NULL scenarios recorded against libzmq", len(files), replayDir)
	}
	return files
}

func replayLoad(t *testing.T, path string) *transcript.Transcript {
	t.Helper()
	tr, err := transcript.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// replaySession replays tr with our side only and returns the first error:
// our handshake, write or read failing, a difference from the recording
// (a *transcript.MismatchError), a message or a connection state other than
// the recorded one, or our side not writing everything it wrote then.
// modify, if not nil, may change the Config before the handshake.
func replaySession(tr *transcript.Transcript, modify func(*Config)) error {
	rp := transcript.NewReplay(tr)
	defer rp.Close()
	notes := tr.Notes()
	var (
		cfg  Config
		role string
		c    *Conn
	)
	// with adds what the replay knows about our side's position to err.
	with := func(err error) error {
		if cerr := rp.Check(); cerr != nil && cerr != err && !errors.Is(err, cerr) {
			return fmt.Errorf("%w (%v)", err, cerr)
		}
		return err
	}
	for i, note := range notes {
		verb, args, err := transcript.SplitNote(note)
		if err != nil {
			return err
		}
		frames := make([][]byte, len(args))
		for i, a := range args {
			frames[i] = []byte(a)
		}
		if verb != "role" && verb != "socket-type" && verb != "identity" && c == nil && verb != "handshake" {
			return fmt.Errorf("note %q before the handshake", note)
		}
		switch verb {
		case "role":
			role = args[0]
		case "socket-type":
			cfg.SocketType = zmtp.SocketType(args[0])
		case "identity":
			cfg.Identity = frames[0]
		case "handshake":
			if modify != nil {
				modify(&cfg)
			}
			switch role {
			case "client":
				c = Client(rp, &cfg)
			case "server":
				c = Server(rp, &cfg)
			default:
				return fmt.Errorf("role %q", role)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if err := c.HandshakeContext(context.Background()); err != nil {
				return with(fmt.Errorf("handshake: %w", err))
			}
			st := c.ConnectionState()
			if v := fmt.Sprintf("%d.%d", st.PeerMajor, st.PeerMinor); len(args) != 1 || v != args[0] {
				return fmt.Errorf("peer version %s, recorded %q", v, args)
			}
			// The peer-* notes that follow say what the state must hold;
			// an identity not noted must be nil.
			want := map[string]string{}
			for _, n := range notes[i+1:] {
				v, a, _ := transcript.SplitNote(n)
				if !strings.HasPrefix(v, "peer-") {
					break
				}
				want[v] = a[0]
			}
			if got := string(st.PeerSocketType); got != want["peer-socket-type"] {
				return fmt.Errorf("PeerSocketType %q, recorded %q", got, want["peer-socket-type"])
			}
			if id, ok := want["peer-identity"]; ok != (st.PeerIdentity != nil) || string(st.PeerIdentity) != id {
				return fmt.Errorf("PeerIdentity %q (nil %v), recorded %q (noted %v)", st.PeerIdentity, st.PeerIdentity == nil, id, ok)
			}
		case "peer-socket-type", "peer-identity":
			// Checked with the handshake.
		case "write":
			if err := c.WriteMessage(frames); err != nil {
				return with(fmt.Errorf("write %q: %w", note, err))
			}
		case "subscribe":
			if err := c.Subscribe(frames[0]); err != nil {
				return with(fmt.Errorf("subscribe: %w", err))
			}
		case "unsubscribe":
			if err := c.Unsubscribe(frames[0]); err != nil {
				return with(fmt.Errorf("unsubscribe: %w", err))
			}
		case "read":
			msg, err := c.ReadMessage(nil)
			if err != nil {
				return with(fmt.Errorf("read: %w", err))
			}
			if !replayEqual(msg, frames) {
				return fmt.Errorf("read %q, recorded %q", msg, frames)
			}
		default:
			return fmt.Errorf("unknown note %q", note)
		}
	}
	if c == nil {
		return errors.New("no handshake in the transcript")
	}
	return rp.Check()
}

func replayEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestReplayLibzmqTranscripts(t *testing.T) {
	for _, path := range replayFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			t.Parallel()
			tr := replayLoad(t, path)
			if h := tr.Header(); len(h) == 0 || !strings.Contains(strings.Join(h, "\n"), "libzmq 4.3.4") {
				t.Errorf("header %q does not say what was recorded against", h)
			}
			if err := replaySession(tr, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReplayDetectsDifferences makes sure a replay is not vacuous: a
// different identity, socket type or recorded byte must fail it, with the
// offset of our first byte that differs.
func TestReplayDetectsDifferences(t *testing.T) {
	path := filepath.Join(replayDir, "null-client-dealer-libzmq-router.txt")
	t.Run("other-identity", func(t *testing.T) {
		err := replaySession(replayLoad(t, path), func(c *Config) { c.Identity = []byte("GO-DEALEX") })
		var me *transcript.MismatchError
		// Our greeting is 64 bytes; READY's metadata puts the last byte of
		// the identity 49 bytes into the frame.
		if !errors.As(err, &me) || me.Offset != 64+51 {
			t.Fatalf("replay with another identity: %v; want a mismatch at byte %d", err, 64+51)
		}
	})
	t.Run("other-socket-type", func(t *testing.T) {
		// ROUTER is as long as DEALER: only the value differs, 24 bytes
		// into the READY frame.
		err := replaySession(replayLoad(t, path), func(c *Config) { c.SocketType = zmtp.ROUTER })
		var me *transcript.MismatchError
		if !errors.As(err, &me) || me.Offset != 64+24 {
			t.Fatalf("replay as ROUTER: %v; want a mismatch in READY's Socket-Type (byte %d)", err, 64+24)
		}
	})
	t.Run("altered-recording", func(t *testing.T) {
		tr := replayLoad(t, path)
		// Change the last byte we wrote: the replay must fail on it.
		last := -1
		for i, r := range tr.Records {
			if r.Kind == transcript.Ours {
				last = i
			}
		}
		data := tr.Records[last].Data
		data[len(data)-1] ^= 0xff
		total := len(tr.Stream(transcript.Ours))
		err := replaySession(tr, nil)
		var me *transcript.MismatchError
		if !errors.As(err, &me) || me.Offset != total-1 || me.Line != tr.Records[last].Line {
			t.Fatalf("replay of an altered recording: %v; want a mismatch at byte %d, line %d", err, total-1, tr.Records[last].Line)
		}
	})
	t.Run("peer-message-altered", func(t *testing.T) {
		tr := replayLoad(t, path)
		// Change the last byte libzmq wrote ("bye" becomes "byf"): our
		// bytes still match, but what we read does not.
		for i := len(tr.Records) - 1; i >= 0; i-- {
			if r := tr.Records[i]; r.Kind == transcript.Peer {
				r.Data[len(r.Data)-1]++
				break
			}
		}
		err := replaySession(tr, nil)
		if err == nil || !strings.Contains(err.Error(), `read ["byf"], recorded ["bye"]`) {
			t.Fatalf("replay with an altered peer message: %v", err)
		}
	})
}
