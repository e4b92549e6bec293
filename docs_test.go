// Copyright 2025 The zmtpsec Authors. All rights reserved.

package zmtpsec_test

// This file checks that every document the code cites is in the
// repository, down to the section: a reader of a fresh clone must find
// what a comment points at.
//
// A Go comment (in any module of the repository: the root, conformance/,
// bench/) cites a document as docs/NAME.md, optionally followed by
// #anchor, the GitHub anchor of one of its headings:
// "docs/wire-format.md#curve-hello". The root-level README.md,
// SECURITY.md, CHANGELOG.md and LICENSE may be named bare. Any other
// NAME.md in a comment is an error (a document outside the repository,
// such as the ../shared/docs notes the code once cited), and so is a
// section given by number ("docs/x.md §3"), which no test can follow.
//
// The relative links of README.md and docs/*.md are checked the same
// way: the file must exist and, for a Markdown file, so must the heading
// of the anchor.

import (
	"bufio"
	"bytes"
	"fmt"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

func TestDocCitations(t *testing.T) {
	docs := newDocSet(".")
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case path == "docs_test.go":
			// The checker itself, whose comments show bad citations.
		case strings.HasSuffix(path, ".go"):
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, p := range checkGoCitations(docs, filepath.ToSlash(path), src) {
				t.Error(p)
			}
		case path == "README.md" || filepath.Dir(path) == "docs" && strings.HasSuffix(path, ".md"):
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, p := range checkMarkdownLinks(docs, filepath.ToSlash(path), src) {
				t.Error(p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The documents the code cites most must be there, whatever cites them.
	for _, name := range []string{"docs/wire-format.md", "docs/libzmq-behaviour.md", "docs/design.md", "docs/design-notes.md"} {
		if !docs.exists(name) {
			t.Errorf("%s is missing", name)
		}
	}
}

// TestDocCitationsChecker feeds the checkers citations known to be bad, so
// that a checker that accepts everything cannot pass.
func TestDocCitationsChecker(t *testing.T) {
	docs := &docSet{
		files: map[string][]string{
			"docs/wire-format.md": {"greeting", "curve-hello"},
			"docs/x.md":           {"t"},
			"README.md":           {"install"},
		},
	}
	goSrc := []byte(`package x

// Good: docs/wire-format.md#curve-hello, docs/wire-format.md, README.md#install.
// Bad: docs/wire-format.md#curve-welcome (no such heading).
// Bad: docs/nowhere.md (no such file).
// Bad: wire-format.md §8 (outside docs/).
/* Bad: ../shared/docs/design.md */
// Bad: docs/wire-format.md §2 (a number).
var s = "tt.md is not a comment"
`)
	got := checkGoCitations(docs, "x.go", goSrc)
	want := []string{
		"x.go:4: docs/wire-format.md#curve-welcome: no heading with that anchor",
		"x.go:5: docs/nowhere.md: no such file",
		"x.go:6: wire-format.md: cite the repository's docs/NAME.md",
		"x.go:7: ../shared/docs/design.md: cite the repository's docs/NAME.md",
		"x.go:8: docs/wire-format.md §: cite a section by its heading's anchor (docs/NAME.md#anchor), not by number",
	}
	if !slices.Equal(got, want) {
		t.Errorf("checkGoCitations:\ngot  %q\nwant %q", got, want)
	}

	mdSrc := []byte("# T\n\nSee [a](wire-format.md#greeting), [b](wire-format.md#nope), [c](missing.md),\n" +
		"[d](#t), [e](#u), [f](https://example.com/x.md#y) and `../shared/docs`.\n\n```\n[g](nope.md)\n```\n`Box[X](a→B)`\n")
	got = checkMarkdownLinks(docs, "docs/x.md", mdSrc)
	want = []string{
		"docs/x.md:3: wire-format.md#nope: no heading with that anchor",
		"docs/x.md:3: missing.md: no such file",
		"docs/x.md:4: #u: no heading with that anchor",
		"docs/x.md:4: names ../shared, which a clone does not have",
	}
	if !slices.Equal(got, want) {
		t.Errorf("checkMarkdownLinks:\ngot  %q\nwant %q", got, want)
	}

	heads := headingAnchors([]byte("# One\n## CURVE `HELLO`, again\n```\n# not a heading\n```\n### One\n## [Link](x.md) 3.0 & 3.1\n"))
	if want := []string{"one", "curve-hello-again", "one-1", "link-30--31"}; !slices.Equal(heads, want) {
		t.Errorf("headingAnchors = %q, want %q", heads, want)
	}
}

// docSet reads documents on demand and caches their heading anchors.
type docSet struct {
	root  string              // the repository; "" for a set that reads no files
	files map[string][]string // repository-relative path -> anchors (none unless Markdown)
}

func newDocSet(root string) *docSet { return &docSet{root: root, files: map[string][]string{}} }

func (d *docSet) exists(name string) bool {
	_, ok := d.load(name)
	return ok
}

// load returns the anchors of the repository-relative file name, and
// whether it exists.
func (d *docSet) load(name string) ([]string, bool) {
	if a, ok := d.files[name]; ok {
		return a, true
	}
	if d.root != "" {
		data, err := os.ReadFile(filepath.Join(d.root, filepath.FromSlash(name)))
		if err != nil {
			return nil, false
		}
		var a []string
		if strings.HasSuffix(name, ".md") {
			a = headingAnchors(data)
		}
		d.files[name] = a
		return a, true
	}
	return nil, false
}

// check reports what is wrong with a citation of name#anchor, or "".
func (d *docSet) check(name, anchor string) string {
	anchors, ok := d.load(name)
	if !ok {
		return "no such file"
	}
	if anchor != "" && !slices.Contains(anchors, anchor) {
		return "no heading with that anchor"
	}
	return ""
}

var (
	// goDocRef matches a Markdown file named in a comment, with any
	// directory before it and an anchor after it.
	goDocRef = regexp.MustCompile(`((?:[A-Za-z0-9_.-]+/)*)([A-Za-z0-9_-]+\.md)(#[A-Za-z0-9_-]+)?(\s*§)?`)
	// mdLink matches the target of a Markdown link.
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// codeSpan matches inline code, where brackets are not links.
	codeSpan = regexp.MustCompile("`[^`]*`")
)

// rootFiles may be cited without a directory.
var rootFiles = []string{"README.md", "SECURITY.md", "CHANGELOG.md"}

// checkGoCitations returns a problem ("file:line: citation: what") for
// each bad document citation in the comments of a Go source file.
func checkGoCitations(docs *docSet, path string, src []byte) []string {
	var problems []string
	fset := token.NewFileSet()
	file := fset.AddFile(path, -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, scanner.ScanComments)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok != token.COMMENT {
			continue
		}
		startLine := fset.Position(pos).Line
		for i, line := range strings.Split(lit, "\n") {
			for _, m := range goDocRef.FindAllStringSubmatch(line, -1) {
				dir, name, anchor, numbered := m[1], m[2], strings.TrimPrefix(m[3], "#"), m[4] != ""
				where := fmt.Sprintf("%s:%d: ", path, startLine+i)
				switch {
				case dir == "docs/" && numbered:
					problems = append(problems, where+dir+name+" §: cite a section by its heading's anchor (docs/NAME.md#anchor), not by number")
				case dir == "docs/" || dir == "" && slices.Contains(rootFiles, name):
					if p := docs.check(dir+name, anchor); p != "" {
						problems = append(problems, where+m[1]+m[2]+m[3]+": "+p)
					}
				default:
					problems = append(problems, where+dir+name+": cite the repository's docs/NAME.md")
				}
			}
		}
	}
	return problems
}

// checkMarkdownLinks returns a problem for each relative link of a
// Markdown file whose target or heading is missing, and for each mention
// of ../shared.
func checkMarkdownLinks(docs *docSet, path string, src []byte) []string {
	var problems []string
	dir := filepath.ToSlash(filepath.Dir(filepath.FromSlash(path)))
	inFence := false
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			name, anchor, _ := strings.Cut(target, "#")
			if name == "" {
				name = path
			} else {
				name = filepath.ToSlash(filepath.Clean(filepath.Join(dir, name)))
			}
			if p := docs.check(name, anchor); p != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: %s", path, n, target, p))
			}
		}
		if strings.Contains(line, "../shared") {
			problems = append(problems, fmt.Sprintf("%s:%d: names ../shared, which a clone does not have", path, n))
		}
	}
	return problems
}

// headingAnchors returns the GitHub anchors of the headings of a Markdown
// document, in order: the heading's text without Markdown markup, lower
// case, with every character other than a letter, digit, '-', '_' or
// space dropped and spaces turned into '-'; a repeated anchor gets "-1",
// "-2", ... appended.
func headingAnchors(md []byte) []string {
	var anchors []string
	seen := map[string]int{}
	inFence := false
	link := regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	sc := bufio.NewScanner(bytes.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if text == "" || text[0] != ' ' {
			continue
		}
		text = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(text), "#"))
		text = link.ReplaceAllString(text, "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		a := b.String()
		if k, dup := seen[a]; dup {
			seen[a] = k + 1
			a = fmt.Sprintf("%s-%d", a, k+1)
		} else {
			seen[a] = 0
		}
		anchors = append(anchors, a)
	}
	return anchors
}
