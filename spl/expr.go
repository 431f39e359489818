package spl

import (
	"math"
	"regexp"
	"strings"
)

// expr is a type-checked expression.
type expr interface {
	typ() Type
	eval(c *evalCtx) value
}

// evalCtx is one row's evaluation; err records the first row error.
type evalCtx struct {
	row *Row
	err *RowError
}

func (c *evalCtx) fail(msg string) value {
	if c.err == nil {
		c.err = &RowError{Msg: msg}
	}
	return nullValue
}

type literal struct {
	t Type
	v value
}

func (e *literal) typ() Type           { return e.t }
func (e *literal) eval(*evalCtx) value { return e.v }

// fieldRef reads a field; a missing field is null.
// t is the field's type: varchar, or what an earlier extend assigned (the
// row holds its text, read back here).
type fieldRef struct {
	name string
	kind int
	tag  string
	t    Type
}

func (e *fieldRef) typ() Type { return e.t }

func (e *fieldRef) eval(c *evalCtx) value {
	switch e.kind {
	case attrTime:
		return intValue(c.row.Time)
	case attrTimeNs:
		return intValue(int64(c.row.TimeNs))
	}
	s, ok := c.row.lookup(e.kind, e.name, e.tag)
	if !ok {
		return nullValue
	}
	if e.t != Varchar {
		v, ok := castTo(strValue(s), Varchar, e.t)
		if !ok {
			return nullValue // overwritten since by text that is not of its type
		}
		return v
	}
	return strValue(s)
}

type negate struct{ e expr }

func (e *negate) typ() Type { return e.e.typ() }
func (e *negate) eval(c *evalCtx) value {
	v := e.e.eval(c)
	if v.null {
		return v
	}
	if e.e.typ() == Bigint {
		if v.i == math.MinInt64 {
			return c.fail("bigint overflow in negation")
		}
		return intValue(-v.i)
	}
	return floatValue(-v.f)
}

type not struct{ e expr }

func (e *not) typ() Type { return Boolean }
func (e *not) eval(c *evalCtx) value {
	v := e.e.eval(c)
	if v.null {
		return v
	}
	return boolValue(!v.b)
}

// logic is and / or with SQL's three-valued logic.
type logic struct {
	and  bool
	l, r expr
}

func (e *logic) typ() Type { return Boolean }
func (e *logic) eval(c *evalCtx) value {
	l := e.l.eval(c)
	if !l.null && l.b != e.and { // false and …, true or …
		return l
	}
	r := e.r.eval(c)
	switch {
	case !r.null && r.b != e.and:
		return r
	case l.null || r.null:
		return nullValue
	}
	return boolValue(e.and)
}

// arith is + - * / % on numbers; t is the result type.
type arith struct {
	op   byte
	l, r expr
	t    Type
}

func (e *arith) typ() Type { return e.t }
func (e *arith) eval(c *evalCtx) value {
	l := e.l.eval(c)
	if l.null {
		return l
	}
	r := e.r.eval(c)
	if r.null {
		return r
	}
	if e.t == Bigint {
		a, b := l.i, r.i
		switch e.op {
		case '+':
			s := a + b
			if (s > a) != (b > 0) {
				return c.fail("bigint overflow")
			}
			return intValue(s)
		case '-':
			s := a - b
			if (s < a) != (b > 0) {
				return c.fail("bigint overflow")
			}
			return intValue(s)
		case '*':
			if a != 0 && (a*b/a != b || a == -1 && b == math.MinInt64 || b == -1 && a == math.MinInt64) {
				return c.fail("bigint overflow")
			}
			return intValue(a * b)
		case '/', '%':
			if b == 0 {
				return c.fail("division by zero")
			}
			if a == math.MinInt64 && b == -1 {
				if e.op == '%' {
					return intValue(0)
				}
				return c.fail("bigint overflow")
			}
			if e.op == '/' {
				return intValue(a / b)
			}
			return intValue(a % b)
		}
	}
	a, b := l.asFloat(e.l.typ()), r.asFloat(e.r.typ())
	switch e.op {
	case '+':
		return floatValue(a + b)
	case '-':
		return floatValue(a - b)
	case '*':
		return floatValue(a * b)
	case '/':
		return floatValue(a / b)
	}
	return floatValue(math.Mod(a, b))
}

// concat is ||.
type concat struct{ l, r expr }

func (e *concat) typ() Type { return Varchar }
func (e *concat) eval(c *evalCtx) value {
	l := e.l.eval(c)
	if l.null {
		return l
	}
	r := e.r.eval(c)
	if r.null {
		return r
	}
	return strValue(l.s + r.s)
}

// compare is = <> < <= > >= over one comparable class: varchar (byte-wise),
// numbers (a bigint meeting a double compares as double) or boolean.
type compare struct {
	op   string
	l, r expr
}

func (e *compare) typ() Type { return Boolean }
func (e *compare) eval(c *evalCtx) value {
	l := e.l.eval(c)
	if l.null {
		return l
	}
	r := e.r.eval(c)
	if r.null {
		return r
	}
	return boolValue(cmpHolds(e.op, cmpValues(l, e.l.typ(), r, e.r.typ())))
}

// cmpValues orders two non-null values of comparable types: -1, 0 or 1
// (NaN compares above everything, as in Presto).
func cmpValues(a value, at Type, b value, bt Type) int {
	switch {
	case at == Varchar || bt == Varchar:
		return strings.Compare(a.s, b.s)
	case at == Boolean || bt == Boolean:
		switch {
		case a.b == b.b:
			return 0
		case !a.b:
			return -1
		}
		return 1
	case at == Bigint && bt == Bigint:
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	x, y := a.asFloat(at), b.asFloat(bt)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case x == y:
		return 0
	case math.IsNaN(x) && math.IsNaN(y):
		return 0
	case math.IsNaN(x):
		return 1
	}
	return -1
}

