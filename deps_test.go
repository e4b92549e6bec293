// Copyright 2025 The zmtpsec Authors. All rights reserved.

package zmtpsec_test

// This file enforces the package layering of docs/design.md#module-and-layers,
// in the spirit of Go's own go/build/deps_test.go: every import
// edge of every package in this module must be allowed by depsRules below,
// and a few edges are forbidden everywhere (globalDenials).
//
// Packages come from `go list ./...`, so a package that does not exist yet
// costs nothing; a package that exists but has no rule is an error (add a
// rule, and say in the design which layer it belongs to).
//
// Direct imports are read from the source files themselves with go/parser,
// so files for other platforms (foo_windows.go) are checked too; only files
// marked //go:build ignore (generators and the like) are exempt from the
// layering rules. Transitive dependencies (denyDeps, cgo in third-party
// code) come from `go list -deps` for the host platform.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const depsModulePath = "github.com/zmtpsec/zmtpsec"

// A depsRule says what the non-test files of the packages matching pkg may
// import.
//
// pkg is a module-relative package pattern: "." is the root package, "zmtp"
// is github.com/zmtpsec/zmtpsec/zmtp, and "internal/..." is internal and
// everything below it. The first rule whose pkg matches a package applies.
//
// imports is an ordered list of "+pattern" (allow) and "-pattern" (deny)
// entries; the first entry that matches an import decides, and an import
// that matches no entry is forbidden. Patterns:
//
//	std           any standard-library package
//	*             anything
//	./zmtp        a package of this module (./... is the whole module)
//	net, net/...  that import path; /... also matches everything below it
//
// denyDeps lists patterns that must not appear anywhere in the package's
// transitive (non-test) dependencies, so that a standard-library import
// cannot smuggle in, say, net.
//
// Test files (_test.go) are not subject to the layering rules, only to
// globalDenials: a test may use net.Pipe or go-cmp whatever its layer.
type depsRule struct {
	pkg      string
	imports  []string
	denyDeps []string
	why      string
}

var depsRules = []depsRule{
	{
		pkg:     ".",
		imports: []string{"+std"},
		why:     "the root package is documentation only",
	},
	{
		pkg:     "cert",
		imports: []string{"+std", "+golang.org/x/crypto/...", "+github.com/tilinna/z85"},
		why:     "cert is a leaf: std (crypto/ecdh), golang.org/x/crypto and github.com/tilinna/z85 only",
	},
	{
		pkg:      "zmtp",
		imports:  []string{"+./internal/timeout", "-crypto/...", "-net", "-net/...", "+std"},
		denyDeps: []string{"crypto/...", "net", "net/..."},
		why:      "zmtp is a leaf: std only (and internal/timeout, itself std only), no crypto, no net, not even indirectly",
	},
	{
		// net is allowed for address parsing (net.ParseIP, net/netip) in
		// allow/deny lists; the design's "no net listening" is a review
		// rule, not something an import check can see.
		pkg: "zap",
		imports: []string{
			"+net", "+net/netip", "-net/...", "-os/exec",
			"+./zmtp", "+./cert", "+std",
		},
		why: "zap sits on zmtp and cert: std (net only for addresses), never mechanism or transport",
	},
	{
		pkg:     "internal/timeout",
		imports: []string{},
		why:     "internal/timeout is imported by zmtp, a leaf: it imports nothing at all",
	},
	{
		pkg:     "internal/testhelp",
		imports: []string{"+std"},
		why:     "shared test helpers: std only, so that every package's tests, cert's and zmtp's own included, can import them",
	},
	{
		pkg:     "internal/krbtest",
		imports: []string{"+std"},
		why:     "the throwaway MIT realm of the GSSAPI tests: std only (os/exec for MIT's tools, testing), so that the nested modules' tests can import it",
	},
	{
		pkg: "internal/zmtpcat",
		imports: []string{
			"+./socket", "+./transport", "+./mechanism", "+./zap", "+./cert", "+./zmtp",
			"-./internal/testhelp/...", "-./internal/krbtest", "+./internal/...", "+std",
		},
		why: "zmtpcat's logic, shared by cmd/zmtpcat and the gssapi module's zmtpcat: the public API (socket and below) and std, like a command",
	},
	{
		pkg:     "internal/testhelp/testkeys",
		imports: []string{"+std", "+./cert"},
		why:     "shared key-pair helpers for tests: std and cert",
	},
	{
		pkg: "internal/...",
		imports: []string{
			"+std", "+golang.org/x/crypto/...",
			"+./cert", "+./zmtp", "+./internal/...",
		},
		why: "internal helpers: std, golang.org/x/crypto and the leaf packages (cert, zmtp)",
	},
	{
		pkg: "mechanism",
		imports: []string{
			"-net", "-net/...", "-os/exec",
			"+./zmtp", "+./zap", "+./cert", "+./internal/...", "+std",
		},
		why: "mechanism is sans-I/O: zmtp, zap, cert, internal and std; NOT net, NOT transport",
	},
	{
		pkg: "transport",
		imports: []string{
			"+./zmtp", "+./mechanism", "+./zap", "+./cert", "+./internal/...", "+std",
		},
		why: "transport sits on top of the library: zmtp, mechanism, zap, cert, internal, std (net)",
	},
	{
		pkg: "socket",
		imports: []string{
			"+./transport", "+./zmtp", "+./mechanism", "+./zap", "+./cert", "+./internal/...", "+std",
		},
		why: "socket sits on transport: libzmq's socket semantics above one connection; nothing below imports it",
	},
	{
		pkg:     "cmd/...",
		imports: []string{"+*"},
		why:     "commands may import anything in the module",
	},
	{
		pkg:     "fuzz/...",
		imports: []string{"+*"},
		why:     "fuzz targets may import anything in the module",
	},
	{
		pkg:     "hostile",
		imports: []string{"+*"},
		why:     "the hostile-peer suite attacks the exported API and may import anything in the module",
	},
	{
		pkg:     "scripts/...",
		imports: []string{"+std"},
		why:     "helpers of the Makefile's scripts: std only",
	},
}

