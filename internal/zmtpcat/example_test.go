package zmtpcat_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zmtpsec/zmtpsec/internal/zmtpcat"
	"github.com/zmtpsec/zmtpsec/mechanism"
	"github.com/zmtpsec/zmtpsec/transport"
	"github.com/zmtpsec/zmtpsec/zap"
)

// anonFlags are the flags of anon, NULL under another name whose server
// always asks ZAP.
type anonFlags struct{ server bool }

func (f *anonFlags) Check() (server bool, err error) { return f.server, nil }

func (f *anonFlags) Apply(cfg *transport.Config, auth func() *zap.Authenticator) error {
	cfg.Mechanism = mechanism.Null()
	if f.server {
		auth() // ZAP on: -allow and -deny decide
	}
	return nil
}

// A command in another module adds its mechanism to zmtpcat, as
// gssapi/cmd/zmtpcat does; its main would call p.Main().
func ExampleProgram() {
	p := &zmtpcat.Program{Mechanisms: []zmtpcat.Mechanism{{
		Name:  "anon",
		Usage: "  -anon-server          be the anon server\n",
		Define: func(fs *flag.FlagSet) zmtpcat.MechanismFlags {
			f := &anonFlags{}
			fs.BoolVar(&f.server, "anon-server", false, "")
			return f
		},
	}}}
	code := p.Run(context.Background(), []string{"-mechanism", "rot13", "tcp://127.0.0.1:5555"},
		strings.NewReader(""), io.Discard, os.Stdout)
	fmt.Println("exit status", code)
	code = p.Run(context.Background(), []string{"-anon-server", "tcp://127.0.0.1:5555"},
		strings.NewReader(""), io.Discard, os.Stdout)
	fmt.Println("exit status", code)
	// Output:
	// zmtpcat: usage: -mechanism "rot13": want null, plain, curve or anon
	// (zmtpcat -h lists the flags)
	// exit status 2
	// zmtpcat: usage: -anon-server needs -mechanism anon
	// (zmtpcat -h lists the flags)
	// exit status 2
}
