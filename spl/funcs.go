package spl

import (
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// function is one supported SQL function.
type function struct {
	min, max int // argument count; max < 0: any
	build    func(cs *callSite) (expr, *Error)
}

func (f function) arity() string {
	switch {
	case f.min == f.max && f.min == 1:
		return "1 argument"
	case f.min == f.max:
		return strconv.Itoa(f.min) + " arguments"
	case f.max < 0:
		return "at least " + strconv.Itoa(f.min) + " arguments"
	}
	return strconv.Itoa(f.min) + " to " + strconv.Itoa(f.max) + " arguments"
}

// callSite is a call being type-checked.
type callSite struct {
	p      *parser
	name   string
	pos    int
	args   []expr
	argPos []int
}

// want checks that argument i has type t (null fits; a bigint fits a
// double).
func (cs *callSite) want(i int, t Type) *Error {
	at := cs.args[i].typ()
	if at == t || at == Unknown || t == Double && at == Bigint {
		return nil
	}
	msg := "argument " + strconv.Itoa(i+1) + " of " + cs.name + " must be " + t.String() + ", got " + at.String()
	if t == Varchar && at.numeric() {
		msg += " (cast it to varchar)"
	} else if t.numeric() && at == Varchar {
		msg += " (log fields are varchar: cast it)"
	}
	return cs.p.errorf(cs.argPos[i], "%s", msg)
}

func (cs *callSite) wantAll(ts ...Type) *Error {
	for i := range cs.args {
		t := ts[min(i, len(ts)-1)]
		if err := cs.want(i, t); err != nil {
			return err
		}
	}
	return nil
}

// constString returns argument i, which must be a string literal.
func (cs *callSite) constString(i int) (string, *Error) {
	if l, ok := cs.args[i].(*literal); ok && l.t == Varchar {
		return l.v.s, nil
	}
	return "", cs.p.errorf(cs.argPos[i], "argument %d of %s must be a string literal", i+1, cs.name)
}

// constRegexp compiles argument i, an RE2 pattern literal.
func (cs *callSite) constRegexp(i int) (*regexp.Regexp, *Error) {
	s, err := cs.constString(i)
	if err != nil {
		return nil, err
	}
	re, rerr := regexp.Compile(s)
	if rerr != nil {
		return nil, cs.p.errorf(cs.argPos[i], "bad regular expression: %s", strings.TrimPrefix(rerr.Error(), "error parsing regexp: "))
	}
	return re, nil
}

func (cs *callSite) node(t Type, fn func(c *evalCtx, args []expr) value) (expr, *Error) {
	return &call{name: cs.name, args: cs.args, t: t, fn: fn}, nil
}

// strFunc builds a function of varchar arguments that is null when any
// argument is null.
func strFunc(t Type, ts []Type, fn func(c *evalCtx, args []value) value) func(cs *callSite) (expr, *Error) {
	return func(cs *callSite) (expr, *Error) {
		if err := cs.wantAll(ts...); err != nil {
			return nil, err
		}
		return cs.node(t, func(c *evalCtx, args []expr) value {
			var buf [4]value
			vals := buf[:0]
			for i, a := range args {
				v := a.eval(c)
				if v.null {
					return nullValue
				}
				vals = append(vals, coerce(v, a.typ(), ts[min(i, len(ts)-1)]))
			}
			return fn(c, vals)
		})
	}
}

var vc, bi, db = Varchar, Bigint, Double

var functions map[string]function

func init() {
	functions = map[string]function{
		"lower":  {1, 1, strFunc(vc, []Type{vc}, func(_ *evalCtx, a []value) value { return strValue(strings.ToLower(a[0].s)) })},
		"upper":  {1, 1, strFunc(vc, []Type{vc}, func(_ *evalCtx, a []value) value { return strValue(strings.ToUpper(a[0].s)) })},
		"length": {1, 1, strFunc(bi, []Type{vc}, func(_ *evalCtx, a []value) value { return intValue(int64(utf8.RuneCountInString(a[0].s))) })},
		"trim":   {1, 1, strFunc(vc, []Type{vc}, func(_ *evalCtx, a []value) value { return strValue(strings.Trim(a[0].s, " ")) })},
		"ltrim":  {1, 1, strFunc(vc, []Type{vc}, func(_ *evalCtx, a []value) value { return strValue(strings.TrimLeft(a[0].s, " ")) })},
		"rtrim":  {1, 1, strFunc(vc, []Type{vc}, func(_ *evalCtx, a []value) value { return strValue(strings.TrimRight(a[0].s, " ")) })},
		"reverse": {1, 1, strFunc(vc, []Type{vc}, func(_ *evalCtx, a []value) value {
			r := []rune(a[0].s)
			for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
				r[i], r[j] = r[j], r[i]
			}
			return strValue(string(r))
		})},
		"substr":    {2, 3, strFunc(vc, []Type{vc, bi, bi}, substr)},
		"substring": {2, 3, strFunc(vc, []Type{vc, bi, bi}, substr)},
		"concat": {1, -1, strFunc(vc, []Type{vc}, func(_ *evalCtx, a []value) value {
			var b strings.Builder
			for _, v := range a {
				b.WriteString(v.s)
			}
			return strValue(b.String())
		})},
		"replace": {2, 3, strFunc(vc, []Type{vc, vc, vc}, func(_ *evalCtx, a []value) value {
			to := ""
			if len(a) == 3 {
				to = a[2].s
			}
			return strValue(strings.ReplaceAll(a[0].s, a[1].s, to))
		})},
		"strpos": {2, 2, strFunc(bi, []Type{vc, vc}, func(_ *evalCtx, a []value) value {
			i := strings.Index(a[0].s, a[1].s)
			if i < 0 {
				return intValue(0)
			}
			return intValue(int64(utf8.RuneCountInString(a[0].s[:i])) + 1)
		})},
		"split_part": {3, 3, strFunc(vc, []Type{vc, vc, bi}, func(c *evalCtx, a []value) value {
			if a[2].i < 1 {
				return c.fail("split_part: index must be greater than zero")
			}
			if a[1].s == "" {
				return c.fail("split_part: the delimiter is empty")
			}
			parts := strings.SplitN(a[0].s, a[1].s, int(min(a[2].i, math.MaxInt32))+1)
			if int64(len(parts)) < a[2].i {
				return nullValue
			}
			return strValue(parts[a[2].i-1])
		})},
		"starts_with": {2, 2, strFunc(Boolean, []Type{vc, vc}, func(_ *evalCtx, a []value) value {
			return boolValue(strings.HasPrefix(a[0].s, a[1].s))
		})},
		"regexp_like":         {2, 2, buildRegexpLike},
		"regexp_extract":      {2, 3, buildRegexpExtract},
		"regexp_replace":      {2, 3, buildRegexpReplace},
		"json_extract_scalar": {2, 2, buildJSONExtract(true)},
		"json_extract":        {2, 2, buildJSONExtract(false)},
		"coalesce":            {1, -1, buildCoalesce},
		"if":                  {2, 3, buildIf},
		"nullif":              {2, 2, buildNullif},
		"abs":                 {1, 1, buildNumeric("abs", math.Abs, func(i int64) (int64, bool) { return absInt(i) })},
		"floor":               {1, 1, buildNumeric("floor", math.Floor, func(i int64) (int64, bool) { return i, true })},
		"ceil":                {1, 1, buildNumeric("ceil", math.Ceil, func(i int64) (int64, bool) { return i, true })},
		"ceiling":             {1, 1, buildNumeric("ceiling", math.Ceil, func(i int64) (int64, bool) { return i, true })},
		"round":               {1, 2, buildRound},
		"url_extract_host": {1, 1, strFunc(vc, []Type{vc}, func(_ *evalCtx, a []value) value {
			u, err := url.Parse(a[0].s)
			if err != nil || u.Host == "" {
				return nullValue
			}
			return strValue(u.Hostname())
		})},
		"url_extract_path": {1, 1, strFunc(vc, []Type{vc}, func(_ *evalCtx, a []value) value {
			u, err := url.Parse(a[0].s)
			if err != nil {
				return nullValue
			}
			return strValue(u.EscapedPath())
		})},
		"url_extract_parameter": {2, 2, strFunc(vc, []Type{vc, vc}, func(_ *evalCtx, a []value) value {
			u, err := url.Parse(a[0].s)
			if err != nil {
				return nullValue
			}
			vs, ok := u.Query()[a[1].s]
			if !ok || len(vs) == 0 {
				return nullValue
			}
			return strValue(vs[0])
		})},
	}
}

