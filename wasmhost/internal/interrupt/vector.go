package interrupt

// Immediates of the fixed-width SIMD instructions (prefix 0xfd), by opcode.
const (
	vecUnknown    = iota // reserved opcode
	vecNone              // operators
	vecMemArg            // v128.load*, v128.store, v128.load*_zero
	vecMemArgLane        // v128.load*_lane, v128.store*_lane
	vecLane              // extract_lane, replace_lane
	vecBytes16           // v128.const, i8x16.shuffle
)

// vectorImmediates classifies opcodes 0x00 to 0xff; the relaxed-SIMD opcodes above are not
// accepted by wazero.
var vectorImmediates = func() (t [256]uint8) {
	for op := range t {
		t[op] = vecNone
	}
	for op := 0x00; op <= 0x0b; op++ {
		t[op] = vecMemArg
	}
	t[0x0c], t[0x0d] = vecBytes16, vecBytes16
	for op := 0x15; op <= 0x22; op++ {
		t[op] = vecLane
	}
	for op := 0x54; op <= 0x5b; op++ {
		t[op] = vecMemArgLane
	}
	t[0x5c], t[0x5d] = vecMemArg, vecMemArg
	// Gaps the SIMD proposal left in its numbering.
	for _, op := range []int{
		0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee,
	} {
		t[op] = vecUnknown
	}
	return t
}()
