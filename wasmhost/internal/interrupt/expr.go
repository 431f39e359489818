package interrupt

// walkExpr decodes instructions from r up to and including the end that closes the
// expression, calling onLoop with the offset just after each loop's block type, where the
// interrupt check goes. It decodes every instruction wazero accepts and rejects anything
// else: an opcode whose immediates it does not know would desynchronise the decoder.
func walkExpr(r *reader, onLoop func(pos int)) {
	depth := 0
	for r.err == nil {
		at := r.pos
		op := r.byte()
		if r.err != nil {
			return
		}
		switch opClasses[op] {
		case opNone:
		case opU32:
			r.u32()
		case opBlock:
			blockType(r)
			depth++
		case opLoop:
			blockType(r)
			depth++
			if r.err == nil && onLoop != nil {
				onLoop(r.pos)
			}
		case opEnd:
			if depth == 0 {
				return
			}
			depth--
		case opMemArg:
			memArg(r)
		case opTwoU32:
			r.u32()
			r.u32()
		case opI32Const:
			r.sleb(32)
		case opI64Const:
			r.sleb(64)
		case opF32Const:
			r.bytes(4)
		case opF64Const:
			r.bytes(8)
		case opTryTable:
			blockType(r)
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				switch kind := r.byte(); kind {
				case 0x00, 0x01: // catch, catch_ref: tag, label
					r.u32()
					r.u32()
				case 0x02, 0x03: // catch_all, catch_all_ref: label
					r.u32()
				default:
					r.failf(r.pos-1, "unknown catch clause kind %#x", kind)
				}
			}
			depth++
		case opBrTable:
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				r.u32()
			}
			r.u32()
		case opSelectT:
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				valType(r)
			}
		case opRefNull:
			r.sleb(33)
		case opMisc:
			miscOp(r)
		case opVector:
			vectorOp(r)
		case opAtomic:
			atomicOp(r)
		case opLegacyEH:
			r.failf(at, "legacy exception handling instruction %#x is not supported", op)
		default:
			r.failf(at, "unknown opcode %#x", op)
		}
	}
}

// Opcode classes: what follows an opcode byte. Table-driven, because a function body is
// mostly opcodes and this is the decoder's inner loop.
const (
	opUnknown uint8 = iota
	opNone
	opU32
	opBlock
	opLoop
	opEnd
	opMemArg
	opTwoU32
	opI32Const
	opI64Const
	opF32Const
	opF64Const
	opTryTable
	opBrTable
	opSelectT
	opRefNull
	opMisc
	opVector
	opAtomic
	opLegacyEH
)

var opClasses = func() (c [256]uint8) {
	set := func(class uint8, ops ...int) {
		for _, op := range ops {
			c[op] = class
		}
	}
	// unreachable, nop, else, throw_ref, return, drop, select, ref.is_null,
	// ref.as_non_null: no immediate; so are the numeric operators 0x45-0xc4.
	set(opNone, 0x00, 0x01, 0x05, 0x0a, 0x0f, 0x1a, 0x1b, 0xd1, 0xd4)
	for op := 0x45; op <= 0xc4; op++ {
		c[op] = opNone
	}
	// throw, br, br_if, call, return_call, call_ref, return_call_ref, local.*, global.*,
	// table.get/set, memory.size/grow, ref.func, br_on_null, br_on_non_null.
	set(opU32, 0x08, 0x0c, 0x0d, 0x10, 0x12, 0x14, 0x15, 0x3f, 0x40, 0xd2, 0xd5, 0xd6)
	for op := 0x20; op <= 0x26; op++ {
		c[op] = opU32
	}
	set(opBlock, 0x02, 0x04) // block, if
	set(opLoop, 0x03)
	set(opEnd, 0x0b)
	for op := 0x28; op <= 0x3e; op++ { // loads and stores
		c[op] = opMemArg
	}
	set(opTwoU32, 0x11, 0x13) // call_indirect, return_call_indirect: type, table
	set(opI32Const, 0x41)
	set(opI64Const, 0x42)
	set(opF32Const, 0x43)
	set(opF64Const, 0x44)
	set(opTryTable, 0x1f)
	set(opBrTable, 0x0e)
	set(opSelectT, 0x1c)
	set(opRefNull, 0xd0)
	set(opMisc, 0xfc)
	set(opVector, 0xfd)
	set(opAtomic, 0xfe)
	set(opLegacyEH, 0x06, 0x07, 0x09, 0x18, 0x19)
	return c
}()