func cmpHolds(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "<>", "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

type isNull struct {
	e      expr
	negate bool
}

func (e *isNull) typ() Type { return Boolean }
func (e *isNull) eval(c *evalCtx) value {
	return boolValue(e.e.eval(c).null != e.negate)
}

type between struct {
	e, lo, hi expr
	negate    bool
}

func (e *between) typ() Type { return Boolean }
func (e *between) eval(c *evalCtx) value {
	v := e.e.eval(c)
	lo := e.lo.eval(c)
	hi := e.hi.eval(c)
	if v.null {
		return v
	}
	var ge, le value = nullValue, nullValue
	if !lo.null {
		ge = boolValue(cmpValues(v, e.e.typ(), lo, e.lo.typ()) >= 0)
	}
	if !hi.null {
		le = boolValue(cmpValues(v, e.e.typ(), hi, e.hi.typ()) <= 0)
	}
	// v >= lo and v <= hi, three-valued.
	var res value
	switch {
	case !ge.null && !ge.b, !le.null && !le.b:
		res = boolValue(false)
	case ge.null || le.null:
		return nullValue
	default:
		res = boolValue(true)
	}
	if e.negate {
		res.b = !res.b
	}
	return res
}

type in struct {
	e      expr
	list   []expr
	negate bool
}

func (e *in) typ() Type { return Boolean }
func (e *in) eval(c *evalCtx) value {
	v := e.e.eval(c)
	if v.null {
		return v
	}
	sawNull := false
	for _, it := range e.list {
		w := it.eval(c)
		if w.null {
			sawNull = true
			continue
		}
		if cmpValues(v, e.e.typ(), w, it.typ()) == 0 {
			return boolValue(!e.negate)
		}
	}
	if sawNull {
		return nullValue
	}
	return boolValue(e.negate)
}

// like matches a varchar against a LIKE pattern: the common shapes
// ('abc', 'abc%', '%abc', '%abc%') by string comparison, others by a
// compiled regexp.
type like struct {
	e      expr
	re     *regexp.Regexp // nil for the simple shapes
	lit    string
	shape  byte // '=', '^' prefix, '$' suffix, '~' contains
	negate bool
}

func (e *like) typ() Type { return Boolean }
func (e *like) eval(c *evalCtx) value {
	v := e.e.eval(c)
	if v.null {
		return v
	}
	var m bool
	switch e.shape {
	case '=':
		m = v.s == e.lit
	case '^':
		m = strings.HasPrefix(v.s, e.lit)
	case '$':
		m = strings.HasSuffix(v.s, e.lit)
	case '~':
		m = strings.Contains(v.s, e.lit)
	default:
		m = e.re.MatchString(v.s)
	}
	return boolValue(m != e.negate)
}

// likeShape recognises patterns whose only wildcards are a % at either
// end, with no escape character.
func likeShape(pat string, escape rune) (shape byte, lit string) {
	if escape != 0 || strings.Contains(pat, "_") {
		return 0, ""
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(pat, "%"), "%")
	if strings.Contains(inner, "%") {
		return 0, ""
	}
	pre, suf := strings.HasPrefix(pat, "%"), strings.HasSuffix(pat, "%") && len(pat) > 1
	switch {
	case pre && suf:
		return '~', inner
	case pre:
		return '$', inner
	case suf:
		return '^', inner
	}
	return '=', inner
}

// likeRegexp translates a LIKE pattern: % is any run, _ one character, and
// the escape character (when not 0) makes the next one literal.
func likeRegexp(pat string, escape rune) (*regexp.Regexp, bool) {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	esc := false
	for _, r := range pat {
		switch {
		case esc:
			if r != '%' && r != '_' && r != escape {
				return nil, false
			}
			b.WriteString(regexp.QuoteMeta(string(r)))
			esc = false
		case escape != 0 && r == escape:
			esc = true
		case r == '%':
			b.WriteString(`.*`)
		case r == '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if esc {
		return nil, false
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String()), true
}

type cast struct {
	e   expr
	to  Type
	try bool
}

func (e *cast) typ() Type { return e.to }
func (e *cast) eval(c *evalCtx) value {
	v := e.e.eval(c)
	out, ok := castTo(v, e.e.typ(), e.to)
	if !ok {
		if e.try {
			return nullValue
		}
		return c.fail("cannot cast '" + format(v, e.e.typ()) + "' to " + strings.ToUpper(e.to.String()))
	}
	return out
}

// caseWhen is CASE WHEN … THEN … [ELSE …] END (or the simple CASE x WHEN v
// form, rewritten to comparisons by the parser).
type caseWhen struct {
	conds []expr
	vals  []expr
	els   expr // nil: null
	t     Type
}

func (e *caseWhen) typ() Type { return e.t }
func (e *caseWhen) eval(c *evalCtx) value {
	for i, cond := range e.conds {
		if v := cond.eval(c); !v.null && v.b {
			return coerce(e.vals[i].eval(c), e.vals[i].typ(), e.t)
		}
	}
	if e.els == nil {
		return nullValue
	}
	return coerce(e.els.eval(c), e.els.typ(), e.t)
}

// coerce widens a bigint to double where a branch or argument list
// unified to double.
func coerce(v value, from, to Type) value {
	if !v.null && from == Bigint && to == Double {
		return floatValue(float64(v.i))
	}
	return v
}

// call is a function call; fn evaluates the arguments itself so that
// functions like coalesce and if stay lazy.
type call struct {
	name string
	args []expr
	t    Type
	fn   func(c *evalCtx, args []expr) value
}

func (e *call) typ() Type             { return e.t }
func (e *call) eval(c *evalCtx) value { return e.fn(c, e.args) }
