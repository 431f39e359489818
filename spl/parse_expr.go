package spl

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parser walks the tokens of one statement.
type parser struct {
	src  string
	toks []token
	i    int
	// types holds the fields an earlier extend gave a type other than
	// varchar; fields keep their types down the pipeline.
	types map[string]Type
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(off int, format string, args ...any) *Error {
	return errAt(p.src, off, format, args...)
}

func (p *parser) expectOp(op string) (token, *Error) {
	t := p.peek()
	if !t.is(op) {
		return t, p.errorf(t.pos, "expected %q, found %s", op, t.describe())
	}
	return p.next(), nil
}

func (p *parser) acceptWord(w string) bool {
	if p.peek().isWord(w) {
		p.i++
		return true
	}
	return false
}

// keywords cannot be bare field names; quote a field named like one.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "is": true, "null": true, "true": true, "false": true,
	"like": true, "in": true, "between": true, "case": true, "when": true, "then": true,
	"else": true, "end": true, "cast": true, "try_cast": true, "as": true, "escape": true,
}

func isKeyword(t token) bool { return t.kind == tokIdent && keywords[strings.ToLower(t.text)] }

// parseExpr parses a whole expression.
func (p *parser) parseExpr() (expr, int, *Error) {
	start := p.peek().pos
	e, err := p.parseOr()
	return e, start, err
}