// A depsDenial forbids an import in every file of every package of the
// module, test files and files for other platforms included, except in
// packages matching exceptIn (module-relative patterns, as depsRule.pkg)
// and, when exceptTests is set, in _test.go files.
type depsDenial struct {
	pattern     string
	exceptIn    []string
	exceptTests bool
	why         string
}

var globalDenials = []depsDenial{
	{pattern: "C", why: "the root module is zero-cgo; cgo belongs in conformance/ or bench/"},
	{pattern: "github.com/pebbe/zmq4/...", why: "libzmq bindings belong in conformance/ or bench/"},
	{pattern: "github.com/jcmturner/...", why: "Kerberos (gokrb5 and its helpers) belongs in the nested module gssapi/ only"},
	{pattern: "./gssapi/...", why: "gssapi/ is a module of its own, built on the root's public API; the root never imports it (gokrb5 would come with it)"},
	{pattern: "./cmd/...", exceptIn: []string{"cmd/..."}, why: "nothing imports the commands"},
	{pattern: "./fuzz/...", exceptIn: []string{"fuzz/..."}, why: "nothing imports the fuzz targets"},
	{pattern: "./hostile", exceptIn: []string{"hostile"}, why: "nothing imports the hostile-peer suite"},
	{pattern: "./scripts/...", exceptIn: []string{"scripts/..."}, why: "nothing imports the scripts' helpers"},
	{pattern: "./internal/testhelp/...", exceptIn: []string{"internal/testhelp/..."}, exceptTests: true, why: "test helpers: only _test.go files import them"},
	{pattern: "./internal/zmtpcat", exceptIn: []string{"cmd/...", "internal/zmtpcat"}, why: "zmtpcat's logic: only the commands import it (cmd/zmtpcat here, gssapi/cmd/zmtpcat in the nested module)"},
	{pattern: "./internal/krbtest", exceptIn: []string{"internal/krbtest"}, exceptTests: true, why: "the test realm runs a KDC: only _test.go files import it"},
}

// depsPkg is what the checker knows about one package of the module.
type depsPkg struct {
	rel   string // module-relative path; "." for the root package
	dir   string
	files []depsFile
	deps  []string // transitive non-test dependencies, host platform
}

type depsFile struct {
	name    string
	test    bool // a _test.go file
	ignored bool // //go:build ignore
	imports []string
}

// depsGraph is the input of checkDeps.
type depsGraph struct {
	pkgs []depsPkg
	// imports is the (non-test) import graph of every package in the build,
	// used to explain how a forbidden transitive dependency is reached.
	imports map[string][]string
	// cgo maps each non-standard package in the build that has cgo files
	// to those files.
	cgo map[string][]string
}

