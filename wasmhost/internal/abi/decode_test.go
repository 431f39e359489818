package abi

import (
	"encoding/binary"
	"errors"
	"testing"
)

// guestOutput lays out a valid output in a fake 64 KiB memory: n inputs, each with one
// output record of one field, and returns memory, ptr and length.
func guestOutput(n int) ([]byte, uint32, uint32) {
	return layOut(n, 65536, 0x100, 0x1000, 0x3000, 0x5000, 0x8000)
}

// compactOutput is guestOutput packed into 512 bytes, a small seed for the fuzzer.
func compactOutput(n int) ([]byte, uint32, uint32) {
	return layOut(n, 512, 0x10, 0x40, 0x100, 0x180, 0x1f0)
}

func layOut(n, size int, hdr, outcomes, records, fields, blob uint32) ([]byte, uint32, uint32) {
	mem := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(mem[hdr:], OutputMagic)
	le.PutUint32(mem[hdr+4:], OutputHeaderSize)
	le.PutUint32(mem[hdr+8:], uint32(n))
	le.PutUint32(mem[hdr+12:], outcomes)
	le.PutUint32(mem[hdr+16:], uint32(n))
	le.PutUint32(mem[hdr+20:], records)
	le.PutUint32(mem[hdr+24:], uint32(n))
	le.PutUint32(mem[hdr+28:], fields)
	copy(mem[blob:], "keyvalue")
	for i := 0; i < n; i++ {
		oc := mem[int(outcomes)+i*OutcomeSize:]
		le.PutUint32(oc, StatusOK)
		le.PutUint32(oc[4:], uint32(i))
		le.PutUint32(oc[8:], 1)
		r := mem[int(records)+i*RecordSize:]
		le.PutUint32(r, uint32(100+i))
		le.PutUint32(r[8:], uint32(i))
		le.PutUint32(r[12:], 1)
		f := mem[int(fields)+i*FieldSize:]
		le.PutUint32(f, blob)
		le.PutUint32(f[4:], 3)
		le.PutUint32(f[8:], blob+3)
		le.PutUint32(f[12:], 5)
	}
	return mem, hdr, OutputHeaderSize
}

func TestReadOutputValid(t *testing.T) {
	mem, ptr, n := guestOutput(4)
	o, err := ReadOutput(mem, ptr, n, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		oc := o.Outcome(i)
		r := o.Record(oc.First)
		k, v, err := o.Field(r.FieldFirst)
		if err != nil || oc.Count != 1 || r.Sec != uint32(100+i) || string(k) != "key" || string(v) != "value" {
			t.Fatalf("record %d: %+v %+v %q=%q", i, oc, r, k, v)
		}
	}
}

func TestReadOutputRejects(t *testing.T) {
	le := binary.LittleEndian
	cases := map[string]func(mem []byte){
		"magic":         func(m []byte) { le.PutUint32(m[0x100:], 1) },
		"outcome count": func(m []byte) { le.PutUint32(m[0x108:], 3) },
		"outcome table": func(m []byte) { le.PutUint32(m[0x10c:], 0xfffffff0) },
		"output range":  func(m []byte) { le.PutUint32(m[0x1000+8:], 9) },
		"status":        func(m []byte) { le.PutUint32(m[0x1000:], 7) },
		"error message": func(m []byte) {
			le.PutUint32(m[0x1000:], StatusError)
			le.PutUint32(m[0x1000+16:], 65530)
			le.PutUint32(m[0x1000+20:], 10)
		},
		"field range":     func(m []byte) { le.PutUint32(m[0x3000+12:], 1<<31) },
		"aliased outputs": func(m []byte) { le.PutUint32(m[0x1000+24+4:], 0) }, // two outcomes claim record 0, one record unclaimed... total still 4
	}
	for name, corrupt := range cases {
		t.Run(name, func(t *testing.T) {
			mem, ptr, n := guestOutput(4)
			corrupt(mem)
			_, err := ReadOutput(mem, ptr, n, 4)
			var oe *OutputError
			if name == "aliased outputs" {
				// Sharing an output record between inputs is allowed as long as the
				// totals stay within the table: the host copies it twice.
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &oe) {
				t.Fatalf("accepted corrupt output (%s): %v", name, err)
			}
		})
	}
	mem, ptr, _ := guestOutput(1)
	if _, err := ReadOutput(mem, ptr, 8, 1); err == nil {
		t.Fatal("accepted a short header")
	}
	if _, err := ReadOutput(mem, 65530, 32, 1); err == nil {
		t.Fatal("accepted a header past the end of memory")
	}
}

func TestFieldRejectsOutOfRange(t *testing.T) {
	le := binary.LittleEndian
	for name, corrupt := range map[string]func(m []byte){
		"key outside":       func(m []byte) { le.PutUint32(m[0x5000:], 0xffffffff) },
		"value length wrap": func(m []byte) { le.PutUint32(m[0x5000+12:], 0xffffffff) },
		"value past end":    func(m []byte) { le.PutUint32(m[0x5000+8:], 65530); le.PutUint32(m[0x5000+12:], 7) },
	} {
		mem, ptr, n := guestOutput(1)
		corrupt(mem)
		o, err := ReadOutput(mem, ptr, n, 1)
		if err != nil {
			t.Fatalf("%s: structure rejected: %v", name, err)
		}
		var oe *OutputError
		if _, _, err := o.Field(0); !errors.As(err, &oe) {
			t.Fatalf("%s: field accepted: %v", name, err)
		}
	}
}

// FuzzReadOutput feeds arbitrary guest memory and return values to the host's reader:
// it must never panic or read out of bounds, and whatever it accepts must be readable in
// full through the accessors.
func FuzzReadOutput(f *testing.F) {
	mem, ptr, n := compactOutput(3)
	f.Add(mem, ptr, n, uint8(3))
	f.Add([]byte{}, uint32(0), uint32(32), uint8(0))
	f.Add(mem[:0x30], ptr, n, uint8(1))
	f.Fuzz(func(t *testing.T, mem []byte, ptr, length uint32, nIn uint8) {
		o, err := ReadOutput(mem, ptr, length, int(nIn))
		if err != nil {
			return
		}
		var total uint64
		for i := 0; i < int(nIn); i++ {
			oc := o.Outcome(i)
			total += uint64(len(oc.Message))
			for r := oc.First; r < oc.First+oc.Count; r++ {
				rec := o.Record(r)
				if len(o.FieldEntries(rec)) != int(rec.FieldCount)*FieldSize {
					t.Fatalf("record %d: entries do not match its field count", r)
				}
				for fi := rec.FieldFirst; fi < rec.FieldFirst+rec.FieldCount; fi++ {
					if k, v, err := o.Field(fi); err == nil && (len(k) > len(mem) || len(v) > len(mem)) {
						t.Fatalf("field %d longer than memory", fi)
					}
				}
			}
		}
		if total != o.MessageBytes() {
			t.Fatalf("messages of %d bytes, validated %d", total, o.MessageBytes())
		}
	})
}
