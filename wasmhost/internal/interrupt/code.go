package interrupt

import "fmt"

// yieldInterval is how many loop iterations run between two exits to Go. An exit costs
// about 80 ns, so this amortises it to under 0.1 ns per iteration, while a guest still
// yields to the Go scheduler (and notices the flag) every few microseconds.
const yieldInterval = 1024

// instrumentCode returns the code section's new payload, with the interrupt check inserted
// after every loop header. flag is the flag's global index, flag+1 the countdown's.
// importedFuncs numbers the functions in errors.
func instrumentCode(wasm []byte, s section, flag uint32, importedFuncs uint32) ([]byte, error) {
	check := loopCheck(flag, flag+1)

	r := newReader(wasm, s.payload, s.end)
	count := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	out := make([]byte, 0, (s.end-s.payload)*9/8+64)
	out = appendU32(out, count)
	var loops []int
	var body []byte
	for i := uint32(0); i < count; i++ {
		entry := r.pos
		size := r.u32()
		start := r.pos
		r.bytes(uint64(size))
		if r.err != nil {
			return nil, fmt.Errorf("code entry %d: %w", i, r.err)
		}
		end := r.pos

		fr := newReader(wasm, start, end)
		fr.fn = int(uint64(importedFuncs) + uint64(i))
		loops = loops[:0]
		locals(fr)
		walkExpr(fr, func(pos int) { loops = append(loops, pos) })
		if fr.err == nil && fr.pos != end {
			fr.failf(fr.pos, "%d bytes after the function's final end", end-fr.pos)
		}
		if fr.err != nil {
			return nil, fr.err
		}

		if len(loops) == 0 {
			out = append(out, wasm[entry:end]...)
			continue
		}
		body = body[:0]
		last := start
		for _, pos := range loops {
			body = append(body, wasm[last:pos]...)
			body = append(body, check...)
			last = pos
		}
		body = append(body, wasm[last:end]...)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if r.pos != s.end {
		return nil, &FormatError{Offset: r.pos, Func: -1, Reason: fmt.Sprintf("code section has %d trailing bytes", s.end-r.pos)}
	}
	return out, nil
}

// loopCheck is the code inserted at the top of every loop: it counts iterations down and,
// every yieldInterval of them, traps if the flag is set and otherwise exits to Go.
//
// The exit is what makes the flag work at all: Go cannot preempt a goroutine running
// compiled guest code, so a guest looping without ever leaving it would hold up every
// stop-the-world of the process (a GC, for one), including the goroutine meant to set the
// flag. memory.grow by 0 pages has no effect on the guest, but wazero's compiler runs it in Go.
func loopCheck(flag, countdown uint32) []byte {
	get := func(b []byte, g uint32) []byte { return appendU32(append(b, 0x23), g) }
	set := func(b []byte, g uint32) []byte { return appendU32(append(b, 0x24), g) }
	var c []byte
	c = get(c, countdown)
	c = append(c, 0x41, 0x01, 0x6b) // i32.const 1; i32.sub
	c = set(c, countdown)
	c = get(c, countdown)
	c = append(c, 0x45, 0x04, 0x40) // i32.eqz; if
	c = appendS32(append(c, 0x41), yieldInterval)
	c = set(c, countdown)
	c = get(c, flag)
	c = append(c, 0x04, 0x40, 0x00, 0x0b)       // if; unreachable; end
	c = append(c, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0; memory.grow 0; drop
	return append(c, 0x0b)                      // end
}

// locals reads a function body's local declarations.
func locals(r *reader) {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.u32()
		valType(r)
	}
}
