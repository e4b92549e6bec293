// Command curvekeygen makes CURVE key material for ZeroMQ.
//
// With no flags it prints a new key pair in Z85, as libzmq's curve_keygen
// does:
//
//	curvekeygen
//	curvekeygen -json                    # {"public_key": "...", "secret_key": "..."}
//
// -public derives the public key of a secret key (Z85, or "-" to read it from
// standard input, which keeps it out of the process list):
//
//	echo 'JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6' | curvekeygen -public -
//
// -cert NAME writes a certificate pair into -dir (default "."), in the file
// layout of pyzmq (NAME.key and NAME.key_secret) or CZMQ (NAME and
// NAME_secret), byte-compatible with what those tools write. The secret file
// is created with mode 0600. -meta adds metadata and may be repeated:
//
//	curvekeygen -cert server -dir certs -layout czmq -meta name=server -meta email=ops@example.com
//
// -secret KEY (or "-") writes the certificate for an existing secret key
// instead of a new one.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zmtpsec/zmtpsec/cert"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// metaFlags collects repeated -meta name=value flags in order.
type metaFlags []cert.MetadataEntry

func (m *metaFlags) String() string { return "" }

func (m *metaFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	*m = append(*m, cert.MetadataEntry{Name: name, Value: value})
	return nil
}

const usage = `usage: curvekeygen [-json]
       curvekeygen -public SECRET|-
       curvekeygen -cert NAME [-dir DIR] [-layout pyzmq|czmq] [-meta NAME=VALUE ...] [-secret SECRET|-] [-force]
`

// run is main without the process: it returns the exit status (0 success,
// 1 failure, 2 usage error).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("curvekeygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var (
		asJSON  = fs.Bool("json", false, "print the key pair as JSON")
		public  = fs.String("public", "", "print the public key of this Z85 secret key (- reads standard input)")
		name    = fs.String("cert", "", "write a certificate pair named `NAME`")
		dir     = fs.String("dir", ".", "directory for -cert")
		layout  = fs.String("layout", "pyzmq", "file layout for -cert: pyzmq (NAME.key, NAME.key_secret) or czmq (NAME, NAME_secret)")
		secret  = fs.String("secret", "", "with -cert: use this Z85 secret key instead of a new one (- reads standard input)")
		force   = fs.Bool("force", false, "with -cert: replace existing files")
		meta    metaFlags
		setMeta = false
	)
	fs.Var(&meta, "meta", "with -cert: add metadata `NAME=VALUE` (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "meta" {
			setMeta = true
		}
	})
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "curvekeygen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *name == "" && (*secret != "" || *force || setMeta) {
		fmt.Fprintln(stderr, "curvekeygen: -secret, -force and -meta go with -cert")
		return 2
	}
	if *public != "" && (*name != "" || *asJSON) {
		fmt.Fprintln(stderr, "curvekeygen: -public goes alone")
		return 2
	}

	switch {
	case *public != "":
		sk, err := readSecret(*public, stdin)
		if err != nil {
			fmt.Fprintln(stderr, "curvekeygen:", err)
			return 1
		}
		pk, err := sk.PublicKey()
		if err != nil {
			fmt.Fprintln(stderr, "curvekeygen:", err)
			return 1
		}
		fmt.Fprintln(stdout, pk)
		return 0

	case *name != "":
		var l cert.Layout
		switch *layout {
		case "pyzmq":
			l = cert.LayoutPyzmq
		case "czmq":
			l = cert.LayoutCZMQ
		default:
			fmt.Fprintf(stderr, "curvekeygen: -layout %q: want pyzmq or czmq\n", *layout)
			return 2
		}
		kp, err := keyPair(*secret, stdin)
		if err != nil {
			fmt.Fprintln(stderr, "curvekeygen:", err)
			return 1
		}
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			fmt.Fprintln(stderr, "curvekeygen:", err)
			return 1
		}
		c := &cert.Certificate{Public: kp.Public, Secret: &kp.Secret, Metadata: meta}
		pub, sec, err := c.Save(*dir, *name, l, &cert.SaveOptions{Overwrite: *force})
		if err != nil {
			fmt.Fprintln(stderr, "curvekeygen:", err)
			return 1
		}
		fmt.Fprintf(stdout, "public certificate: %s\nsecret certificate: %s\npublic key: %s\n", pub, sec, kp.Public)
		return 0
	}

	kp, err := cert.GenerateKeyPair(nil)
	if err != nil {
		fmt.Fprintln(stderr, "curvekeygen:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.Encode(struct {
			Public string `json:"public_key"`
			Secret string `json:"secret_key"`
		}{kp.Public.String(), kp.Secret.Z85()})
		return 0
	}
	fmt.Fprintf(stdout, "== CURVE PUBLIC KEY ==\n%s\n\n== CURVE SECRET KEY ==\n%s\n", kp.Public, kp.Secret.Z85())
	return 0
}

// readSecret parses a Z85 secret key given on the command line, or read
// from stdin when arg is "-".
func readSecret(arg string, stdin io.Reader) (cert.SecretKey, error) {
	if arg == "-" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return cert.SecretKey{}, fmt.Errorf("reading the secret key from standard input: %w", err)
		}
		arg = strings.TrimSpace(line)
	}
	return cert.ParseSecretKey(arg)
}

// keyPair returns the pair of the given secret, or a new pair.
func keyPair(secret string, stdin io.Reader) (cert.KeyPair, error) {
	if secret == "" {
		return cert.GenerateKeyPair(nil)
	}
	sk, err := readSecret(secret, stdin)
	if err != nil {
		return cert.KeyPair{}, err
	}
	pk, err := sk.PublicKey()
	if err != nil {
		return cert.KeyPair{}, err
	}
	return cert.KeyPair{Public: pk, Secret: sk}, nil
}
