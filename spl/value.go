package spl

import (
	"math"
	"strconv"
	"strings"
)

// Type is the SQL type of an expression.
type Type int

// The types of the subset. Every log field is varchar; numbers and booleans
// come from literals, casts, comparisons and functions. Unknown is the type
// of the null literal, which fits anywhere.
const (
	Unknown Type = iota
	Varchar
	Bigint
	Double
	Boolean
)

func (t Type) String() string {
	switch t {
	case Varchar:
		return "varchar"
	case Bigint:
		return "bigint"
	case Double:
		return "double"
	case Boolean:
		return "boolean"
	}
	return "unknown"
}

func (t Type) numeric() bool { return t == Bigint || t == Double }

// value is an evaluated expression. Strings alias the row they come from.
type value struct {
	null bool
	s    string
	i    int64
	f    float64
	b    bool
}

var nullValue = value{null: true}

func strValue(s string) value    { return value{s: s} }
func intValue(i int64) value     { return value{i: i} }
func floatValue(f float64) value { return value{f: f} }
func boolValue(b bool) value     { return value{b: b} }

// asFloat returns a numeric value of type t as a float64.
func (v value) asFloat(t Type) float64 {
	if t == Bigint {
		return float64(v.i)
	}
	return v.f
}

// format renders a value of type t as the text a log field holds.
func format(v value, t Type) string {
	switch t {
	case Varchar:
		return v.s
	case Bigint:
		return strconv.FormatInt(v.i, 10)
	case Double:
		return formatDouble(v.f)
	case Boolean:
		if v.b {
			return "true"
		}
		return "false"
	}
	return ""
}

// formatDouble writes a double the shortest way that reads back the same,
// without an exponent for everyday magnitudes.
func formatDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a == 0 || a >= 1e-7 && a < 1e21 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return strconv.FormatFloat(f, 'E', -1, 64)
}

// castTo converts v of type from to type to. ok is false when the value
// does not convert (cast fails, try_cast gives null).
func castTo(v value, from, to Type) (value, bool) {
	if v.null || from == to {
		return v, true
	}
	switch to {
	case Varchar:
		return strValue(format(v, from)), true
	case Bigint:
		switch from {
		case Varchar:
			i, err := strconv.ParseInt(v.s, 10, 64)
			return intValue(i), err == nil
		case Double:
			if math.IsNaN(v.f) || v.f >= math.MaxInt64 || v.f < math.MinInt64 {
				return nullValue, false
			}
			return intValue(int64(math.Round(v.f))), true
		case Boolean:
			if v.b {
				return intValue(1), true
			}
			return intValue(0), true
		}
	case Double:
		switch from {
		case Varchar:
			f, err := strconv.ParseFloat(v.s, 64)
			if err != nil {
				if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
					return floatValue(f), true
				}
				return nullValue, false
			}
			return floatValue(f), true
		case Bigint:
			return floatValue(float64(v.i)), true
		case Boolean:
			if v.b {
				return floatValue(1), true
			}
			return floatValue(0), true
		}
	case Boolean:
		switch from {
		case Varchar:
			switch strings.ToLower(v.s) {
			case "true", "t", "1":
				return boolValue(true), true
			case "false", "f", "0":
				return boolValue(false), true
			}
			return nullValue, false
		case Bigint:
			return boolValue(v.i != 0), true
		case Double:
			return boolValue(v.f != 0), true
		}
	}
	return nullValue, false
}

// typeNamed maps a cast target to its type.
func typeNamed(name string) (Type, bool) {
	switch strings.ToLower(name) {
	case "varchar", "string", "char":
		return Varchar, true
	case "bigint", "integer", "int", "smallint", "tinyint":
		return Bigint, true
	case "double", "real", "float":
		return Double, true
	case "boolean", "bool":
		return Boolean, true
	}
	return Unknown, false
}
