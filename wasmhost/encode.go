package wasmhost

import (
	"encoding/binary"
	"errors"
	"math"
	"unsafe"

	"github.com/slspipe/slspipe/wasmhost/internal/abi"
)

var le = binary.LittleEndian

// errBatchTooLarge reports a batch whose encoding would not fit a 32-bit guest address space.
var errBatchTooLarge = errors.New("encoded batch exceeds the 2 GiB guest limit")

// inputPlan sizes and then encodes one input (docs/abi.md §4). It is per-instance scratch,
// reused from batch to batch.
//
// When a record's keys and values all lie close together in one backing array, as they
// do when a decoder slices them out of a decompressed log group, the plan copies that
// region with one move instead of moving each key and value on its own.
type inputPlan struct {
	size    int
	nFields int
	whole   region   // every record's bytes, when they are dense in one array
	regions []region // per record, when whole is not set
	// table is the host copy of the encoded field table, kept to recognise output records
	// that pass their input fields through unchanged.
	table []byte
}

// region is a record's dense source bytes, or nil src when its fields are scattered.
type region struct {
	src []byte
	lo  uintptr // address of src[0]
}

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// span accumulates the address range of a set of byte slices.
type span struct {
	lo, hi uintptr
	sum    int
	lowest []byte
}

func newSpan() span { return span{lo: ^uintptr(0)} }

// region returns the smallest slice of one backing array that holds every byte seen,
// when it is at most a little larger than their total length.
func (s *span) region() region {
	if s.lowest == nil {
		return region{}
	}
	n := s.hi - s.lo
	// Reslicing the lowest slice up to its capacity proves the whole span is one array.
	if n > uintptr(s.sum+s.sum/4+64) || n > uintptr(cap(s.lowest)) {
		return region{}
	}
	return region{src: s.lowest[:n], lo: s.lo}
}

// add extends the span with the keys and values of fs.
func (s *span) add(fs []Field) {
	lowest := -1 // index*2 (+1 for the value) of the slice that starts lowest
	lo, hi, sum := s.lo, s.hi, s.sum
	for i := range fs {
		k, v := fs[i].Key, fs[i].Value
		if len(k) > 0 {
			a := addrOf(k)
			if a < lo {
				lo, lowest = a, 2*i
			}
			hi = max(hi, a+uintptr(len(k)))
			sum += len(k)
		}
		if len(v) > 0 {
			a := addrOf(v)
			if a < lo {
				lo, lowest = a, 2*i+1
			}
			hi = max(hi, a+uintptr(len(v)))
			sum += len(v)
		}
	}
	if lowest >= 0 {
		s.lowest = fs[lowest/2].Key
		if lowest%2 == 1 {
			s.lowest = fs[lowest/2].Value
		}
	}
	s.lo, s.hi, s.sum = lo, hi, sum
}

// denseRegion returns the dense region of one record's fields, if any.
func denseRegion(fs []Field) region {
	if len(fs) < 2 {
		return region{}
	}
	s := newSpan()
	s.add(fs)
	return s.region()
}

// prepare computes the encoded size of h's header and recs.
func (p *inputPlan) prepare(h *Batch, recs []Record) error {
	fields := len(h.Tags)
	blob := len(h.Topic) + len(h.Source)
	for _, t := range h.Tags {
		blob += len(t.Key) + len(t.Value)
	}
	whole := newSpan()
	for i := range recs {
		fields += len(recs[i].Fields)
		whole.add(recs[i].Fields)
	}
	p.whole = whole.region()
	p.regions = p.regions[:0]
	if p.whole.src != nil {
		blob += len(p.whole.src)
	} else {
		blob += p.prepareRecords(recs)
	}
	n := uint64(abi.InputHeaderSize) + uint64(len(recs))*abi.RecordSize + uint64(fields)*abi.FieldSize + uint64(blob)
	if n > math.MaxInt32 {
		return errBatchTooLarge
	}
	p.size, p.nFields = int(n), fields
	return nil
}

// prepareRecords finds each record's dense region and returns the records' blob size.
func (p *inputPlan) prepareRecords(recs []Record) int {
	if cap(p.regions) < len(recs) {
		p.regions = make([]region, len(recs))
	}
	p.regions = p.regions[:len(recs)]
	blob := 0
	for i := range recs {
		fs := recs[i].Fields
		r := denseRegion(fs)
		p.regions[i] = r
		if r.src != nil {
			blob += len(r.src)
			continue
		}
		for j := range fs {
			blob += len(fs[j].Key) + len(fs[j].Value)
		}
	}
	return blob
}