func (p *parser) parseOr() (expr, *Error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.peek().isWord("or") {
		op := p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if err := p.wantBool(op, "or", l, r); err != nil {
			return nil, err
		}
		l = &logic{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (expr, *Error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.peek().isWord("and") {
		op := p.next()
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		if err := p.wantBool(op, "and", l, r); err != nil {
			return nil, err
		}
		l = &logic{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) wantBool(op token, name string, operands ...expr) *Error {
	for _, e := range operands {
		if t := e.typ(); t != Boolean && t != Unknown {
			return p.errorf(op.pos, "'%s' needs boolean operands, got %s", name, t)
		}
	}
	return nil
}

func (p *parser) parseNot() (expr, *Error) {
	if p.peek().isWord("not") {
		op := p.next()
		e, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		if err := p.wantBool(op, "not", e); err != nil {
			return nil, err
		}
		return &not{e: e}, nil
	}
	return p.parsePredicate()
}

var cmpOps = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (p *parser) parsePredicate() (expr, *Error) {
	l, err := p.parseValue()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.is("=="):
		return nil, p.errorf(t.pos, "'==' is not an SQL operator; compare with =")
	case t.kind == tokOp && cmpOps[t.text]:
		p.next()
		r, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		if err := p.comparable(t.pos, "'"+t.text+"'", l, r); err != nil {
			return nil, err
		}
		return &compare{op: t.text, l: l, r: r}, nil
	case t.isWord("is"):
		p.next()
		neg := p.acceptWord("not")
		if !p.acceptWord("null") {
			return nil, p.errorf(p.peek().pos, "expected NULL after IS, found %s", p.peek().describe())
		}
		return &isNull{e: l, negate: neg}, nil
	}
	neg := false
	if t.isWord("not") && (p.peekAt(1).isWord("between") || p.peekAt(1).isWord("in") || p.peekAt(1).isWord("like")) {
		neg = true
		p.next()
		t = p.peek()
	}
	switch {
	case t.isWord("between"):
		p.next()
		lo, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		if !p.acceptWord("and") {
			return nil, p.errorf(p.peek().pos, "expected AND in BETWEEN, found %s", p.peek().describe())
		}
		hi, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		if err := p.comparable(t.pos, "BETWEEN", l, lo, hi); err != nil {
			return nil, err
		}
		return &between{e: l, lo: lo, hi: hi, negate: neg}, nil
	case t.isWord("in"):
		p.next()
		if _, err := p.expectOp("("); err != nil {
			return nil, err
		}
		var list []expr
		for {
			e, err := p.parseValue()
			if err != nil {
				return nil, err
			}
			list = append(list, e)
			if !p.peek().is(",") {
				break
			}
			p.next()
		}
		if _, err := p.expectOp(")"); err != nil {
			return nil, err
		}
		if err := p.comparable(t.pos, "IN", append([]expr{l}, list...)...); err != nil {
			return nil, err
		}
		return &in{e: l, list: list, negate: neg}, nil
	case t.isWord("like"):
		p.next()
		pt := p.peek()
		r, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		if lt := l.typ(); lt != Varchar && lt != Unknown {
			return nil, p.errorf(t.pos, "LIKE needs a varchar on its left, got %s", lt)
		}
		lit, ok := r.(*literal)
		if !ok || lit.t != Varchar {
			return nil, p.errorf(pt.pos, "the pattern of LIKE must be a string literal")
		}
		var escape rune
		if p.acceptWord("escape") {
			et := p.next()
			if et.kind != tokString || utf8.RuneCountInString(et.text) != 1 {
				return nil, p.errorf(et.pos, "ESCAPE needs a one-character string")
			}
			escape, _ = utf8.DecodeRuneInString(et.text)
		}
		re, ok := likeRegexp(lit.v.s, escape)
		if !ok {
			return nil, p.errorf(pt.pos, "LIKE pattern '%s' ends with its escape character or escapes something other than %%, _ or itself", lit.v.s)
		}
		shape, litText := likeShape(lit.v.s, escape)
		if shape != 0 {
			re = nil
		}
		return &like{e: l, re: re, lit: litText, shape: shape, negate: neg}, nil
	}
	if neg {
		return nil, p.errorf(t.pos, "expected BETWEEN, IN or LIKE after NOT")
	}
	return l, nil
}

// comparable checks that operands can be compared: all varchar, all
// numeric or all boolean (null fits any).
func (p *parser) comparable(pos int, what string, es ...expr) *Error {
	var class Type
	for _, e := range es {
		t := e.typ()
		c := t
		if t == Double {
			c = Bigint
		}
		switch {
		case t == Unknown:
		case class == Unknown:
			class = c
		case class != c:
			var types []string
			for _, e := range es {
				types = append(types, e.typ().String())
			}
			msg := what + " cannot be applied to " + strings.Join(types, ", ")
			if hasVarcharAndNumber(es) {
				msg += ": log fields are varchar; compare with a string ('500') or cast the field (cast(status as bigint))"
			}
			return p.errorf(pos, "%s", msg)
		}
	}
	return nil
}

func hasVarcharAndNumber(es []expr) bool {
	v, n := false, false
	for _, e := range es {
		v = v || e.typ() == Varchar
		n = n || e.typ().numeric()
	}
	return v && n
}

// parseValue parses a value expression: arithmetic and ||.
func (p *parser) parseValue() (expr, *Error) {
	l, err := p.parseAdditive()
	if err != nil {
		return nil, err
	}
	for p.peek().is("||") {
		op := p.next()
		r, err := p.parseAdditive()
		if err != nil {
			return nil, err
		}
		for _, e := range []expr{l, r} {
			if t := e.typ(); t != Varchar && t != Unknown {
				return nil, p.errorf(op.pos, "'||' cannot be applied to %s, %s: cast numbers to varchar first", l.typ(), r.typ())
			}
		}
		l = &concat{l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseAdditive() (expr, *Error) {
	l, err := p.parseMultiplicative()
	if err != nil {
		return nil, err
	}
	for p.peek().is("+") || p.peek().is("-") {
		op := p.next()
		r, err := p.parseMultiplicative()
		if err != nil {
			return nil, err
		}
		if l, err = p.arith(op, l, r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *parser) parseMultiplicative() (expr, *Error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.peek().is("*") || p.peek().is("/") || p.peek().is("%") {
		op := p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if l, err = p.arith(op, l, r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *parser) arith(op token, l, r expr) (expr, *Error) {
	lt, rt := l.typ(), r.typ()
	if (!lt.numeric() && lt != Unknown) || (!rt.numeric() && rt != Unknown) {
		msg := "'" + op.text + "' cannot be applied to " + lt.String() + ", " + rt.String()
		if lt == Varchar || rt == Varchar {
			msg += ": log fields are varchar; cast them (cast(bytes as bigint))"
		}
		return nil, p.errorf(op.pos, "%s", msg)
	}
	t := Bigint
	if lt == Double || rt == Double {
		t = Double
	}
	return &arith{op: op.text[0], l: l, r: r, t: t}, nil
}

func (p *parser) parseUnary() (expr, *Error) {
	t := p.peek()
	if t.is("-") || t.is("+") {
		p.next()
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if et := e.typ(); !et.numeric() && et != Unknown {
			return nil, p.errorf(t.pos, "unary '%s' cannot be applied to %s", t.text, et)
		}
		if t.text == "+" {
			return e, nil
		}
		if lit, ok := e.(*literal); ok && !lit.v.null {
			if lit.t == Bigint {
				return &literal{t: Bigint, v: intValue(-lit.v.i)}, nil
			}
			return &literal{t: Double, v: floatValue(-lit.v.f)}, nil
		}
		return &negate{e: e}, nil
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (expr, *Error) {
	t := p.next()
	switch t.kind {
	case tokString:
		return &literal{t: Varchar, v: strValue(t.text)}, nil
	case tokInt:
		i, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, p.errorf(t.pos, "integer %s is out of the bigint range", t.text)
		}
		return &literal{t: Bigint, v: intValue(i)}, nil
	case tokFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil && !math.IsInf(f, 0) {
			return nil, p.errorf(t.pos, "bad number %s", t.text)
		}
		return &literal{t: Double, v: floatValue(f)}, nil
	case tokQIdent:
		return p.fieldRef(t.text), nil
	case tokOp:
		if t.is("(") {
			e, _, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return e, nil
		}
		if t.is("*") {
			return nil, p.errorf(t.pos, "'*' stands for the logstore only at the start of a statement")
		}
		return nil, p.errorf(t.pos, "expected an expression, found %s", t.describe())
	case tokEOF:
		return nil, p.errorf(t.pos, "expected an expression, found the end of the statement")
	}
	// A bare word.
	switch strings.ToLower(t.text) {
	case "null":
		return &literal{t: Unknown, v: nullValue}, nil
	case "true":
		return &literal{t: Boolean, v: boolValue(true)}, nil
	case "false":
		return &literal{t: Boolean, v: boolValue(false)}, nil
	case "cast", "try_cast":
		return p.parseCast(t)
	case "case":
		return p.parseCase(t)
	}
	if isKeyword(t) {
		return nil, p.errorf(t.pos, "expected an expression, found the keyword %s (quote a field of that name: \"%s\")", strings.ToUpper(t.text), t.text)
	}
	if p.peek().is("(") {
		return p.parseCall(t)
	}
	if n := p.peek(); n.is(":") && !n.spaceBefore {
		return nil, p.errorf(t.pos, "a field name with special characters must be double-quoted: \"%s:…\"", t.text)
	}
	return p.fieldRef(t.text), nil
}

func (p *parser) fieldRef(name string) *fieldRef {
	kind, tag := attrOf(name)
	t := Varchar
	switch {
	case kind == attrTime || kind == attrTimeNs:
		t = Bigint
	case kind == attrNone && p.types[name] != Unknown:
		t = p.types[name]
	}
	return &fieldRef{name: name, kind: kind, tag: tag, t: t}
}

func (p *parser) parseCast(kw token) (expr, *Error) {
	if _, err := p.expectOp("("); err != nil {
		return nil, err
	}
	e, _, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if !p.acceptWord("as") {
		return nil, p.errorf(p.peek().pos, "expected AS in %s, found %s", strings.ToUpper(kw.text), p.peek().describe())
	}
	tt := p.next()
	to, ok := Unknown, false
	if tt.kind == tokIdent {
		to, ok = typeNamed(tt.text)
	}
	if !ok {
		return nil, p.errorf(tt.pos, "unsupported type %s (supported: varchar, bigint, double, boolean)", tt.describe())
	}
	// varchar(n), decimal(p, s) style lengths are not part of the subset.
	if _, err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &cast{e: e, to: to, try: strings.EqualFold(kw.text, "try_cast")}, nil
}

func (p *parser) parseCase(kw token) (expr, *Error) {
	var subject expr
	if !p.peek().isWord("when") {
		e, _, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		subject = e
	}
	c := &caseWhen{}
	var branches []expr
	for p.peek().isWord("when") {
		wt := p.next()
		cond, _, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if subject != nil {
			if err := p.comparable(wt.pos, "CASE … WHEN", subject, cond); err != nil {
				return nil, err
			}
			cond = &compare{op: "=", l: subject, r: cond}
		} else if t := cond.typ(); t != Boolean && t != Unknown {
			return nil, p.errorf(wt.pos, "WHEN needs a boolean condition, got %s", t)
		}
		if !p.acceptWord("then") {
			return nil, p.errorf(p.peek().pos, "expected THEN, found %s", p.peek().describe())
		}
		v, _, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		c.conds = append(c.conds, cond)
		c.vals = append(c.vals, v)
		branches = append(branches, v)
	}
	if len(c.conds) == 0 {
		return nil, p.errorf(p.peek().pos, "CASE needs at least one WHEN")
	}
	if p.acceptWord("else") {
		v, _, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		c.els = v
		branches = append(branches, v)
	}
	if !p.acceptWord("end") {
		return nil, p.errorf(p.peek().pos, "expected END to close CASE, found %s", p.peek().describe())
	}
	t, err := p.unify(kw.pos, "CASE branches", branches)
	if err != nil {
		return nil, err
	}
	c.t = t
	return c, nil
}

// unify finds the common type of values that must agree (CASE branches,
// coalesce arguments): one type, or bigint and double (double).
func (p *parser) unify(pos int, what string, es []expr) (Type, *Error) {
	t := Unknown
	for _, e := range es {
		et := e.typ()
		switch {
		case et == Unknown || et == t:
		case t == Unknown:
			t = et
		case t.numeric() && et.numeric():
			t = Double
		default:
			return Unknown, p.errorf(pos, "%s have different types: %s and %s", what, t, et)
		}
	}
	return t, nil
}

func (p *parser) parseCall(name token) (expr, *Error) {
	p.next() // (
	var args []expr
	var argPos []int
	if !p.peek().is(")") {
		for {
			e, pos, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			args = append(args, e)
			argPos = append(argPos, pos)
			if !p.peek().is(",") {
				break
			}
			p.next()
		}
	}
	if _, err := p.expectOp(")"); err != nil {
		return nil, err
	}
	lname := strings.ToLower(name.text)
	f, ok := functions[lname]
	if !ok {
		return nil, p.errorf(name.pos, "function %s is not supported (supported: %s)", name.text, strings.Join(functionNames(), ", "))
	}
	if len(args) < f.min || f.max >= 0 && len(args) > f.max {
		return nil, p.errorf(name.pos, "%s takes %s, got %d", lname, f.arity(), len(args))
	}
	return f.build(&callSite{p: p, name: lname, pos: name.pos, args: args, argPos: argPos})
}