func TestDependencies(t *testing.T) {
	g, err := loadDepsGraph()
	if err != nil {
		// Still check what could be loaded.
		t.Error(err)
	}
	if len(g.pkgs) == 0 {
		t.Fatal("go list ./... found no packages")
	}
	for _, v := range checkDeps(g, depsRules, globalDenials) {
		t.Error(v)
	}
}

// TestDependenciesChecker feeds checkDeps a synthetic module with known bad
// edges, so that a checker that silently accepts everything cannot pass.
func TestDependenciesChecker(t *testing.T) {
	mod := func(rel string) string { return depsModulePath + "/" + rel }
	src := func(name string, imports ...string) depsFile {
		return depsFile{name: name, test: strings.HasSuffix(name, "_test.go"), imports: imports}
	}
	good := depsGraph{
		pkgs: []depsPkg{
			{rel: ".", files: []depsFile{src("doc.go"), src("deps_test.go", "os/exec", "go/parser")}},
			{rel: "cert", files: []depsFile{src("keys.go", "crypto/ecdh", "github.com/tilinna/z85", "golang.org/x/crypto/nacl/box")}},
			{rel: "zmtp", files: []depsFile{src("frame.go", "io", "fmt"), src("frame_test.go", "net", "crypto/sha256", mod("internal/testhelp"))}, deps: []string{"io", "fmt"}},
			{rel: "internal/testhelp", files: []depsFile{src("testhelp.go", "encoding/hex")}},
			{rel: "internal/krbtest", files: []depsFile{src("kdc.go", "os/exec", "testing", "net"), src("krbtest_test.go", mod("internal/testhelp"))}},
			{rel: "internal/transcript", files: []depsFile{src("conn_test.go", mod("internal/krbtest"))}},
			{rel: "internal/testhelp/testkeys", files: []depsFile{src("testkeys.go", "testing", mod("cert"))}},
			{rel: "zap", files: []depsFile{src("zap.go", "net/netip", "net", mod("zmtp"), mod("cert"))}},
			{rel: "internal/box", files: []depsFile{src("box.go", "crypto/ecdh", "golang.org/x/crypto/salsa20/salsa")}},
			{rel: "internal/testconn", files: []depsFile{src("conn.go", "net", mod("internal/box"))}},
			{rel: "mechanism", files: []depsFile{src("curve.go", mod("zap"), mod("internal/box")), src("curve_test.go", "net", mod("transport"))}},
			{rel: "transport", files: []depsFile{src("conn.go", "net", mod("mechanism")), src("conn_windows.go", "syscall")}},
			{rel: "cmd/zmtpcat", files: []depsFile{src("main.go", mod("transport"), mod("cmd/internal/flags"))}},
			{rel: "fuzz", files: []depsFile{src("fuzz_test.go", mod("fuzz"), mod("transport"))}},
			{rel: "zmtp/gen", files: []depsFile{{name: "gen.go", ignored: true, imports: []string{mod("transport")}}}},
		},
	}
	// zmtp/gen has no rule of its own; the ignored file is the point of
	// that entry, so give it one.
	rules := append(slices.Clone(depsRules), depsRule{pkg: "zmtp/gen", imports: []string{"+std"}})
	if v := checkDeps(good, rules, globalDenials); len(v) != 0 {
		t.Errorf("clean synthetic module: unexpected violations:\n%s", strings.Join(v, "\n"))
	}

	tests := []struct {
		name string
		pkg  depsPkg
		g    depsGraph // extra graph data
		want []string  // substrings of the one expected violation
	}{
		{"zmtp imports net", depsPkg{rel: "zmtp", files: []depsFile{src("conn.go", "net")}, deps: []string{"net"}},
			depsGraph{}, []string{"zmtp/conn.go", `"net"`}},
		{"zmtp imports crypto", depsPkg{rel: "zmtp", files: []depsFile{src("mac.go", "crypto/hmac")}},
			depsGraph{}, []string{"zmtp/mac.go", `"crypto/hmac"`}},
		{"zmtp reaches net through std", depsPkg{rel: "zmtp", files: []depsFile{src("log.go", "log/syslog")}, deps: []string{"log/syslog", "net"}},
			depsGraph{imports: map[string][]string{mod("zmtp"): {"log/syslog"}, "log/syslog": {"net"}}},
			[]string{"zmtp depends on net", mod("zmtp") + " -> log/syslog -> net"}},
		{"zmtp imports a module package", depsPkg{rel: "zmtp", files: []depsFile{src("x.go", mod("cert"))}},
			depsGraph{}, []string{"zmtp/x.go", mod("cert")}},
		{"cert imports zmtp", depsPkg{rel: "cert", files: []depsFile{src("x.go", mod("zmtp"))}},
			depsGraph{}, []string{"cert/x.go", mod("zmtp")}},
		{"cert imports another module", depsPkg{rel: "cert", files: []depsFile{src("x.go", "github.com/example/keys")}},
			depsGraph{}, []string{"cert/x.go", "github.com/example/keys"}},
		{"zap imports mechanism", depsPkg{rel: "zap", files: []depsFile{src("auth.go", mod("mechanism"))}},
			depsGraph{}, []string{"zap/auth.go", mod("mechanism")}},
		{"zap imports net/http", depsPkg{rel: "zap", files: []depsFile{src("auth.go", "net/http")}},
			depsGraph{}, []string{"zap/auth.go", `"net/http"`}},
		{"mechanism imports net", depsPkg{rel: "mechanism", files: []depsFile{src("plain.go", "net")}},
			depsGraph{}, []string{"mechanism/plain.go", `"net"`}},
		{"mechanism imports transport", depsPkg{rel: "mechanism", files: []depsFile{src("plain.go", mod("transport"))}},
			depsGraph{}, []string{"mechanism/plain.go", mod("transport")}},
		{"mechanism imports os/exec", depsPkg{rel: "mechanism", files: []depsFile{src("plain.go", "os/exec")}},
			depsGraph{}, []string{"mechanism/plain.go", `"os/exec"`}},
		{"mechanism file for another platform", depsPkg{rel: "mechanism", files: []depsFile{src("x_windows.go", "net")}},
			depsGraph{}, []string{"mechanism/x_windows.go", `"net"`}},
		{"internal imports transport", depsPkg{rel: "internal/box", files: []depsFile{src("box.go", mod("transport"))}},
			depsGraph{}, []string{"internal/box/box.go", mod("transport")}},
		{"transport imports cmd", depsPkg{rel: "transport", files: []depsFile{src("x.go", mod("cmd/zmtpcat"))}},
			depsGraph{}, []string{"transport/x.go", "nothing imports the commands"}},
		{"test imports fuzz", depsPkg{rel: "zmtp", files: []depsFile{src("x_test.go", mod("fuzz"))}},
			depsGraph{}, []string{"zmtp/x_test.go", "nothing imports the fuzz targets"}},
		{"non-test file imports testhelp", depsPkg{rel: "transport", files: []depsFile{src("conn.go", mod("internal/testhelp"))}},
			depsGraph{}, []string{"transport/conn.go", "only _test.go files import them"}},
		{"non-test file imports krbtest", depsPkg{rel: "internal/transcript", files: []depsFile{src("conn.go", mod("internal/krbtest"))}},
			depsGraph{}, []string{"internal/transcript/conn.go", "only _test.go files import it"}},
		{"krbtest imports zmtp", depsPkg{rel: "internal/krbtest", files: []depsFile{src("realm.go", mod("zmtp"))}},
			depsGraph{}, []string{"internal/krbtest/realm.go", mod("zmtp")}},
		{"testhelp imports cert", depsPkg{rel: "internal/testhelp", files: []depsFile{src("testhelp.go", mod("cert"))}},
			depsGraph{}, []string{"internal/testhelp/testhelp.go", mod("cert")}},
		{"test imports C", depsPkg{rel: "zmtp", files: []depsFile{src("x_test.go", "C")}},
			depsGraph{}, []string{"zmtp/x_test.go", `"C"`, "zero-cgo"}},
		{"ignored file imports zmq4", depsPkg{rel: "cmd/zmtpcat", files: []depsFile{{name: "gen.go", ignored: true, imports: []string{"github.com/pebbe/zmq4"}}}},
			depsGraph{}, []string{"cmd/zmtpcat/gen.go", "github.com/pebbe/zmq4"}},
		{"package without a rule", depsPkg{rel: "newpkg", files: []depsFile{src("x.go", "fmt")}},
			depsGraph{}, []string{"newpkg", "no rule"}},
		{"transport imports gokrb5", depsPkg{rel: "transport", files: []depsFile{src("krb.go", "github.com/jcmturner/gokrb5/v8/messages")}},
			depsGraph{}, []string{"transport/krb.go", "github.com/jcmturner/gokrb5/v8/messages", "nested module gssapi/"}},
		{"test imports a gokrb5 helper", depsPkg{rel: "mechanism", files: []depsFile{src("x_test.go", "github.com/jcmturner/gofork/encoding/asn1")}},
			depsGraph{}, []string{"mechanism/x_test.go", "github.com/jcmturner/gofork"}},
		{"command imports the GSSAPI module", depsPkg{rel: "cmd/zmtpcat", files: []depsFile{src("gss.go", mod("gssapi"))}},
			depsGraph{}, []string{"cmd/zmtpcat/gss.go", mod("gssapi"), "never imports it"}},
		{"cgo in a third-party dependency", depsPkg{rel: "cert", files: []depsFile{src("x.go", "github.com/tilinna/z85")}, deps: []string{"github.com/tilinna/z85", "github.com/example/cz"}},
			depsGraph{
				imports: map[string][]string{mod("cert"): {"github.com/tilinna/z85"}, "github.com/tilinna/z85": {"github.com/example/cz"}},
				cgo:     map[string][]string{"github.com/example/cz": {"cz.go"}},
			},
			[]string{"github.com/example/cz uses cgo", mod("cert") + " -> github.com/tilinna/z85 -> github.com/example/cz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.g
			g.pkgs = []depsPkg{tt.pkg}
			v := checkDeps(g, depsRules, globalDenials)
			if len(v) != 1 {
				t.Fatalf("got %d violations, want 1:\n%s", len(v), strings.Join(v, "\n"))
			}
			for _, w := range tt.want {
				if !strings.Contains(v[0], w) {
					t.Errorf("violation %q does not mention %q", v[0], w)
				}
			}
		})
	}
}

