package interrupt_test

// A tiny assembler for the binary format, enough for hand-written test modules.

const (
	i32  = 0x7f
	i64  = 0x7e
	v128 = 0x7b
)

// Section ids.
const (
	sCustom    = 0
	sType      = 1
	sImport    = 2
	sFunction  = 3
	sTable     = 4
	sMemory    = 5
	sGlobal    = 6
	sExport    = 7
	sElement   = 9
	sCode      = 10
	sData      = 11
	sDataCount = 12
)

func uleb(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// vec is a vector: element count, then the elements.
func vec(items ...[]byte) []byte { return cat(uleb(uint64(len(items))), cat(items...)) }

func name(s string) []byte { return cat(uleb(uint64(len(s))), []byte(s)) }

func section(id byte, payload []byte) []byte {
	return cat([]byte{id}, uleb(uint64(len(payload))), payload)
}

func customSection(n string, data []byte) []byte { return section(sCustom, cat(name(n), data)) }

func module(sections ...[]byte) []byte {
	return cat([]byte("\x00asm\x01\x00\x00\x00"), cat(sections...))
}

func funcType(params, results []byte) []byte {
	return cat([]byte{0x60}, uleb(uint64(len(params))), params, uleb(uint64(len(results))), results)
}

// body is a function body: local declarations (count, type pairs) and instructions,
// which must include the final end.
func body(locals []byte, code ...[]byte) []byte {
	b := cat(locals, cat(code...))
	return cat(uleb(uint64(len(b))), b)
}

func noLocals() []byte { return []byte{0x00} }

// locals declares n locals of type t.
func locals(n uint64, t byte) []byte { return cat([]byte{0x01}, uleb(n), []byte{t}) }

func exportFunc(n string, idx uint64) []byte   { return cat(name(n), []byte{0x00}, uleb(idx)) }
func exportGlobal(n string, idx uint64) []byte { return cat(name(n), []byte{0x03}, uleb(idx)) }

func importFunc(mod, n string, typ uint64) []byte {
	return cat(name(mod), name(n), []byte{0x00}, uleb(typ))
}

func importGlobal(mod, n string, t byte, mutable bool) []byte {
	m := byte(0)
	if mutable {
		m = 1
	}
	return cat(name(mod), name(n), []byte{0x03, t, m})
}

// globalI32 defines a global of type i32 initialised to v.
func globalI32(v int32, mutable bool) []byte {
	m := byte(0)
	if mutable {
		m = 1
	}
	return cat([]byte{i32, m, 0x41}, sleb(int64(v)), []byte{0x0b})
}

// Instructions.
func op(b ...byte) []byte                 { return b }
func i32Const(v int32) []byte             { return cat([]byte{0x41}, sleb(int64(v))) }
func localGet(i uint64) []byte            { return cat([]byte{0x20}, uleb(i)) }
func localSet(i uint64) []byte            { return cat([]byte{0x21}, uleb(i)) }
func localTee(i uint64) []byte            { return cat([]byte{0x22}, uleb(i)) }
func globalGet(i uint64) []byte           { return cat([]byte{0x23}, uleb(i)) }
func globalSet(i uint64) []byte           { return cat([]byte{0x24}, uleb(i)) }
func call(i uint64) []byte                { return cat([]byte{0x10}, uleb(i)) }
func br(l uint64) []byte                  { return cat([]byte{0x0c}, uleb(l)) }
func brIf(l uint64) []byte                { return cat([]byte{0x0d}, uleb(l)) }
func loop(bt ...byte) []byte              { return cat([]byte{0x03}, bt) }
func block(bt ...byte) []byte             { return cat([]byte{0x02}, bt) }
func ifThen(bt ...byte) []byte            { return cat([]byte{0x04}, bt) }
func simd(sub uint64, imm ...byte) []byte { return cat([]byte{0xfd}, uleb(sub), imm) }
func misc(sub uint64, imm ...byte) []byte { return cat([]byte{0xfc}, uleb(sub), imm) }

var (
	end         = op(0x0b)
	empty       = []byte{0x40}
	i32Add      = op(0x6a)
	i32Sub      = op(0x6b)
	i32Mul      = op(0x6c)
	i32Eqz      = op(0x45)
	i32GtU      = op(0x4b)
	i32LtU      = op(0x49)
	drop        = op(0x1a)
	unreachable = op(0x00)
)
