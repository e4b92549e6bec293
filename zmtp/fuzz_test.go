package zmtp_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/zmtpsec/zmtpsec/internal/testhelp"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// The fuzz targets below check invariants, not just the absence of panics:
// whatever parses re-serialises to the same bytes (or to a canonical form
// that parses to the same value), and lengths add up. Their seeds are
// valid encodings built by this package's own Append functions plus the
// golden bytes of docs/wire-format.md. The same seeds are committed under
// testdata/fuzz/FuzzX/ in the "go test fuzz v1" format; regenerate them with
//
//	go test ./zmtp -run TestSeedCorpus -update-corpus

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora in testdata/fuzz")

func greetingSeeds() [][]byte {
	var seeds [][]byte
	for _, mech := range []string{"NULL", "PLAIN", "CURVE", "GSSAPI", "ABCDEFGHIJ0123456789"} {
		for _, minor := range []uint8{0, 1} {
			for _, as := range []bool{false, true} {
				seeds = append(seeds, zmtp.Greeting{Major: 3, Minor: minor, Mechanism: mech, AsServer: as}.Append(nil))
			}
		}
	}
	seeds = append(seeds,
		testhelp.Cat(testhelp.Wire(`FF 00 00 00 00 00 00 00 01 7F 03 01 43 55 52 56 45 00 00 00`), zeros(44)), // docs/wire-format.md#greeting
		greetingBytes(libzmqPad3, 0x7F, 3, 1, mechField("PLAIN"), 0),
		greetingBytes(zeroPad, 0x01, 4, 0xFF, mechField("NULL"), 0xFF),
		testhelp.Cat([]byte{0x01, 0x00}, zeros(62)),                     // ZMTP 1.0
		greetingBytes(zeroPad, 0x7E, 3, 1, mechField("NULL"), 0),        // 1.0, long
		greetingBytes(libzmqPad, 0x7F, 1, 5, mechField(""), 0),          // 2.0
		greetingBytes(libzmqPad, 0x7F, 3, 1, mechField("NULL\x00X"), 0), // not NUL-padded
		greetingBytes(libzmqPad, 0x7F, 3, 1, mechField("null"), 0),
	)
	return seeds
}

// FuzzGreeting parses 64-byte greetings. A greeting that parses re-encodes
// to 64 bytes that parse to the same Greeting and agree with the input on
// every significant byte; its every prefix passes CheckGreetingPrefix; and
// Reader.ReadGreeting, fed one byte at a time, agrees with ParseGreeting.
func FuzzGreeting(f *testing.F) {
	for _, s := range greetingSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := zmtp.ParseGreeting(data)

		// The Reader agrees with the parser on the first 64 bytes.
		rg, rerr := zmtp.NewReader(iotest.OneByteReader(bytes.NewReader(data))).ReadGreeting()
		if len(data) >= zmtp.GreetingSize {
			pg, perr := zmtp.ParseGreeting(data[:zmtp.GreetingSize])
			if pg != rg || !sameError(perr, rerr) {
				t.Fatalf("ReadGreeting = %+v, %v; ParseGreeting = %+v, %v", rg, rerr, pg, perr)
			}
		} else if rerr == nil {
			t.Fatalf("ReadGreeting of %d bytes succeeded: %+v", len(data), rg)
		}

		if err != nil {
			if g != (zmtp.Greeting{}) {
				t.Fatalf("non-zero Greeting %+v with error %v", g, err)
			}
			if len(data) != zmtp.GreetingSize {
				if !errors.Is(err, zmtp.ErrMalformed) {
					t.Fatalf("wrong length: %v", err)
				}
				return
			}
			perr := zmtp.CheckGreetingPrefix(data)
			switch {
			case errors.Is(err, zmtp.ErrUnsupportedVersion):
				if !sameError(err, perr) {
					t.Fatalf("ParseGreeting: %v; CheckGreetingPrefix: %v", err, perr)
				}
			case errors.Is(err, zmtp.ErrMalformed):
				if perr != nil {
					t.Fatalf("malformed %v, but the prefix says %v", err, perr)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}

		for k := 0; k <= len(data); k++ {
			if err := zmtp.CheckGreetingPrefix(data[:k]); err != nil {
				t.Fatalf("prefix of %d bytes of a valid greeting: %v", k, err)
			}
		}
		if !zmtp.ValidMechanismName(g.Mechanism) || g.Major < 3 {
			t.Fatalf("parsed an invalid greeting %+v", g)
		}
		enc := g.Append(nil)
		if len(enc) != zmtp.GreetingSize {
			t.Fatalf("Append gives %d bytes", len(enc))
		}
		g2, err := zmtp.ParseGreeting(enc)
		if err != nil {
			t.Fatalf("re-parse of %x: %v", enc, err)
		}
		if g2 != g {
			t.Fatalf("round trip: %+v then %+v", g, g2)
		}
		// Significant bytes agree: signature ends, version, mechanism and
		// the as-server bit.
		if enc[0] != data[0] || enc[9]&1 != data[9]&1 || !bytes.Equal(enc[10:32], data[10:32]) || enc[32] != data[32]&1 {
			t.Fatalf("significant bytes differ:\n in  %x\n out %x", data, enc)
		}
	})
}