// rootModuleDenied are the module paths (prefixes) the root module's go.mod
// and go.sum must not mention: gokrb5 and its helpers live in gssapi/'s own
// go.mod, and a requirement here, even an indirect one, would mean that
// something in the root module's build reaches them.
var rootModuleDenied = []string{"github.com/jcmturner/", "github.com/zmtpsec/zmtpsec/gssapi"}

// TestRootModuleRequirements reads the root go.mod and go.sum: no
// requirement, replacement or checksum of a denied module.
func TestRootModuleRequirements(t *testing.T) {
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range checkModuleFile(name, data, rootModuleDenied) {
			t.Error(v)
		}
	}
}

// TestRootModuleRequirementsChecker: the go.mod check on synthetic files,
// so that a checker that finds nothing cannot pass.
func TestRootModuleRequirementsChecker(t *testing.T) {
	clean := "module github.com/zmtpsec/zmtpsec\n\ngo 1.25.0\n\nrequire golang.org/x/crypto v0.55.0\n// github.com/jcmturner/gokrb5/v8 lives in gssapi/go.mod\n"
	if v := checkModuleFile("go.mod", []byte(clean), rootModuleDenied); len(v) != 0 {
		t.Errorf("clean go.mod: %q", v)
	}
	for _, bad := range []string{
		"require github.com/jcmturner/gokrb5/v8 v8.4.4\n",
		"require (\n\tgolang.org/x/crypto v0.55.0\n\tgithub.com/jcmturner/gofork v1.7.6 // indirect\n)\n",
		"replace github.com/zmtpsec/zmtpsec/gssapi => ./gssapi\n",
		"github.com/jcmturner/aescts/v2 v2.0.0 h1:abc=\n",
	} {
		if v := checkModuleFile("go.mod", []byte(bad), rootModuleDenied); len(v) != 1 {
			t.Errorf("%q: %d violations, want 1: %q", bad, len(v), v)
		}
	}
}

