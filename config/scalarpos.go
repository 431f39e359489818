package config

import (
	"bytes"
	"errors"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/slspipe/slspipe/spl"
)

// splError reports a statement that does not parse at the line and column
// of the problem inside the YAML scalar that holds it, when the statement
// is the scalar as written (no ${VAR} changed it); otherwise at the
// scalar, with the position inside the statement in the message.
func (c *checkCtx) splError(key, stmt string, err error) {
	n := c.at(key)
	var se *spl.Error
	if !errors.As(err, &se) {
		c.errorf(key, "invalid SPL: %v", err)
		return
	}
	msg := prefix(join(c.path, key)) + "invalid SPL: " + se.Msg
	if n.Value == stmt {
		if line, col, ok := scalarPos(c.d.src, n, se.Offset); ok {
			c.d.errs.add(line, col, "%s", msg)
			return
		}
	}
	c.d.errs.add(n.Line, n.Column, "%s (statement line %d, column %d)", msg, se.Line, se.Column)
}

// scalarPos finds the file line and column of byte off of scalar n's
// value, by walking the scalar's source text the way YAML unfolds it:
// quotes and escapes of flow scalars, the indentation of block scalars,
// line folding. ok is false when the walk loses track.
func scalarPos(src []byte, n *yaml.Node, off int) (line, col int, ok bool) {
	lines := bytes.Split(src, []byte("\n"))
	if n.Line < 1 || n.Line > len(lines) {
		return 0, 0, false
	}
	// A cursor over the source: l is a 0-based line, i a byte index in it.
	l, i := n.Line-1, byteIndex(lines[n.Line-1], n.Column-1)
	pos := func() (int, int, bool) {
		if l >= len(lines) {
			return 0, 0, false
		}
		return l + 1, utf8.RuneCount(lines[l][:min(i, len(lines[l]))]) + 1, true
	}
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Content starts on the next line, at the block's indentation.
		l++
		indent := -1
		v := 0
		for ; l < len(lines); l++ {
			ln := lines[l]
			if len(bytes.TrimSpace(ln)) == 0 {
				if v < len(n.Value) && n.Value[v] == '\n' {
					v++
				}
				continue
			}
			if indent < 0 {
				indent = len(ln) - len(bytes.TrimLeft(ln, " "))
			}
			content := len(ln) - min(indent, len(ln))
			if off <= v+content {
				i = indent + (off - v)
				return pos()
			}
			v += content + 1 // the line break (or folding space)
		}
		return 0, 0, false
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		i++ // the opening quote
	}
	quote := byte(0)
	switch n.Style {
	case yaml.SingleQuotedStyle:
		quote = '\''
	case yaml.DoubleQuotedStyle:
		quote = '"'
	}
	for v := 0; v < off; {
		if l >= len(lines) {
			return 0, 0, false
		}
		ln := lines[l]
		if i >= len(ln) {
			// Line folding: the break and the next line's indentation are
			// one space in the value.
			l++
			i = 0
			for l < len(lines) && i < len(lines[l]) && (lines[l][i] == ' ' || lines[l][i] == '\t') {
				i++
			}
			v++
			continue
		}
		c := ln[i]
		switch {
		case quote == '\'' && c == '\'' && i+1 < len(ln) && ln[i+1] == '\'':
			i += 2
			v++
		case quote == '"' && c == '\\' && i+1 < len(ln):
			w, produced := escapeWidth(ln[i+1])
			i += 1 + w
			v += produced
		default:
			_, size := utf8.DecodeRune(ln[i:])
			i += size
			v += size
		}
	}
	return pos()
}

// escapeWidth returns how many source bytes follow the backslash of a
// double-quoted escape and how many value bytes it produces (an estimate
// for \x, \u, \U: their UTF-8 length is taken as 1, 3 and 4).
func escapeWidth(c byte) (src, value int) {
	switch c {
	case 'x':
		return 3, 1
	case 'u':
		return 5, 3
	case 'U':
		return 9, 4
	}
	return 1, 1
}

// byteIndex converts a 0-based rune column into a byte index of ln.
func byteIndex(ln []byte, runes int) int {
	i := 0
	for k := 0; k < runes && i < len(ln); k++ {
		_, size := utf8.DecodeRune(ln[i:])
		i += size
	}
	return i
}