// encode writes the input prepared for h and recs into dst (p.size bytes), which lives
// at guest address base. Every offset written is an absolute guest address, so the guest
// can hand input ranges back in its output. firstIndex is recs[0]'s index in the caller's
// batch.
func (p *inputPlan) encode(dst []byte, base uint32, h *Batch, recs []Record, firstIndex int) {
	recOff := abi.InputHeaderSize
	fieldOff := recOff + len(recs)*abi.RecordSize
	blobOff := fieldOff + p.nFields*abi.FieldSize
	tableLen := p.nFields * abi.FieldSize
	if cap(p.table) < tableLen {
		p.table = make([]byte, tableLen)
	}
	p.table = p.table[:tableLen]
	e := encoder{dst: dst, base: base, blob: blobOff, table: p.table}

	topicAt, topicLen := e.bytes(h.Topic)
	sourceAt, sourceLen := e.bytes(h.Source)
	for _, t := range h.Tags {
		e.pair(t)
	}
	var wholeAt uint32
	if p.whole.src != nil {
		wholeAt = e.base + uint32(e.blob)
		e.blob += copy(e.dst[e.blob:], p.whole.src)
	}
	recTable := dst[recOff:fieldOff]
	for i := range recs {
		fs := recs[i].Fields
		r := recTable[i*abi.RecordSize : (i+1)*abi.RecordSize]
		le.PutUint32(r[0:], recs[i].Sec)
		le.PutUint32(r[4:], recs[i].Nsec)
		le.PutUint32(r[8:], e.nField)
		le.PutUint32(r[12:], uint32(len(fs)))
		le.PutUint32(r[16:], uint32(firstIndex+i))
		le.PutUint32(r[20:], 0)
		if p.whole.src != nil {
			e.relative(fs, wholeAt, p.whole.lo)
			continue
		}
		if reg := p.regions[i]; reg.src != nil {
			e.region(fs, reg)
			continue
		}
		for j := range fs {
			e.pair(fs[j])
		}
	}
	copy(dst[fieldOff:blobOff], p.table)

	hd := dst[:abi.InputHeaderSize]
	le.PutUint32(hd[0:], abi.InputMagic)
	le.PutUint32(hd[4:], abi.InputHeaderSize)
	le.PutUint32(hd[8:], uint32(len(recs)))
	le.PutUint32(hd[12:], base+uint32(recOff))
	le.PutUint32(hd[16:], uint32(p.nFields))
	le.PutUint32(hd[20:], base+uint32(fieldOff))
	le.PutUint32(hd[24:], topicAt)
	le.PutUint32(hd[28:], topicLen)
	le.PutUint32(hd[32:], sourceAt)
	le.PutUint32(hd[36:], sourceLen)
	le.PutUint32(hd[40:], 0) // tags are the first entries of the field table
	le.PutUint32(hd[44:], uint32(len(h.Tags)))
	le.PutUint32(hd[48:], base+uint32(blobOff))
	le.PutUint32(hd[52:], uint32(e.blob-blobOff))
	le.PutUint32(hd[56:], 0)
	le.PutUint32(hd[60:], 0)
}

type encoder struct {
	dst    []byte
	base   uint32
	blob   int    // next free byte of the blob in dst
	table  []byte // the field table being built
	nField uint32
}

func (e *encoder) bytes(b []byte) (uint32, uint32) {
	at := e.base + uint32(e.blob)
	e.blob += copy(e.dst[e.blob:], b)
	return at, uint32(len(b))
}

func (e *encoder) entry(k, kl, v, vl uint32) {
	at := int(e.nField) * abi.FieldSize
	t := e.table[at : at+abi.FieldSize : at+abi.FieldSize]
	le.PutUint32(t[0:], k)
	le.PutUint32(t[4:], kl)
	le.PutUint32(t[8:], v)
	le.PutUint32(t[12:], vl)
	e.nField++
}

func (e *encoder) pair(f Field) {
	k, kl := e.bytes(f.Key)
	v, vl := e.bytes(f.Value)
	e.entry(k, kl, v, vl)
}

// region copies a record's dense source bytes at once and points its entries into them.
func (e *encoder) region(fs []Field, r region) {
	at := e.base + uint32(e.blob)
	e.blob += copy(e.dst[e.blob:], r.src)
	e.relative(fs, at, r.lo)
}

// relative writes entries for fs whose bytes were copied from source address lo to
// guest address at.
func (e *encoder) relative(fs []Field, at uint32, lo uintptr) {
	addr := func(s []byte) uint32 {
		if len(s) == 0 {
			return at
		}
		return at + uint32(addrOf(s)-lo)
	}
	for i := range fs {
		e.entry(addr(fs[i].Key), uint32(len(fs[i].Key)), addr(fs[i].Value), uint32(len(fs[i].Value)))
	}
}

// configSize returns how many bytes encodeConfig writes for kv.
func configSize(kv []Field) int {
	n := 8 + len(kv)*abi.FieldSize
	for _, f := range kv {
		n += len(f.Key) + len(f.Value)
	}
	return n
}

// encodeConfig writes the init configuration layout (u32 count, u32 reserved, then count
// field entries, then their bytes) into dst, which lives at guest address base.
func encodeConfig(dst []byte, base uint32, kv []Field) {
	le.PutUint32(dst[0:], uint32(len(kv)))
	le.PutUint32(dst[4:], 0)
	e := encoder{dst: dst, base: base, blob: 8 + len(kv)*abi.FieldSize, table: dst[8 : 8+len(kv)*abi.FieldSize]}
	for _, f := range kv {
		e.pair(f)
	}
}