// checkModuleFile returns one message per line of a go.mod or go.sum that
// names a denied module outside a comment.
func checkModuleFile(name string, data []byte, denied []string) []string {
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		code, _, _ := strings.Cut(line, "//")
		for _, d := range denied {
			if strings.Contains(code, d) {
				out = append(out, fmt.Sprintf("%s:%d: %q: the root module must not depend on %s (it belongs in gssapi/go.mod)", name, i+1, strings.TrimSpace(line), d))
			}
		}
	}
	return out
}

// checkDeps returns one message per forbidden edge.
func checkDeps(g depsGraph, rules []depsRule, denials []depsDenial) []string {
	var out []string
	cgoSeen := map[string]bool{}
	for _, p := range g.pkgs {
		rule, ok := ruleFor(rules, p.rel)
		if !ok {
			out = append(out, fmt.Sprintf("package %s has no rule in deps_test.go: add one to depsRules (and its layer to docs/design.md)", modPath(p.rel)))
		}
		direct := map[string]bool{}
		for _, f := range p.files {
			file := filepath.ToSlash(filepath.Join(p.rel, f.name))
			for _, imp := range f.imports {
				if !f.test && !f.ignored {
					direct[imp] = true
				}
				if d, denied := deniedEverywhere(denials, p.rel, imp, f.test); denied {
					out = append(out, fmt.Sprintf("%s: imports %q: forbidden in the whole module (%s)", file, imp, d.why))
					continue
				}
				if !ok || f.test || f.ignored {
					continue
				}
				if allowed, by := rule.allows(imp); !allowed {
					verb := "does not allow"
					if by != "" {
						verb = fmt.Sprintf("denies (%q)", by)
					}
					out = append(out, fmt.Sprintf("%s: package %s imports %q, which the rule for %q %s: %s; rule: %s",
						file, modPath(p.rel), imp, rule.pkg, verb, rule.why, strings.Join(rule.imports, " ")))
				}
			}
		}
		for _, d := range p.deps {
			forbidden := func(d string) bool {
				return slices.ContainsFunc(rule.denyDeps, func(pat string) bool { return matchImport(pat, d) })
			}
			// A direct import has been reported above with its file.
			if ok && !direct[d] && forbidden(d) {
				chain := importChain(g.imports, modPath(p.rel), d)
				// Report only the first forbidden package on the way:
				// net, not also net/netip which net imports.
				if !slices.ContainsFunc(chain[1:len(chain)-1], forbidden) {
					out = append(out, fmt.Sprintf("package %s depends on %s, which the rule for %q forbids even indirectly: %s; path: %s",
						modPath(p.rel), d, rule.pkg, rule.why, strings.Join(chain, " -> ")))
				}
			}
			if files := g.cgo[d]; len(files) > 0 && !cgoSeen[d] {
				cgoSeen[d] = true
				out = append(out, fmt.Sprintf("%s uses cgo (%s) and is in the root module's build: %s",
					d, strings.Join(files, ", "), strings.Join(importChain(g.imports, modPath(p.rel), d), " -> ")))
			}
		}
	}
	return out
}

