package zmtpcat

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
)

// toyFlags are the flags of toy, an extra mechanism for these tests: PLAIN
// underneath, with an empty password, the server letting in the users of
// -toy-allow-user through the authenticator the hook hands it.
type toyFlags struct {
	server    bool
	user      string
	allowUser listFlag
	fail      bool
}

func (f *toyFlags) Check() (bool, error) {
	switch {
	case f.server && f.user != "":
		return false, errors.New("-toy-user is for toy clients")
	case !f.server && f.user == "":
		return false, errors.New("a toy client needs -toy-user")
	case !f.server && len(f.allowUser) > 0:
		return false, errors.New("-toy-allow-user needs -toy-server")
	}
	return f.server, nil
}

func (f *toyFlags) Apply(cfg *transport.Config, auth func() *zap.Authenticator) error {
	if f.fail {
		return errors.New("toy: cannot read its credentials")
	}
	if !f.server {
		m, err := mechanism.PlainClient(f.user, "")
		cfg.Mechanism = m
		return err
	}
	cfg.Mechanism = mechanism.PlainServer()
	users := map[string]string{}
	for _, u := range f.allowUser {
		users[u] = ""
	}
	auth().ConfigurePlain("*", users)
	return nil
}

var toy = Mechanism{
	Name: "toy",
	Usage: `  -toy-server           be the toy server
  -toy-user NAME        toy client: the user name
  -toy-allow-user NAME  toy server: let NAME in; repeatable
  -toy-fail             Apply fails
`,
	Define: func(fs *flag.FlagSet) MechanismFlags {
		f := &toyFlags{}
		fs.BoolVar(&f.server, "toy-server", false, "")
		fs.StringVar(&f.user, "toy-user", "", "")
		fs.Var(&f.allowUser, "toy-allow-user", "")
		fs.BoolVar(&f.fail, "toy-fail", false, "")
		return f
	},
}

var toyProgram = &Program{Mechanisms: []Mechanism{toy}}

// runToy runs toyProgram until it ends or ctx is done.
func runToy(ctx context.Context, stdin string, args ...string) (code int, stdout, stderr *syncBuffer) {
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	code = toyProgram.Run(ctx, args, strings.NewReader(stdin), stdout, stderr)
	return code, stdout, stderr
}

func TestExtraMechanismUsage(t *testing.T) {
	ep := deadEndpoint(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-toy-user", "u", ep}, "-toy-user needs -mechanism toy"},
		{[]string{"-mechanism", "plain", "-plain-user", "u", "-toy-server", ep}, "-toy-server needs -mechanism toy"},
		{[]string{"-mechanism", "toy", "-plain-user", "u", "-toy-user", "u", ep}, "PLAIN flags with -mechanism toy"},
		{[]string{"-mechanism", "toy", "-cert", "f", "-toy-user", "u", ep}, "CURVE flags with -mechanism toy"},
		{[]string{"-mechanism", "toy", ep}, "usage: a toy client needs -toy-user"},
		{[]string{"-mechanism", "toy", "-toy-server", "-toy-user", "u", ep}, "-toy-user is for toy clients"},
		{[]string{"-mechanism", "toy", "-toy-user", "u", "-allow", "127.0.0.1", ep}, "for the side that asks ZAP"},
		{[]string{"-mechanism", "nosuch", ep}, `-mechanism "nosuch": want null, plain, curve or toy`},
	} {
		code, _, stderr := runToy(context.Background(), "", tc.args...)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("zmtpcat %q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	// A server asks ZAP, so -allow is accepted; Apply's error is status 1.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if code, _, stderr := runToy(ctx, "", "-mechanism", "toy", "-toy-server", "-allow", "127.0.0.1", ep); code != 0 {
		t.Errorf("toy server with -allow: exit %d (%s)", code, stderr.String())
	}
	code, _, stderr := runToy(context.Background(), "", "-mechanism", "toy", "-toy-user", "u", "-toy-fail", ep)
	if code != 1 || !strings.Contains(stderr.String(), "zmtpcat: toy: cannot read its credentials") {
		t.Errorf("Apply failing: exit %d, stderr %q", code, stderr.String())
	}
}

// TestGSSAPIHint: the root zmtpcat says where -mechanism gssapi is.
func TestGSSAPIHint(t *testing.T) {
	var stderr syncBuffer
	if code := run([]string{"-mechanism", "gssapi", "tcp://127.0.0.1:1"}, strings.NewReader(""), io.Discard, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "want null, plain or curve (GSSAPI is in the gssapi module's zmtpcat: go -C gssapi run ./cmd/zmtpcat)") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestExtraMechanismHelp(t *testing.T) {
	var stderr syncBuffer
	if code := toyProgram.Run(context.Background(), []string{"-h"}, strings.NewReader(""), io.Discard, &stderr); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	help := stderr.String()
	if !strings.Contains(help, "  -mechanism M          null, plain, curve or toy\n") ||
		!strings.Contains(help, "  -allow-any            CURVE server: accept any client key\n"+toy.Usage+"\nRouting, as libzmq's") {
		t.Errorf("help text:\n%s", help)
	}
	// Every flag, the toy's included, is in the help text.
	var typ string
	fs := newFlagSet(&options{mechs: toyProgram.Mechanisms}, &typ, io.Discard)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(help, "  -"+f.Name+" ") {
			t.Errorf("help does not list -%s", f.Name)
		}
	})
	if n != 25+4 {
		t.Errorf("%d flags, want 25 and the toy's 4", n)
	}
}

