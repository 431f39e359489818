package interrupt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ExportName is the name under which Instrument exports the interrupt flag.
const ExportName = "slspipe_interrupt"

// ErrAlreadyExported is returned by Instrument for a module that already exports
// ExportName, such as a module Instrument has already processed.
var ErrAlreadyExported = errors.New("interrupt: module already exports " + ExportName)

// FormatError reports a module Instrument cannot decode: malformed, truncated, or using an
// instruction or encoding outside what wazero accepts.
type FormatError struct {
	Offset int    // byte offset in the module where decoding failed
	Func   int    // index of the function (in the function index space), or -1
	Reason string // what was wrong
}

func (e *FormatError) Error() string {
	if e.Func >= 0 {
		return fmt.Sprintf("interrupt: function %d at offset %#x: %s", e.Func, e.Offset, e.Reason)
	}
	return fmt.Sprintf("interrupt: offset %#x: %s", e.Offset, e.Reason)
}

// Section ids of the binary format.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionRank orders the non-custom sections as a module must lay them out.
var sectionRank = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13,
}

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// section is one section of the input: id byte at start, payload in [payload, end).
type section struct {
	id                  byte
	start, payload, end int
}

// Instrument returns a copy of the WebAssembly binary wasm that the host can interrupt by
// setting the exported global ExportName (see the package documentation). wasm is not
// modified.
//
// It returns ErrAlreadyExported if the module already exports ExportName, and a
// *FormatError if it cannot decode the module.
//
// # Notes
//
//   - The flag and the countdown are appended to the module's defined globals, so no
//     existing global, function or other index changes, and the name section stays valid.
//   - Custom sections named ".debug_*" (DWARF) are dropped: they locate code by byte offset,
//     which the inserted checks shift, and stale line tables would make wazero print wrong
//     source lines in stack traces. Every other section is copied unchanged, except the
//     global, export and code sections, whose new sizes are re-encoded, and a memory section
//     added when the module has no memory.
//   - Functions without loops are copied byte for byte. Code that never starts another loop
//     iteration (straight-line code, a blocking host call) is not interrupted.
func Instrument(wasm []byte) ([]byte, error) {
	if !bytes.HasPrefix(wasm, header) {
		return nil, &FormatError{Offset: 0, Func: -1, Reason: "not a WebAssembly 1.0 binary (bad magic or version)"}
	}
	sections, err := splitSections(wasm)
	if err != nil {
		return nil, err
	}

	var im imports
	var definedGlobals uint32
	hasMemory := false
	for _, s := range sections {
		switch s.id {
		case secImport:
			if im, err = countImports(wasm, s); err != nil {
				return nil, err
			}
		case secMemory:
			r := newReader(wasm, s.payload, s.end)
			if n := r.u32(); r.err != nil {
				return nil, r.err
			} else if n > 0 {
				hasMemory = true
			}
		case secGlobal:
			r := newReader(wasm, s.payload, s.end)
			if definedGlobals = r.u32(); r.err != nil {
				return nil, r.err
			}
		case secExport:
			if err := checkExports(wasm, s); err != nil {
				return nil, err
			}
		}
	}
	flagIndex := uint64(im.globals) + uint64(definedGlobals)
	if flagIndex >= 1<<32-2 {
		return nil, &FormatError{Offset: 0, Func: -1, Reason: "too many globals"}
	}
	flag := uint32(flagIndex)
	// A module without memory gets an empty one, for memory.grow to exit to Go.
	needMemory := im.memories == 0 && !hasMemory

	out := make([]byte, 0, len(wasm)+len(wasm)/8+64)
	out = append(out, header...)
	needGlobal, needExport := true, true
	for _, s := range sections {
		if rank, ok := sectionRank[s.id]; ok {
			if needMemory && rank > sectionRank[secMemory] {
				out = appendSection(out, secMemory, emptyMemory)
				needMemory = false
			}
			if needGlobal && rank > sectionRank[secGlobal] {
				out = appendSection(out, secGlobal, appendGlobals(appendU32(nil, 2)))
				needGlobal = false
			}
			if needExport && rank > sectionRank[secExport] {
				out = appendSection(out, secExport, appendFlagExport(appendU32(nil, 1), flag))
				needExport = false
			}
		}
		switch s.id {
		case secCustom:
			r := newReader(wasm, s.payload, s.end)
			if name := r.name(); r.err != nil {
				return nil, r.err
			} else if strings.HasPrefix(name, ".debug_") {
				continue
			}
			out = append(out, wasm[s.start:s.end]...)
		case secMemory:
			if needMemory { // an empty memory section
				out = appendSection(out, secMemory, emptyMemory)
				needMemory = false
				continue
			}
			out = append(out, wasm[s.start:s.end]...)
		case secGlobal:
			out = appendSection(out, secGlobal, appendGlobals(prependCount(wasm, s, 2)))
			needGlobal = false
		case secExport:
			out = appendSection(out, secExport, appendFlagExport(prependCount(wasm, s, 1), flag))
			needExport = false
		case secCode:
			payload, err := instrumentCode(wasm, s, flag, im.funcs)
			if err != nil {
				return nil, err
			}
			out = appendSection(out, secCode, payload)
		default:
			out = append(out, wasm[s.start:s.end]...)
		}
	}
	if needMemory {
		out = appendSection(out, secMemory, emptyMemory)
	}
	if needGlobal {
		out = appendSection(out, secGlobal, appendGlobals(appendU32(nil, 2)))
	}
	if needExport {
		out = appendSection(out, secExport, appendFlagExport(appendU32(nil, 1), flag))
	}
	return out, nil
}

