package cert

import (
	"bytes"
	"fmt"
)

// zplNode is one name line of a ZPL (ZeroMQ RFC 4) file.
type zplNode struct {
	line     int    // 1-based
	depth    int    // 0 for a top-level name
	name     string // ZPL name characters only
	nameCol  int    // 1-based column of the name
	value    string // without quotes
	valueCol int    // 1-based column of the value's first character
	hasValue bool   // the line had "="
}

// parseZPL splits a ZPL file into its name lines, in file order, applying
// the rules of CZMQ's zconfig reader, which is the strictest in use:
//
//   - lines end at "\n"; trailing whitespace, including a "\r", is dropped,
//     so CRLF files are accepted;
//   - blank lines and lines whose first non-space character is "#" are
//     comments;
//   - indentation is a multiple of 4 spaces, never a tab, and grows by at
//     most one level from one name line to the next;
//   - a name is made of [A-Za-z0-9$-_@.&+/] and neither starts nor ends
//     with "/";
//   - "name = value" allows spaces and tabs around "="; a value that starts
//     with a quote runs to the next identical quote (there are no escapes)
//     and may be followed only by spaces, tabs or a comment; an unquoted
//     value runs up to the first "#", trailing whitespace removed.
//
// Control characters other than tab are rejected anywhere.
//
// Errors locate the problem by line and column and never quote the file:
// what is parsed may be any file at all.
func parseZPL(data []byte) ([]zplNode, *ParseError) {
	var nodes []zplNode
	prevDepth := -1
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		node, ok, err := parseZPLLine(line, n)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if node.depth > prevDepth+1 {
			if prevDepth < 0 {
				return nil, &ParseError{Line: n, Column: node.nameCol, Msg: "first name line is indented"}
			}
			return nil, &ParseError{Line: n, Column: node.nameCol,
				Msg: fmt.Sprintf("indentation jumps from level %d to level %d", prevDepth, node.depth)}
		}
		prevDepth = node.depth
		nodes = append(nodes, node)
	}
	return nodes, nil
}

// parseZPLLine parses one line without its "\n". It reports ok == false for
// a blank or comment line.
func parseZPLLine(line []byte, n int) (node zplNode, ok bool, perr *ParseError) {
	fail := func(col int, msg string) (zplNode, bool, *ParseError) {
		return zplNode{}, false, &ParseError{Line: n, Column: col, Msg: msg}
	}
	line = bytes.TrimRight(line, " \t\r\v\f")
	for i, c := range line {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return fail(i+1, "control character")
		}
	}
	indent := 0
	for indent < len(line) && line[indent] == ' ' {
		indent++
	}
	if indent < len(line) && line[indent] == '\t' {
		return fail(indent+1, "tab in indentation")
	}
	if indent == len(line) || line[indent] == '#' {
		return zplNode{}, false, nil
	}
	if indent%4 != 0 {
		return fail(indent+1, fmt.Sprintf("indentation of %d spaces is not a multiple of 4", indent))
	}
	node = zplNode{line: n, depth: indent / 4, nameCol: indent + 1}

	// col returns the 1-based column of rest[0].
	rest := line[indent:]
	col := func() int { return len(line) - len(rest) + 1 }
	i := 0
	for i < len(rest) && isNameChar(rest[i]) {
		i++
	}
	if i == 0 {
		return fail(col(), "expected a name")
	}
	node.name = string(rest[:i])
	if rest[0] == '/' || rest[i-1] == '/' {
		return fail(col(), `name starts or ends with "/"`)
	}
	rest = skipBlanks(rest[i:])
	switch {
	case len(rest) == 0 || rest[0] == '#':
		node.valueCol = col() // where a value would be
		return node, true, nil
	case rest[0] != '=':
		return fail(col(), `unexpected character after name (want "=" or end of line)`)
	}
	node.hasValue = true
	rest = skipBlanks(rest[1:])
	if len(rest) > 0 && (rest[0] == '"' || rest[0] == '\'') {
		quoteCol := col()
		end := bytes.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return fail(quoteCol, "unterminated quoted value")
		}
		node.value = string(rest[1 : 1+end])
		node.valueCol = quoteCol + 1
		rest = skipBlanks(rest[2+end:])
		if len(rest) > 0 && rest[0] != '#' {
			return fail(col(), "unexpected character after quoted value")
		}
		return node, true, nil
	}
	node.valueCol = col()
	if end := bytes.IndexByte(rest, '#'); end >= 0 {
		rest = bytes.TrimRight(rest[:end], " \t")
	}
	node.value = string(rest)
	return node, true, nil
}

func skipBlanks(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// isNameChar reports whether c may appear in a ZPL name.
func isNameChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '$', '-', '_', '@', '.', '&', '+', '/':
		return true
	}
	return false
}
