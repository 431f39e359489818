package config

import (
	"fmt"
	"strings"
)

// interpolate expands ${NAME} and ${NAME:default} in s; $$ is a literal $,
// and a $ followed by anything else is kept as is. The default applies
// when the variable is unset or empty. Errors never quote s itself, which
// may be a credential.
func interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ (write $$ for a literal $)")
			}
			expr := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(expr, ":")
			if !validVarName(name) {
				return "", fmt.Errorf("invalid variable name %q in ${…}: use letters, digits and _, not starting with a digit", name)
			}
			v, ok := lookup(name)
			switch {
			case ok && v != "":
			case hasDef:
				v = def
			case ok:
			default:
				return "", fmt.Errorf("environment variable %s is not set (write ${%s:default} to give a default)", name, name)
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func validVarName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