// functionNames lists the supported functions, sorted.
func functionNames() []string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Functions returns the names of the SQL functions the subset supports,
// sorted.
func Functions() []string { return functionNames() }

func absInt(i int64) (int64, bool) {
	if i == math.MinInt64 {
		return 0, false
	}
	if i < 0 {
		return -i, true
	}
	return i, true
}

// substr is Presto's substr(s, start[, length]): 1-based in characters,
// a negative start counts from the end, out of range is ”.
func substr(_ *evalCtx, a []value) value {
	r := []rune(a[0].s)
	n := int64(len(r))
	start := a[1].i
	if start == 0 || start > n || -start > n {
		return strValue("")
	}
	if start < 0 {
		start = n + start + 1
	}
	end := n + 1
	if len(a) == 3 {
		if a[2].i <= 0 {
			return strValue("")
		}
		if e := start + a[2].i; e < end && e > start {
			end = e
		}
	}
	return strValue(string(r[start-1 : end-1]))
}

func buildRegexpLike(cs *callSite) (expr, *Error) {
	if err := cs.want(0, Varchar); err != nil {
		return nil, err
	}
	re, err := cs.constRegexp(1)
	if err != nil {
		return nil, err
	}
	return cs.node(Boolean, func(c *evalCtx, args []expr) value {
		v := args[0].eval(c)
		if v.null {
			return v
		}
		return boolValue(re.MatchString(v.s))
	})
}