func ruleFor(rules []depsRule, rel string) (depsRule, bool) {
	for _, r := range rules {
		if matchRel(r.pkg, rel) {
			return r, true
		}
	}
	return depsRule{}, false
}

// allows reports whether the rule allows imp, and the entry that decided
// when it was an explicit denial.
func (r depsRule) allows(imp string) (ok bool, deniedBy string) {
	for _, e := range r.imports {
		sign, pat := e[0], e[1:]
		if sign != '+' && sign != '-' {
			panic("deps rule entry without + or -: " + e)
		}
		if matchImport(pat, imp) {
			if sign == '+' {
				return true, ""
			}
			return false, e
		}
	}
	return false, ""
}

func deniedEverywhere(denials []depsDenial, rel, imp string, test bool) (depsDenial, bool) {
	for _, d := range denials {
		if !matchImport(d.pattern, imp) || (test && d.exceptTests) {
			continue
		}
		if slices.ContainsFunc(d.exceptIn, func(pat string) bool { return matchRel(pat, rel) }) {
			continue
		}
		return d, true
	}
	return depsDenial{}, false
}

// matchImport reports whether the import path imp matches pattern (see
// depsRule for the syntax).
func matchImport(pattern, imp string) bool {
	switch {
	case pattern == "*":
		return true
	case pattern == "std":
		return isStdImport(imp)
	case pattern == "./...":
		return imp == depsModulePath || strings.HasPrefix(imp, depsModulePath+"/")
	case strings.HasPrefix(pattern, "./"):
		pattern = depsModulePath + "/" + pattern[2:]
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return imp == base || strings.HasPrefix(imp, base+"/")
	}
	return imp == pattern
}

