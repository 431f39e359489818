//go:build wasip1

package slspipe

var (
	arena     []byte
	out       Output
	lastError []byte
	noOutcome = []byte("module set no outcome for this record")
)

func fail(code int64, msg string) int64 {
	lastError = []byte(msg)
	return -code
}

//go:wasmexport slspipe_abi_v1
func slspipeABIv1() {}

//go:wasmexport slspipe_arena
func slspipeArena(n uint32) uint32 {
	if uint32(len(arena)) < n {
		arena = make([]byte, n+n/4)
	}
	return addr(arena)
}

//go:wasmexport slspipe_last_error
func slspipeLastError() uint64 {
	return uint64(addr(lastError))<<32 | uint64(len(lastError))
}

//go:wasmexport slspipe_init
func slspipeInit(ptr, n uint32) int32 {
	if initFn == nil {
		return 0
	}
	v := view{mem: arena, base: addr(arena)}
	count := le.Uint32(v.bytes(ptr, 4))
	cfg := Config{m: make(map[string]string, count)}
	entries := v.bytes(ptr+8, count*fieldSize)
	for i := uint32(0); i < count; i++ {
		e := entries[i*fieldSize:]
		k := v.bytes(le.Uint32(e), le.Uint32(e[4:]))
		val := v.bytes(le.Uint32(e[8:]), le.Uint32(e[12:]))
		cfg.m[string(k)] = string(val)
	}
	if err := initFn(cfg); err != nil {
		lastError = []byte(err.Error())
		return 1
	}
	return 0
}

//go:wasmexport slspipe_process
func slspipeProcess(ptr, n uint32) int64 {
	if process == nil {
		return fail(1, "no handler registered: call slspipe.Handle from an init function")
	}
	v := view{mem: arena, base: addr(arena)}
	if n < headerSize || ptr < v.base || ptr+n > v.base+uint32(len(arena)) {
		return fail(2, "input outside the arena")
	}
	hdr := v.bytes(ptr, headerSize)
	if le.Uint32(hdr) != inputMagic {
		return fail(2, "input does not start with the ABI v1 magic")
	}
	count := le.Uint32(hdr[8:])
	in := Batch{
		v:       v,
		n:       int(count),
		hdr:     hdr,
		records: v.bytes(le.Uint32(hdr[12:]), count*recordSize),
		fields:  v.bytes(le.Uint32(hdr[20:]), le.Uint32(hdr[16:])*fieldSize),
	}
	o := &out
	o.in = v
	o.records, o.fields, o.nRecords, o.mark = o.records[:0], o.fields[:0], 0, 0
	clear(o.keep)
	o.keep = o.keep[:0]
	need := int(count) * outcomeSize
	if cap(o.outcomes) < need {
		o.outcomes = make([]byte, need)
	}
	o.outcomes = o.outcomes[:need]
	// Every outcome starts as "no outcome set", filled by doubling copies rather than one
	// loop iteration per record: with a batch deadline, each guest loop iteration costs a check.
	if count > 0 {
		e := o.outcomes[:outcomeSize]
		le.PutUint32(e, statusError)
		clear(e[4:16])
		le.PutUint32(e[16:], addr(noOutcome))
		le.PutUint32(e[20:], uint32(len(noOutcome)))
		for filled := outcomeSize; filled < need; filled *= 2 {
			copy(o.outcomes[filled:], o.outcomes[:filled])
		}
	}
	if err := process(&in, o); err != nil {
		return fail(1, err.Error())
	}
	h := o.hdr[:]
	le.PutUint32(h, outputMagic)
	le.PutUint32(h[4:], outHdrSize)
	le.PutUint32(h[8:], count)
	le.PutUint32(h[12:], addr(o.outcomes))
	le.PutUint32(h[16:], o.nRecords)
	le.PutUint32(h[20:], addr(o.records))
	le.PutUint32(h[24:], uint32(len(o.fields)/fieldSize))
	le.PutUint32(h[28:], addr(o.fields))
	return int64(uint64(addr(h))<<32 | outHdrSize)
}