func readFramesSeeds() []readFramesSeed {
	body256 := bytes.Repeat([]byte{0x5A}, 256)
	streams := [][]byte{
		nil,
		goldenReadyDealerFrame,
		testhelp.Cat(testhelp.Wire(`04 07 04 50 49 4E 47 00 64`), testhelp.Wire(`04 05 04 50 4F 4E 47`),
			testhelp.Wire(`04 0B 09 53 55 42 53 43 52 49 42 45 41`), testhelp.Wire(`00 02 01 41`)),
		testhelp.Wire(`04 09 5E 52 52 4F 52 03 34 30 30`),
		testhelp.Wire(`01 01 41 01 00 00 05 68 65 6C 6C 6F`),
		testhelp.Wire(`02 00 00 00 00 00 00 00 03 "abc" 06 00 00 00 00 00 00 00 00`),
		testhelp.Wire(`F9 01 41 FC 00 FA 00 00 00 00 00 00 00 01 42`),
		zmtp.AppendFrame(zmtp.AppendFrame(nil, zmtp.FlagMore, body256), zmtp.FlagCommand, body256),
		testhelp.Wire(`00 01 41 05 00`),
		testhelp.Wire(`02 80 00 00 00 00 00 00 00`),
		testhelp.Cat(testhelp.Wire(`02 40 00 00 00 00 00 00 00`), bytes.Repeat([]byte{1}, 100)),
		testhelp.Wire(`00 05 68 65`),
		testhelp.Cat(greetingSeeds()[0], testhelp.Wire(`00 00`)),
	}
	var seeds []readFramesSeed
	for i, s := range streams {
		seeds = append(seeds, readFramesSeed{s, []uint32{0, 10, 255, 1 << 20}[i%4], []uint8{0, 1, 3}[i%3]})
	}
	return seeds
}

type readFramesSeed struct {
	data  []byte
	max   uint32
	chunk uint8
}