// matchRel matches a module-relative package path against a module-relative
// pattern ("." for the root, "x" or "x/...").
func matchRel(pattern, rel string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

// isStdImport reports whether imp is a standard-library path, as cmd/go
// decides it: no dot in the first path element. "C" is not a package.
func isStdImport(imp string) bool {
	if imp == "C" {
		return false
	}
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

func modPath(rel string) string {
	if rel == "." {
		return depsModulePath
	}
	return depsModulePath + "/" + rel
}

// importChain returns a shortest import path from "from" to "to" in graph,
// or just the two ends when the graph does not connect them.
func importChain(graph map[string][]string, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var chain []string
			for ; p != ""; p = prev[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, q := range graph[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return []string{from, "...", to}
}

// listedPackage is the part of `go list -json` output loadDepsGraph reads.
type listedPackage struct {
	ImportPath string
	Dir        string
	Standard   bool
	Module     *struct {
		Path string
		Main bool
	}
	Imports        []string
	Deps           []string
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string
	TestGoFiles    []string
	XTestGoFiles   []string
	Error          *struct{ Err string }
}

// loadDepsGraph lists the module's packages and their dependencies with
// `go list -deps` and parses the imports of every Go file in them.
func loadDepsGraph() (depsGraph, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return depsGraph{}, fmt.Errorf("deps: cannot find the go command: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-e", "-deps",
		"-json=ImportPath,Dir,Standard,Module,Imports,Deps,GoFiles,CgoFiles,IgnoredGoFiles,TestGoFiles,XTestGoFiles,Error",
		"./...")
	// CGO_ENABLED=1 so that cgo files are listed as such rather than
	// silently ignored; GOWORK=off so that a go.work including
	// conformance/ or bench/ does not add their packages to ./... .
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return depsGraph{}, fmt.Errorf("deps: %v: %v\n%s", cmd, err, stderr.Bytes())
	}

	g := depsGraph{imports: map[string][]string{}, cgo: map[string][]string{}}
	var errs []error
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var lp listedPackage
		if err := dec.Decode(&lp); err != nil {
			return depsGraph{}, fmt.Errorf("deps: decoding go list output: %v", err)
		}
		g.imports[lp.ImportPath] = lp.Imports
		inModule := lp.Module != nil && lp.Module.Main && lp.Module.Path == depsModulePath
		if !lp.Standard && !inModule && len(lp.CgoFiles) > 0 {
			g.cgo[lp.ImportPath] = lp.CgoFiles
		}
		if !inModule {
			continue
		}
		if lp.Error != nil {
			errs = append(errs, fmt.Errorf("deps: go list %s: %s", lp.ImportPath, lp.Error.Err))
		}
		p := depsPkg{rel: ".", dir: lp.Dir, deps: lp.Deps}
		if lp.ImportPath != depsModulePath {
			p.rel = strings.TrimPrefix(lp.ImportPath, depsModulePath+"/")
		}
		for _, names := range [][]string{lp.GoFiles, lp.CgoFiles, lp.IgnoredGoFiles, lp.TestGoFiles, lp.XTestGoFiles} {
			for _, name := range names {
				f, err := parseDepsFile(filepath.Join(lp.Dir, name))
				if err != nil {
					errs = append(errs, err)
					continue
				}
				p.files = append(p.files, f)
			}
		}
		g.pkgs = append(g.pkgs, p)
	}
	return g, errors.Join(errs...)
}

func parseDepsFile(path string) (depsFile, error) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return depsFile{}, fmt.Errorf("deps: %v", err)
	}
	f := depsFile{name: filepath.Base(path), test: strings.HasSuffix(path, "_test.go")}
	for _, is := range af.Imports {
		imp, err := strconv.Unquote(is.Path.Value)
		if err != nil {
			return depsFile{}, fmt.Errorf("deps: %s: bad import %s", fset.Position(is.Pos()), is.Path.Value)
		}
		f.imports = append(f.imports, imp)
	}
	// A //go:build line must come before the package clause.
	for _, cg := range af.Comments {
		if cg.Pos() >= af.Package {
			break
		}
		for _, c := range cg.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			if x, err := constraint.Parse(c.Text); err == nil {
				if tag, ok := x.(*constraint.TagExpr); ok && tag.Tag == "ignore" {
					f.ignored = true
				}
			}
		}
	}
	return f, nil
}