func buildRegexpExtract(cs *callSite) (expr, *Error) {
	if err := cs.want(0, Varchar); err != nil {
		return nil, err
	}
	re, err := cs.constRegexp(1)
	if err != nil {
		return nil, err
	}
	group := 0
	if len(cs.args) == 3 {
		l, ok := cs.args[2].(*literal)
		if !ok || l.t != Bigint {
			return nil, cs.p.errorf(cs.argPos[2], "argument 3 of regexp_extract must be an integer literal")
		}
		if l.v.i < 0 || l.v.i > int64(re.NumSubexp()) {
			return nil, cs.p.errorf(cs.argPos[2], "the pattern has %d groups; group %d does not exist", re.NumSubexp(), l.v.i)
		}
		group = int(l.v.i)
	}
	return cs.node(Varchar, func(c *evalCtx, args []expr) value {
		v := args[0].eval(c)
		if v.null {
			return v
		}
		m := re.FindStringSubmatchIndex(v.s)
		if m == nil || m[2*group] < 0 {
			return nullValue
		}
		return strValue(v.s[m[2*group]:m[2*group+1]])
	})
}

func buildRegexpReplace(cs *callSite) (expr, *Error) {
	if err := cs.want(0, Varchar); err != nil {
		return nil, err
	}
	re, err := cs.constRegexp(1)
	if err != nil {
		return nil, err
	}
	if len(cs.args) == 3 {
		if err := cs.want(2, Varchar); err != nil {
			return nil, err
		}
	}
	return cs.node(Varchar, func(c *evalCtx, args []expr) value {
		v := args[0].eval(c)
		if v.null {
			return v
		}
		repl := ""
		if len(args) == 3 {
			r := args[2].eval(c)
			if r.null {
				return r
			}
			repl = r.s
		}
		return strValue(re.ReplaceAllString(v.s, repl))
	})
}