// FuzzReadFrames reads frames from arbitrary bytes with a frame limit (max;
// 0 means none) from a source that returns at most chunk bytes per Read (0:
// as many as asked). For every frame, the flags and body match the input
// at the current offset; AppendFrame re-encodes them to a canonical frame
// that parses back to the same flags and size; no body over the limit is
// returned; and the bytes consumed equal the sum of the header and body
// lengths. The final error is consistent with the remaining input.
func FuzzReadFrames(f *testing.F) {
	for _, s := range readFramesSeeds() {
		f.Add(s.data, s.max, s.chunk)
	}
	f.Fuzz(func(t *testing.T, data []byte, max uint32, chunk uint8) {
		var src io.Reader = bytes.NewReader(data)
		if chunk > 0 {
			src = &chunkReader{r: src, size: int(chunk)}
		}
		cr := &countingReader{r: src}
		r := zmtp.NewReader(cr)
		r.SetMaxFrameSize(int64(max))
		off := 0 // our own cursor in data
		for {
			if consumed := cr.n - r.Buffered(); consumed != off {
				t.Fatalf("consumed %d bytes, frames add up to %d", consumed, off)
			}
			fr, err := r.ReadFrame()
			rest := data[off:]
			if err != nil {
				_, size, hdr, ok, herr := zmtp.ParseFrameHeader(rest)
				switch {
				case err == io.EOF:
					if len(rest) != 0 {
						t.Fatalf("io.EOF with %d bytes left", len(rest))
					}
				case err == io.ErrUnexpectedEOF:
					// The header or the body is incomplete. (A header that
					// is both malformed and incomplete may be reported
					// either way.)
					headerShort := len(rest) < 2 || rest[0]&byte(zmtp.FlagLong) != 0 && len(rest) < 9
					if len(rest) == 0 || !headerShort && (herr != nil || uint64(len(rest)-hdr) >= size) {
						t.Fatalf("io.ErrUnexpectedEOF with %x left", rest)
					}
				case errors.Is(err, zmtp.ErrMalformed):
					if herr == nil {
						t.Fatalf("%v, but the header %x parses", err, rest[:min(len(rest), 9)])
					}
				case errors.Is(err, zmtp.ErrFrameTooLarge):
					var fe *zmtp.FrameTooLargeError
					if !errors.As(err, &fe) || !ok || fe.Size != size {
						t.Fatalf("%v for header %x (size %d ok %v)", err, rest[:min(len(rest), 9)], size, ok)
					}
					if max != 0 && size <= uint64(max) {
						t.Fatalf("%v under the limit %d", err, max)
					}
				default:
					t.Fatalf("unexpected error %v", err)
				}
				// Sticky. (Checked only with -knownbugs until ReadFrame
				// stops re-parsing buffered bytes after an error; see
				// TestReaderStickyUnexpectedEOF.)
				if _, err2 := r.ReadFrame(); !sameError(err, err2) {
					t.Fatalf("ReadFrame after %v = %v", err, err2)
				}
				return
			}

			// The frame agrees with the input at off.
			hdr := 2
			if rest[0]&byte(zmtp.FlagLong) != 0 {
				hdr = 9
			}
			n := len(fr.Body)
			if hdr+n > len(rest) || !bytes.Equal(fr.Body, rest[hdr:hdr+n]) {
				t.Fatalf("body of %d bytes does not match the input at %d", n, off)
			}
			if want := zmtp.Flags(rest[0]) & (zmtp.FlagMore | zmtp.FlagCommand); fr.Flags != want {
				t.Fatalf("flags %#x, input byte %#x", byte(fr.Flags), rest[0])
			}
			if fr.More() && fr.IsCommand() {
				t.Fatalf("command frame with MORE returned")
			}
			if max != 0 && uint64(n) > uint64(max) {
				t.Fatalf("a %d-byte body over the %d limit was returned", n, max)
			}
			if cap(fr.Body) != n {
				t.Fatalf("body cap %d, len %d", cap(fr.Body), n)
			}

			// Re-serialise canonically and parse back.
			enc := zmtp.AppendFrame(nil, fr.Flags, fr.Body)
			pf, size, phdr, ok, perr := zmtp.ParseFrameHeader(enc)
			if perr != nil || !ok || pf != fr.Flags || size != uint64(n) || phdr != zmtp.FrameHeaderSize(n) || phdr+n != len(enc) {
				t.Fatalf("re-parse of %x: %#x %d %d %v %v", enc[:min(len(enc), 9)], byte(pf), size, phdr, ok, perr)
			}
			if !bytes.Equal(enc[phdr:], fr.Body) {
				t.Fatal("re-encoded body differs")
			}
			if hdr == phdr && rest[0] == enc[0] && !bytes.Equal(enc, rest[:hdr+n]) {
				t.Fatalf("canonical input %x re-encodes as %x", rest[:hdr+n], enc)
			}
			off += hdr + n
		}
	})
}

func commandSeeds() [][]byte {
	seeds := [][]byte{
		goldenReadyDealer, goldenPing, goldenPong, goldenSubscribe, goldenHello, goldenWelcome,
		goldenError400, goldenLibzmqError, goldenLibzmqError5,
		zmtp.AppendCancel(nil, []byte("topic")),
		zmtp.AppendError(nil, "500"),
		zmtp.AppendPing(nil, zmtp.Ping{TTL: 15, Context: []byte("ctx")}),
		zmtp.Command{Name: "INITIATE", Data: goldenDealerMetadata}.Append(nil),
		zmtp.Command{Name: strings.Repeat("Z", 255), Data: []byte{0}}.Append(nil),
		testhelp.Wire(`5E "RROR"`),
		testhelp.Wire(`05 "READ"`),
		testhelp.Wire(`04 "P1NG"`),
		{},
	}
	return seeds
}

