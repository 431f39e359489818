package spl

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tokEOF    tokKind = iota
	tokIdent          // bare name or keyword
	tokQIdent         // "quoted name"
	tokString         // 'string'
	tokInt            // 123
	tokFloat          // 1.5, 1e3
	tokOp             // punctuation and operators
)

type token struct {
	kind tokKind
	text string // the identifier, the unquoted string, the number or the operator
	pos  int    // byte offset in the statement
	end  int    // byte offset after the token
	// spaceBefore is set when whitespace precedes the token, which tells
	// "project-away" (one instruction name) from "a - b".
	spaceBefore bool
}

func (t token) is(op string) bool { return t.kind == tokOp && t.text == op }

// isWord reports whether t is the bare word w, case-insensitively (keywords).
func (t token) isWord(w string) bool { return t.kind == tokIdent && strings.EqualFold(t.text, w) }

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end of the statement"
	case tokString:
		return fmt.Sprintf("string '%s'", t.text)
	case tokQIdent:
		return fmt.Sprintf("name %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits src into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	space := true
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			space = true
			continue
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			// SQL line comment.
			for i < len(src) && src[i] != '\n' {
				i++
			}
			space = true
			continue
		}
		start := i
		t := token{pos: start, spaceBefore: space}
		space = false
		switch {
		case isIdentStart(c):
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			t.kind, t.text = tokIdent, src[start:i]
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			t.kind = tokInt
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			if i < len(src) && src[i] == '.' {
				t.kind = tokFloat
				i++
				for i < len(src) && src[i] >= '0' && src[i] <= '9' {
					i++
				}
			}
			if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
				j := i + 1
				if j < len(src) && (src[j] == '+' || src[j] == '-') {
					j++
				}
				if j < len(src) && src[j] >= '0' && src[j] <= '9' {
					t.kind = tokFloat
					i = j
					for i < len(src) && src[i] >= '0' && src[i] <= '9' {
						i++
					}
				}
			}
			if i < len(src) && isIdentStart(src[i]) {
				return nil, errAt(src, i, "unexpected %q after the number %s", string(src[i]), src[start:i])
			}
			t.text = src[start:i]
		case c == '\'' || c == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(src) {
				if src[i] == c {
					if i+1 < len(src) && src[i+1] == c { // doubled quote
						b.WriteByte(c)
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(src[i])
				i++
			}
			if !closed {
				what := "string"
				if c == '"' {
					what = "quoted name"
				}
				return nil, errAt(src, start, "unterminated %s: no closing %c", what, c)
			}
			t.kind, t.text = tokString, b.String()
			if c == '"' {
				t.kind = tokQIdent
				if t.text == "" {
					return nil, errAt(src, start, "empty quoted name")
				}
			}
		default:
			t.kind = tokOp
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "<=", ">=", "<>", "!=", "||", "==":
				t.text = two
				i += 2
			default:
				if strings.IndexByte("|,()=<>+-*/%;[].:", c) < 0 {
					r, _ := utf8.DecodeRuneInString(src[i:])
					return nil, errAt(src, i, "unexpected character %q", r)
				}
				t.text = src[i : i+1]
				i++
			}
		}
		t.end = i
		toks = append(toks, t)
	}
	toks = append(toks, token{kind: tokEOF, pos: len(src), end: len(src), spaceBefore: true})
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