// blockType reads a block type: empty (0x40), a value type, or an s33 type index.
func blockType(r *reader) {
	at := r.pos
	switch bt := r.sleb(33); {
	case bt >= 0: // type index
	case bt == -0x1d || bt == -0x1c: // (ref null ht), (ref ht)
		r.sleb(33)
	case bt == -0x40 || bt > -0x40 && isShortValType(byte(bt&0x7f)):
	default:
		r.failf(at, "unknown block type %d", bt)
	}
}

// valType reads a value type: a one-byte type or a reference type with a heap type.
func valType(r *reader) {
	at := r.pos
	switch b := r.byte(); {
	case r.err != nil:
	case b == 0x63 || b == 0x64:
		r.sleb(33)
	case !isShortValType(b):
		r.failf(at, "unknown value type %#x", b)
	}
}

// isShortValType reports i32, i64, f32, f64, v128, funcref, externref and exnref.
func isShortValType(b byte) bool {
	return b >= 0x7b && b <= 0x7f || b == 0x70 || b == 0x6f || b == 0x69
}

// memArg reads alignment (bit 6 announcing a memory index) and offset.
func memArg(r *reader) {
	if align := r.u32(); align&0x40 != 0 {
		r.u32()
	}
	r.uleb(64)
}

// prefixedOp reads the opcode after a prefix byte. wazero reads the vector and atomic
// opcodes as single bytes, which agrees with LEB128 only for minimal encodings, so others
// are refused there.
func prefixedOp(r *reader, prefix byte) uint32 {
	at := r.pos
	op := r.u32()
	if r.err == nil && prefix != 0xfc && r.pos-at != u32Len(uint64(op)) {
		r.failf(at, "opcode %#x %#x is not minimally encoded", prefix, op)
	}
	return op
}

func miscOp(r *reader) {
	at := r.pos
	switch op := prefixedOp(r, 0xfc); {
	case r.err != nil:
	case op <= 0x07: // saturating truncations
	case op == 0x08, op == 0x0a, op == 0x0c, op == 0x0e:
		// memory.init data mem, memory.copy mem mem, table.init elem table, table.copy table table
		r.u32()
		r.u32()
	case op == 0x09, op == 0x0b, op == 0x0d, op >= 0x0f && op <= 0x11:
		// data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		r.failf(at, "unknown opcode 0xfc %#x", op)
	}
}

func atomicOp(r *reader) {
	at := r.pos
	switch op := prefixedOp(r, 0xfe); {
	case r.err != nil:
	case op == 0x03: // atomic.fence
		if b := r.byte(); b != 0 {
			r.failf(r.pos-1, "atomic.fence immediate %#x is not zero", b)
		}
	case op <= 0x02, op >= 0x10 && op <= 0x4e:
		memArg(r)
	default:
		r.failf(at, "unknown opcode 0xfe %#x", op)
	}
}

func vectorOp(r *reader) {
	at := r.pos
	op := prefixedOp(r, 0xfd)
	if r.err != nil {
		return
	}
	if op > 0xff {
		r.failf(at, "unknown opcode 0xfd %#x", op)
		return
	}
	switch vectorImmediates[op] {
	case vecNone:
	case vecMemArg:
		memArg(r)
	case vecMemArgLane:
		memArg(r)
		r.byte()
	case vecLane:
		r.byte()
	case vecBytes16:
		r.bytes(16)
	default:
		r.failf(at, "unknown opcode 0xfd %#x", op)
	}
}
