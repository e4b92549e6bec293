package krbtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// tools are the paths of MIT's server tools.
type tools struct {
	krb5kdc, kdb5util, kadminLocal string
}

var lookOnce = sync.OnceValues(func() (tools, error) {
	var t tools
	var missing []string
	for _, x := range []struct {
		name string
		dst  *string
	}{
		{"krb5kdc", &t.krb5kdc},
		{"kdb5_util", &t.kdb5util},
		{"kadmin.local", &t.kadminLocal},
	} {
		p, ok := LookTool(x.name)
		if !ok {
			missing = append(missing, x.name)
			continue
		}
		*x.dst = p
	}
	if missing != nil {
		return tools{}, &ToolsMissingError{Missing: missing}
	}
	return t, nil
})

func lookTools() (tools, error) { return lookOnce() }

// LookTools reports whether the tools a realm needs (krb5kdc, kdb5_util,
// kadmin.local) are installed: nil, or a *[ToolsMissingError].
func LookTools() error {
	_, err := lookTools()
	return err
}

// sbinDirs are searched after $PATH: Debian installs the KDC tools in
// /usr/sbin, which an unprivileged user's $PATH often lacks.
var sbinDirs = []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}

// LookTool finds an MIT command (krb5kdc, kinit, ...) in $PATH and then in
// the sbin directories, and returns its path.
func LookTool(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, true
		}
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}