// splitSections delimits the sections, rejecting unknown ids and repeated sections.
func splitSections(wasm []byte) ([]section, error) {
	var sections []section
	seen := map[byte]bool{}
	r := newReader(wasm, len(header), len(wasm))
	for !r.done() {
		start := r.pos
		id := r.byte()
		size := r.u32()
		payload := r.pos
		r.bytes(uint64(size))
		if r.err != nil {
			return nil, r.err
		}
		if _, known := sectionRank[id]; !known && id != secCustom {
			return nil, &FormatError{Offset: start, Func: -1, Reason: fmt.Sprintf("unknown section id %d", id)}
		}
		if id != secCustom && seen[id] {
			return nil, &FormatError{Offset: start, Func: -1, Reason: fmt.Sprintf("repeated section id %d", id)}
		}
		seen[id] = true
		sections = append(sections, section{id: id, start: start, payload: payload, end: r.pos})
	}
	return sections, r.err
}

// imports counts a module's imports by kind.
type imports struct{ funcs, memories, globals uint32 }

// countImports decodes the import section and counts imported functions, memories and globals.
func countImports(wasm []byte, s section) (im imports, err error) {
	r := newReader(wasm, s.payload, s.end)
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name() // module
		r.name() // field
		at := r.pos
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
			im.funcs++
		case 0x01: // table
			tableType(r)
		case 0x02: // memory
			limits(r)
			im.memories++
		case 0x03: // global: value type, mutability
			valType(r)
			r.byte()
			im.globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			r.failf(at, "unknown import kind %#x", kind)
		}
	}
	if r.err == nil && r.pos != s.end {
		r.failf(r.pos, "import section has %d trailing bytes", s.end-r.pos)
	}
	return im, r.err
}

// tableType reads a table type, with the optional initialiser form (0x40 0x00 prefix).
func tableType(r *reader) {
	withInit := false
	if r.pos < r.end && r.buf[r.pos] == 0x40 {
		r.byte()
		if b := r.byte(); b != 0x00 {
			r.failf(r.pos-1, "table type: reserved byte %#x is not zero", b)
		}
		withInit = true
	}
	valType(r)
	limits(r)
	if withInit {
		walkExpr(r, nil)
	}
}

// limits reads memory or table limits: flags, minimum and optional maximum.
func limits(r *reader) {
	at := r.pos
	flags := r.byte()
	if flags > 0x07 {
		r.failf(at, "unknown limits flags %#x", flags)
		return
	}
	bits := 32
	if flags&0x04 != 0 { // 64-bit memory
		bits = 64
	}
	r.uleb(bits)
	if flags&0x01 != 0 {
		r.uleb(bits)
	}
}

// checkExports decodes the export section and refuses a module already exporting ExportName.
func checkExports(wasm []byte, s section) error {
	r := newReader(wasm, s.payload, s.end)
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		name := r.name()
		r.byte() // kind
		r.u32()  // index
		if r.err == nil && name == ExportName {
			return ErrAlreadyExported
		}
	}
	if r.err == nil && r.pos != s.end {
		r.failf(r.pos, "export section has %d trailing bytes", s.end-r.pos)
	}
	return r.err
}

// prependCount returns the vector payload of s with its element count increased by add,
// ready for the new elements to be appended.
func prependCount(wasm []byte, s section, add uint32) []byte {
	r := newReader(wasm, s.payload, s.end)
	n := r.u32() // already decoded successfully by Instrument
	out := make([]byte, 0, s.end-s.payload+32)
	out = appendU32(out, n+add)
	return append(out, wasm[r.pos:s.end]...)
}

// emptyMemory is a memory section defining one memory of no pages.
var emptyMemory = []byte{0x01, 0x00, 0x00}

// appendGlobals appends the definitions of the flag (mutable i32, 0) and of the countdown
// to the next exit to Go (mutable i32, yieldInterval).
func appendGlobals(dst []byte) []byte {
	dst = append(dst, 0x7f, 0x01, 0x41, 0x00, 0x0b, 0x7f, 0x01, 0x41)
	return append(appendS32(dst, yieldInterval), 0x0b)
}

// appendFlagExport appends the flag's export entry.
func appendFlagExport(dst []byte, flag uint32) []byte {
	dst = appendU32(dst, uint32(len(ExportName)))
	dst = append(dst, ExportName...)
	dst = append(dst, 0x03)
	return appendU32(dst, flag)
}

func appendSection(dst []byte, id byte, payload []byte) []byte {
	dst = append(dst, id)
	dst = appendU32(dst, uint32(len(payload)))
	return append(dst, payload...)
}