// FuzzCommand parses command bodies. Outside the libzmq ERROR quirk (a body
// starting 5E "RROR" too short to hold a 94-letter name) the
// encoding is canonical: Append reproduces the input and Len is its length.
func FuzzCommand(f *testing.F) {
	for _, s := range commandSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := zmtp.ParseCommand(body)
		if err != nil {
			if !errors.Is(err, zmtp.ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !zmtp.ValidCommandName(c.Name) {
			t.Fatalf("parsed invalid name %q", c.Name)
		}
		// The quirk applies only to a body that is not a well-formed
		// command (a 94-letter name starting "RROR" is one).
		if len(body) >= 5 && string(body[:5]) == "\x5eRROR" && c.Name == zmtp.CmdError {
			if !bytes.Equal(c.Data, body[5:]) || len(body) >= 1+0x5e {
				t.Fatalf("libzmq ERROR parsed as %+v", c)
			}
			return
		}
		if got := c.Append(nil); !bytes.Equal(got, body) {
			t.Fatalf("Append = %x, input %x", got, body)
		}
		if c.Len() != len(body) {
			t.Fatalf("Len = %d, input %d bytes", c.Len(), len(body))
		}
	})
}

func metadataSeeds() [][]byte {
	seeds := [][]byte{
		goldenDealerMetadata,
		{},
		testhelp.Cat(goldenDealerMetadata, []byte{0x05}),
		testhelp.Wire(`00 00 00 00 00`),
		testhelp.Wire(`01 "A" 80 00 00 00`),
	}
	for _, md := range []zmtp.Metadata{
		{{Name: "Socket-Type", Value: []byte("ROUTER")}, {Name: "Identity", Value: []byte("CLI")}, {Name: "X-Hello", Value: []byte("world")}},
		{{Name: "X-a", Value: []byte("1")}, {Name: "x-A", Value: []byte("2")}, {Name: "X-a", Value: []byte("3")}},
		{{Name: "-_.+09azAZ", Value: []byte("\x00\n\x1b")}},
		{{Name: strings.Repeat("n", 255), Value: bytes.Repeat([]byte{0xFF}, 300)}},
	} {
		seeds = append(seeds, md.Append(nil))
	}
	return seeds
}

// FuzzMetadata parses metadata. What parses re-encodes to exactly the input,
// Len is the input's length, every parsed name can be looked up, and the
// result does not alias the input, nor one value another.
func FuzzMetadata(f *testing.F) {
	for _, s := range metadataSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data) // we mutate it below
		md, err := zmtp.ParseMetadata(in)
		if err != nil {
			if !errors.Is(err, zmtp.ErrMalformed) || md != nil {
				t.Fatalf("ParseMetadata = %v, %v", md, err)
			}
			return
		}
		if got := md.Append(nil); !bytes.Equal(got, data) {
			t.Fatalf("Append = %x, input %x", got, data)
		}
		if md.Len() != len(data) {
			t.Fatalf("Len = %d, input %d bytes", md.Len(), len(data))
		}
		if err := md.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		for i, p := range md {
			if cap(p.Value) != len(p.Value) {
				// Values share one array; an append to one must not
				// overwrite the next.
				t.Fatalf("value %d has capacity %d for %d bytes", i, cap(p.Value), len(p.Value))
			}
			if _, ok := md.Get(p.Name); !ok {
				t.Fatalf("Get(%q) failed", p.Name)
			}
			v, ok := md.GetExact(p.Name)
			if !ok {
				t.Fatalf("GetExact(%q) failed", p.Name)
			}
			first := i
			for j := range i {
				if md[j].Name == p.Name {
					first = j
					break
				}
			}
			if !bytes.Equal(v, md[first].Value) {
				t.Fatalf("GetExact(%q) is not the first value", p.Name)
			}
		}
		want := md.Clone()
		for i := range in {
			in[i] ^= 0xFF
		}
		if !cmp.Equal(want, md, cmpopts.EquateEmpty()) {
			t.Fatal("the result aliases the input")
		}
	})
}

