// Copyright 2025 The zmtpsec Authors. All rights reserved.

package zmtpsec_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeSnippets: every Go snippet of README.md appears, as it is, in
// an example file of the module (example_test.go here, or a package's
// example*_test.go), either at the top level or indented by one tab as the
// body of an Example function. Those files are compiled and run by go
// test, so the README shows code that builds, checks its errors and works.
// To change a snippet, change the example, then copy it.
func TestReadmeSnippets(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippets := goSnippets(string(readme))
	if len(snippets) == 0 {
		t.Fatal("README.md has no ```go snippet")
	}
	var examples []string
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" ||
				d.Name() == "conformance" || d.Name() == "bench") {
				return filepath.SkipDir // other modules: not built by this module's go test
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), "example") && strings.HasSuffix(d.Name(), "_test.go") {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			examples = append(examples, string(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snippets {
		if !snippetIn(s, examples) {
			t.Errorf("this README snippet is in no example file; make it an example and copy it from there:\n%s", s)
		}
	}
}

// goSnippets returns the content of the ```go blocks of a Markdown text.
func goSnippets(md string) []string {
	var out []string
	var cur []string
	in := false
	for _, line := range strings.Split(md, "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```go":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			out = append(out, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return out
}

// snippetIn reports whether snippet appears in one of files, at the top
// level or indented by one tab (blank lines stay empty).
func snippetIn(snippet string, files []string) bool {
	lines := strings.Split(snippet, "\n")
	indented := make([]string, len(lines))
	for i, l := range lines {
		if l != "" {
			indented[i] = "\t" + l
		}
	}
	forms := []string{"\n" + snippet + "\n", "\n" + strings.Join(indented, "\n") + "\n"}
	for _, f := range files {
		for _, form := range forms {
			if strings.Contains(f, form) {
				return true
			}
		}
	}
	return false
}

func TestReadmeSnippetsChecker(t *testing.T) {
	md := "x\n```go\na := 1\n\nb(a)\n```\n```\nnot go\n```\n```go\nfunc f() {}\n```\n"
	got := goSnippets(md)
	if len(got) != 2 || got[0] != "a := 1\n\nb(a)" || got[1] != "func f() {}" {
		t.Fatalf("goSnippets = %q", got)
	}
	file := "package p\n\nfunc Example() {\n\ta := 1\n\n\tb(a)\n}\n\nfunc f() {}\n"
	if !snippetIn(got[0], []string{file}) || !snippetIn(got[1], []string{file}) {
		t.Error("snippets present in the file were not found")
	}
	for _, bad := range []string{"a := 2", "a := 1\nb(a)", "b(a)\n}"} {
		if snippetIn(bad, []string{file}) {
			t.Errorf("snippet %q reported present", bad)
		}
	}
}