func buildJSONExtract(scalar bool) func(cs *callSite) (expr, *Error) {
	return func(cs *callSite) (expr, *Error) {
		if err := cs.want(0, Varchar); err != nil {
			return nil, err
		}
		ps, err := cs.constString(1)
		if err != nil {
			return nil, err
		}
		path, perr := parseJSONPath(ps)
		if perr != "" {
			return nil, cs.p.errorf(cs.argPos[1], "bad JSON path '%s': %s", ps, perr)
		}
		return cs.node(Varchar, func(c *evalCtx, args []expr) value {
			v := args[0].eval(c)
			if v.null {
				return v
			}
			raw, ok := jsonAt(v.s, path)
			if !ok {
				return nullValue
			}
			if scalar {
				s, ok := jsonScalar(raw)
				if !ok {
					return nullValue
				}
				return strValue(s)
			}
			return strValue(compactJSON(raw))
		})
	}
}

func buildCoalesce(cs *callSite) (expr, *Error) {
	t, err := cs.p.unify(cs.pos, "coalesce arguments", cs.args)
	if err != nil {
		return nil, err
	}
	return cs.node(t, func(c *evalCtx, args []expr) value {
		for _, a := range args {
			if v := a.eval(c); !v.null {
				return coerce(v, a.typ(), t)
			}
		}
		return nullValue
	})
}

func buildIf(cs *callSite) (expr, *Error) {
	if t := cs.args[0].typ(); t != Boolean && t != Unknown {
		return nil, cs.p.errorf(cs.argPos[0], "the condition of if must be boolean, got %s", t)
	}
	t, err := cs.p.unify(cs.pos, "if branches", cs.args[1:])
	if err != nil {
		return nil, err
	}
	return cs.node(t, func(c *evalCtx, args []expr) value {
		if v := args[0].eval(c); !v.null && v.b {
			return coerce(args[1].eval(c), args[1].typ(), t)
		}
		if len(args) == 3 {
			return coerce(args[2].eval(c), args[2].typ(), t)
		}
		return nullValue
	})
}

func buildNullif(cs *callSite) (expr, *Error) {
	if err := cs.p.comparable(cs.pos, "nullif", cs.args...); err != nil {
		return nil, err
	}
	return cs.node(cs.args[0].typ(), func(c *evalCtx, args []expr) value {
		a := args[0].eval(c)
		b := args[1].eval(c)
		if !a.null && !b.null && cmpValues(a, args[0].typ(), b, args[1].typ()) == 0 {
			return nullValue
		}
		return a
	})
}

func buildNumeric(name string, f func(float64) float64, i func(int64) (int64, bool)) func(cs *callSite) (expr, *Error) {
	return func(cs *callSite) (expr, *Error) {
		if err := cs.want(0, Double); err != nil {
			return nil, err
		}
		t := cs.args[0].typ()
		if t == Unknown {
			t = Double
		}
		return cs.node(t, func(c *evalCtx, args []expr) value {
			v := args[0].eval(c)
			if v.null {
				return v
			}
			if args[0].typ() == Bigint {
				r, ok := i(v.i)
				if !ok {
					return c.fail(name + ": bigint overflow")
				}
				return intValue(r)
			}
			return floatValue(f(v.f))
		})
	}
}

func buildRound(cs *callSite) (expr, *Error) {
	if err := cs.want(0, Double); err != nil {
		return nil, err
	}
	if len(cs.args) == 2 {
		if err := cs.want(1, Bigint); err != nil {
			return nil, err
		}
	}
	t := cs.args[0].typ()
	if t == Unknown {
		t = Double
	}
	return cs.node(t, func(c *evalCtx, args []expr) value {
		v := args[0].eval(c)
		if v.null {
			return v
		}
		d := int64(0)
		if len(args) == 2 {
			dv := args[1].eval(c)
			if dv.null {
				return dv
			}
			d = dv.i
		}
		if args[0].typ() == Bigint {
			if d >= 0 {
				return v
			}
			p := math.Pow10(int(-d))
			return intValue(int64(math.Round(float64(v.i)/p) * p))
		}
		p := math.Pow10(int(d))
		return floatValue(math.Round(v.f*p) / p)
	})
}