func pingSeeds() [][]byte {
	return [][]byte{
		goldenPing[5:],
		testhelp.Wire(`00 0F`),
		testhelp.Wire(`00 00`),
		zmtp.AppendPing(nil, zmtp.Ping{TTL: 0xFFFF, Context: []byte("0123456789abcdef")})[5:],
		zmtp.AppendPing(nil, zmtp.Ping{TTL: 1, Context: bytes.Repeat([]byte{7}, 40)})[5:],
		{0},
		{},
	}
}

// FuzzPing parses PING data. What parses re-encodes as a PING command body
// that ParseCommand reads back to the same data; the PONG answer echoes at
// most 16 bytes of the context.
func FuzzPing(f *testing.F) {
	for _, s := range pingSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := zmtp.ParsePing(data)
		if err != nil {
			if len(data) >= 2 || !errors.Is(err, zmtp.ErrMalformed) {
				t.Fatalf("ParsePing(%x): %v", data, err)
			}
			return
		}
		if uint16(data[0])<<8|uint16(data[1]) != p.TTL || !bytes.Equal(p.Context, data[2:]) {
			t.Fatalf("ParsePing(%x) = %+v", data, p)
		}
		body := zmtp.AppendPing(nil, p)
		if len(body) != 5+len(data) || !bytes.Equal(body[5:], data) {
			t.Fatalf("AppendPing = %x", body)
		}
		c, err := zmtp.ParseCommand(body)
		if err != nil || !c.Is(zmtp.CmdPing) || !bytes.Equal(c.Data, data) {
			t.Fatalf("ParseCommand(%x) = %+v, %v", body, c, err)
		}
		pong := zmtp.AppendPong(nil, p.Context)
		n := min(len(p.Context), zmtp.MaxPingContext)
		if len(pong) != 5+n || !bytes.Equal(pong[5:], p.Context[:n]) {
			t.Fatalf("AppendPong = %x", pong)
		}
		c, err = zmtp.ParseCommand(pong)
		if err != nil || !c.Is(zmtp.CmdPong) {
			t.Fatalf("ParseCommand(%x) = %+v, %v", pong, c, err)
		}
	})
}

// corpusFile renders one seed in the "go test fuzz v1" format.
func corpusFile(values ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case uint32:
			fmt.Fprintf(&b, "uint32(%d)\n", v)
		case uint8:
			fmt.Fprintf(&b, "byte(%s)\n", strconv.QuoteRune(rune(v)))
		default:
			panic(fmt.Sprintf("corpusFile: %T", v))
		}
	}
	return []byte(b.String())
}

// seedCorpora returns, for each fuzz target, the seed files it should have.
func seedCorpora() map[string]map[string][]byte {
	corpora := map[string]map[string][]byte{}
	add := func(target string, values ...any) {
		if corpora[target] == nil {
			corpora[target] = map[string][]byte{}
		}
		content := corpusFile(values...)
		name := fmt.Sprintf("seed-%x", sha256.Sum256(content))[:21]
		corpora[target][name] = content
	}
	for _, s := range greetingSeeds() {
		add("FuzzGreeting", s)
	}
	for _, s := range readFramesSeeds() {
		add("FuzzReadFrames", s.data, s.max, s.chunk)
	}
	for _, s := range commandSeeds() {
		add("FuzzCommand", s)
	}
	for _, s := range metadataSeeds() {
		add("FuzzMetadata", s)
	}
	for _, s := range pingSeeds() {
		add("FuzzPing", s)
	}
	return corpora
}

// TestSeedCorpus checks that the committed seed files under testdata/fuzz
// are the ones the seed functions above produce (other files, such as
// inputs the fuzzer found, are left alone). With -update-corpus it writes
// them.
func TestSeedCorpus(t *testing.T) {
	for target, files := range seedCorpora() {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
			for _, f := range old {
				os.Remove(f)
			}
		}
		for name, content := range files {
			path := filepath.Join(dir, name)
			if *updateCorpus {
				if err := os.WriteFile(path, content, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v (run with -update-corpus)", err)
				continue
			}
			if !bytes.Equal(got, content) {
				t.Errorf("%s is stale (run with -update-corpus)", path)
			}
		}
	}
}
