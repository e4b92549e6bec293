package zmtpcat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
)

// A Mechanism is a security mechanism that a zmtpcat program offers beside
// null, plain and curve, chosen with -mechanism Name. It is how a command in
// another module adds the mechanism that module implements without the
// root module importing it: the GSSAPI module's zmtpcat (gssapi/cmd/zmtpcat)
// adds gssapi, so that gokrb5 never enters the root module.
type Mechanism struct {
	// Name is the value of -mechanism: lower-case letters and digits,
	// and none of null, plain and curve.
	Name string
	// Usage documents the mechanism's flags in the help text, in the
	// layout of its Security section: each line indented by two spaces,
	// "-flag ARG", the description from column 25. Every flag Define
	// defines must appear there as "  -flag ".
	Usage string
	// Define defines the mechanism's flags on fs, every name starting
	// with Name and a hyphen, and returns what reads them once parsed.
	// It is called once per run, before parsing.
	Define func(fs *flag.FlagSet) MechanismFlags
}

// MechanismFlags are a [Mechanism]'s flags, as parsed.
type MechanismFlags interface {
	// Check validates the flags when -mechanism chose the mechanism,
	// without reading files or talking to the network, and reports
	// whether this side is the server, that is, the side that asks ZAP
	// (so that -allow and -deny are accepted). A non-nil error is a
	// usage error: zmtpcat prints it and exits with status 2.
	Check() (server bool, err error)
	// Apply sets cfg.Mechanism, reading what files it needs. A server
	// adds its ZAP policy to the "*" domain of the authenticator that
	// auth returns, which auth makes, and sets as cfg.ZAPHandler, on its
	// first call; a mechanism that never calls it leaves ZAP off unless
	// -domain, -allow or -deny ask for it. An error ends the run with
	// status 1; it must not quote a secret.
	Apply(cfg *transport.Config, auth func() *zap.Authenticator) error
}

// A Program is zmtpcat with extra mechanisms. The zero Program is
// cmd/zmtpcat: null, plain and curve.
type Program struct {
	// Mechanisms are added to -mechanism, in this order.
	Mechanisms []Mechanism
}

// errBadProgram reports a Program whose Mechanisms cannot be used.
var errBadProgram = errors.New("zmtpcat: bad Program")

// check validates p's mechanisms.
func (p *Program) check() error {
	var seen []string
	for _, m := range p.Mechanisms {
		switch {
		case m.Name == "" || strings.Trim(m.Name, "abcdefghijklmnopqrstuvwxyz0123456789") != "":
			return fmt.Errorf("%w: mechanism name %q: want lower-case letters and digits", errBadProgram, m.Name)
		case slices.Contains([]string{"null", "plain", "curve"}, m.Name), slices.Contains(seen, m.Name):
			return fmt.Errorf("%w: mechanism %q given twice", errBadProgram, m.Name)
		case m.Define == nil:
			return fmt.Errorf("%w: mechanism %q has no Define", errBadProgram, m.Name)
		}
		seen = append(seen, m.Name)
	}
	return nil
}

// Run runs zmtpcat with args (the command line without the program's
// name) and returns its exit status: 0 success, 1 a failure, 2 a usage
// error. When ctx is done the run ends as at the end of an echo server's
// life: queued messages get -linger, and the status is 0 unless a failure
// was seen.
func (p *Program) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := p.check(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return runUntil(p, args, stdin, stdout, stderr, ctx.Done())
}

// Main runs zmtpcat as a command: the process's arguments and standard
// streams, and os.Exit with the status.
func (p *Program) Main() {
	os.Exit(p.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// extra is an extra mechanism's flags in one run.
type extra struct {
	m     Mechanism
	flags MechanismFlags
	names []string // the flags Define defined
}

// defineExtra defines m's flags on fs and notes their names.
func defineExtra(fs *flag.FlagSet, m Mechanism) *extra {
	before := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
	e := &extra{m: m, flags: m.Define(fs)}
	fs.VisitAll(func(f *flag.Flag) {
		if !before[f.Name] {
			e.names = append(e.names, f.Name)
		}
	})
	return e
}

// given reports whether one of e's flags was set; givenName names the
// first.
func (e *extra) given(fs *flag.FlagSet) bool { return e.givenName(fs) != "" }

func (e *extra) givenName(fs *flag.FlagSet) string {
	name := ""
	fs.Visit(func(f *flag.Flag) {
		if name == "" && slices.Contains(e.names, f.Name) {
			name = "-" + f.Name
		}
	})
	return name
}

// mechanismHint says where a mechanism of the ZMTP registry that this
// program lacks is found.
func mechanismHint(name string) string {
	if strings.EqualFold(name, "gssapi") {
		return " (GSSAPI is in the gssapi module's zmtpcat: go -C gssapi run ./cmd/zmtpcat)"
	}
	return ""
}

// usageText is the help text of a program with mechs: usage with the
// -mechanism line naming them and their flags after curve's.
func usageText(mechs []Mechanism) string {
	if len(mechs) == 0 {
		return usage
	}
	s := &security{}
	var extraUsage strings.Builder
	for _, m := range mechs {
		s.extras = append(s.extras, &extra{m: m})
		extraUsage.WriteString(m.Usage)
		if !strings.HasSuffix(m.Usage, "\n") {
			extraUsage.WriteString("\n")
		}
	}
	text := strings.Replace(usage, mechanismUsage, fmt.Sprintf("  -mechanism M          %s\n", s.mechanismNames()), 1)
	return strings.Replace(text, "\nRouting, as libzmq's", extraUsage.String()+"\nRouting, as libzmq's", 1)
}

// mechanismUsage is usage's -mechanism line.
const mechanismUsage = "  -mechanism M          null, plain or curve\n"