func TestBadProgram(t *testing.T) {
	def := func(*flag.FlagSet) MechanismFlags { return &toyFlags{} }
	for _, tc := range []struct {
		mechs []Mechanism
		want  string
	}{
		{[]Mechanism{{Name: "", Define: def}}, "want lower-case letters and digits"},
		{[]Mechanism{{Name: "Toy", Define: def}}, "want lower-case letters and digits"},
		{[]Mechanism{{Name: "curve", Define: def}}, `"curve" given twice`},
		{[]Mechanism{{Name: "toy", Define: def}, {Name: "toy", Define: def}}, `"toy" given twice`},
		{[]Mechanism{{Name: "toy"}}, "has no Define"},
	} {
		var stderr syncBuffer
		p := &Program{Mechanisms: tc.mechs}
		if code := p.Run(context.Background(), []string{"tcp://127.0.0.1:1"}, strings.NewReader(""), io.Discard, &stderr); code != 1 ||
			!strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%+v: exit %d, stderr %q; want 1 and %q", tc.mechs, code, stderr.String(), tc.want)
		}
	}
}

// TestExtraMechanismSession runs a toy server and clients: the hook's
// mechanisms carry messages, and the policy Apply put in the
// authenticator refuses a user it does not list.
func TestExtraMechanismSession(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errb := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- toyProgram.Run(ctx, []string{"-bind", "-type", "REP", "-echo", "-mechanism", "toy", "-toy-server", "-toy-allow-user", "alice", anyPort},
			strings.NewReader(""), out, errb)
	}()
	var ep string
	waitFor(t, "the toy server to listen", func() bool {
		if m := listening.FindStringSubmatch(errb.String()); m != nil {
			ep = m[1]
		}
		return ep != "" || len(done) > 0
	})
	if ep == "" {
		t.Fatalf("toy server did not start: %s", errb.String())
	}

	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	code, stdout, stderr := runToy(cctx, "hello\n", "-type", "REQ", "-n", "1", "-mechanism", "toy", "-toy-user", "alice", ep)
	if code != 0 || stdout.String() != "hello\n" {
		t.Errorf("alice: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	code, stdout, stderr = runToy(cctx, "hello\n", "-type", "REQ", "-n", "1", "-mechanism", "toy", "-toy-user", "mallory", ep)
	if code != 1 || stdout.String() != "" || !strings.Contains(stderr.String(), "400") {
		t.Errorf("mallory: exit %d, stdout %q, stderr %q; want 1 and a refusal", code, stdout.String(), stderr.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("toy server: exit %d (%s)", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the toy server did not end with its context")
	}
}
