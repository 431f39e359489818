package emulator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
	"github.com/slspipe/slspipe/emulator/internal/store"
	"github.com/slspipe/slspipe/spl"
)

// Rule-based consumption: a pull with a query runs an SPL statement on
// every log of the groups it reads and answers only what survives. Groups
// keep their topic, source and tags; a group left with no log is left out,
// so x-log-count counts the groups answered and x-log-rawdatacount the
// groups read (the cursor moves past all of them).

// maxCachedPrograms bounds the parsed statements kept; consumers send the
// same statement on every pull.
const maxCachedPrograms = 256

var programs struct {
	mu sync.Mutex
	m  map[string]*spl.Program
}

// compileQuery parses a pull's statement, answering the service's
// ParameterInvalid with the position of the problem when it is malformed
// or outside the subset.
func compileQuery(q string) (*spl.Program, error) {
	programs.mu.Lock()
	p, ok := programs.m[q]
	programs.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := spl.Parse(q)
	if err != nil {
		return nil, apierr.New(400, "ParameterInvalid", "invalid query: %s", err.Error())
	}
	programs.mu.Lock()
	if programs.m == nil || len(programs.m) >= maxCachedPrograms {
		programs.m = map[string]*spl.Program{}
	}
	programs.m[q] = p
	programs.mu.Unlock()
	return p, nil
}

// queryStats are the x-log-rawdata* and result headers of a query pull.
type queryStats struct {
	groups      int // groups answered
	lines       int // logs answered
	linesBefore int // logs read
	failed      int // logs the statement failed on
}

// queryScratch is one query pull's reusable memory.
type queryScratch struct {
	raw   []byte // decompressed groups read
	out   []byte // the answer's LogGroupList
	group []byte // the group being built
	comp  []byte // the compressed answer
	row   spl.Row
	lz4   lz4.Compressor
}

var scratchPool = sync.Pool{New: func() any { return new(queryScratch) }}

var zstdAnswer, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))

// errStored reports stored data that does not decode; it never happens
// with data the emulator accepted.
var errStored = errors.New("stored log group does not decode")

// runQuery applies prog to the LogGroupList raw and appends the answer's
// LogGroupList to s.out.
func (s *queryScratch) runQuery(prog *spl.Program, raw []byte) (queryStats, error) {
	var st queryStats
	filterOnly := prog.FilterOnly()
	s.out = s.out[:0]
	for len(raw) > 0 {
		num, typ, _, payload, rest, ok := nextField(raw)
		if !ok {
			return st, errStored
		}
		raw = rest
		if num != 1 || typ != 2 {
			continue
		}
		kept, err := s.runGroup(prog, payload, filterOnly, &st)
		if err != nil {
			return st, err
		}
		if kept > 0 {
			st.groups++
			s.out = append(s.out, 0x0a)
			s.out = binary.AppendUvarint(s.out, uint64(len(s.group)))
			s.out = append(s.out, s.group...)
		}
	}
	return st, nil
}

// runGroup filters one LogGroup into s.group and returns how many logs it
// kept.
func (s *queryScratch) runGroup(prog *spl.Program, g []byte, filterOnly bool, st *queryStats) (int, error) {
	r := &s.row
	r.Topic, r.Source, r.Tags = "", "", r.Tags[:0]
	// Pass 1: the group's attributes, which may follow its logs.
	s.group = s.group[:0]
	for b := g; len(b) > 0; {
		num, typ, _, payload, rest, ok := nextField(b)
		if !ok {
			return 0, errStored
		}
		field := b[:len(b)-len(rest)]
		b = rest
		if num == 1 && typ == 2 {
			continue
		}
		s.group = append(s.group, field...) // everything but the logs, as stored
		switch {
		case num == 3 && typ == 2:
			r.Topic = str(payload)
		case num == 4 && typ == 2:
			r.Source = str(payload)
		case num == 6 && typ == 2:
			k, v, ok := pair(payload)
			if !ok {
				return 0, errStored
			}
			r.Tags = append(r.Tags, spl.Field{Key: k, Value: v})
		}
	}
	kept := 0
	for b := g; len(b) > 0; {
		num, typ, _, payload, rest, _ := nextField(b)
		b = rest
		if num != 1 || typ != 2 {
			continue
		}
		st.linesBefore++
		hasNs, err := s.decodeLog(payload)
		if err != nil {
			return 0, err
		}
		ok, err := prog.Apply(r)
		if err != nil {
			st.failed++
			continue
		}
		if !ok {
			continue
		}
		kept++
		st.lines++
		s.group = append(s.group, 0x0a)
		if filterOnly {
			s.group = binary.AppendUvarint(s.group, uint64(len(payload)))
			s.group = append(s.group, payload...)
			continue
		}
		s.group = appendLog(s.group, r, hasNs)
	}
	return kept, nil
}

// decodeLog fills s.row from a Log, aliasing its bytes.
func (s *queryScratch) decodeLog(l []byte) (hasNs bool, err error) {
	r := &s.row
	clear(r.Fields)
	r.Fields, r.Time, r.TimeNs = r.Fields[:0], 0, 0
	for len(l) > 0 {
		num, typ, v, payload, rest, ok := nextField(l)
		if !ok {
			return false, errStored
		}
		switch {
		case num == 1 && typ == 0:
			r.Time = int64(uint32(v))
		case num == 2 && typ == 2:
			k, v, ok := pair(payload)
			if !ok {
				return false, errStored
			}
			r.Fields = append(r.Fields, spl.Field{Key: k, Value: v})
		case num == 4 && typ == 5:
			r.TimeNs = uint32(v)
			hasNs = true
		}
		l = rest
	}
	return hasNs, nil
}

// appendLog encodes r as a Log element's body, prefixed by its length.
func appendLog(dst []byte, r *spl.Row, hasNs bool) []byte {
	n := 1 + uvarintSize(uint64(uint32(r.Time)))
	for _, f := range r.Fields {
		c := 2 + uvarintSize(uint64(len(f.Key))) + len(f.Key) + uvarintSize(uint64(len(f.Value))) + len(f.Value)
		n += 1 + uvarintSize(uint64(c)) + c
	}
	if hasNs || r.TimeNs != 0 {
		n += 5
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, 0x08)
	dst = binary.AppendUvarint(dst, uint64(uint32(r.Time)))
	for _, f := range r.Fields {
		c := 2 + uvarintSize(uint64(len(f.Key))) + len(f.Key) + uvarintSize(uint64(len(f.Value))) + len(f.Value)
		dst = append(dst, 0x12)
		dst = binary.AppendUvarint(dst, uint64(c))
		dst = append(dst, 0x0a)
		dst = binary.AppendUvarint(dst, uint64(len(f.Key)))
		dst = append(dst, f.Key...)
		dst = append(dst, 0x12)
		dst = binary.AppendUvarint(dst, uint64(len(f.Value)))
		dst = append(dst, f.Value...)
	}
	if hasNs || r.TimeNs != 0 {
		dst = append(dst, 0x25)
		dst = binary.LittleEndian.AppendUint32(dst, r.TimeNs)
	}
	return dst
}

func uvarintSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// nextField reads one protobuf field of b: its number, wire type, payload
// (length-delimited fields only) and what follows it.
// For varint and fixed32 fields v holds the value.
func nextField(b []byte) (num uint64, typ int, v uint64, payload, rest []byte, ok bool) {
	// Fast path: one-byte tag and length, the usual shape of log contents.
	if len(b) >= 2 && b[0] < 0x80 && b[0]&7 == 2 && b[1] < 0x80 && int(b[1]) <= len(b)-2 {
		l := int(b[1])
		return uint64(b[0] >> 3), 2, 0, b[2 : 2+l], b[2+l:], true
	}
	tag, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, 0, nil, nil, false
	}
	b = b[n:]
	num, typ = tag>>3, int(tag&7)
	switch typ {
	case 0:
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, 0, 0, nil, nil, false
		}
		return num, typ, v, nil, b[n:], true
	case 1:
		if len(b) < 8 {
			return 0, 0, 0, nil, nil, false
		}
		return num, typ, 0, nil, b[8:], true
	case 2:
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return 0, 0, 0, nil, nil, false
		}
		return num, typ, 0, b[n : n+int(l)], b[n+int(l):], true
	case 5:
		if len(b) < 4 {
			return 0, 0, 0, nil, nil, false
		}
		return num, typ, uint64(binary.LittleEndian.Uint32(b)), nil, b[4:], true
	}
	return 0, 0, 0, nil, nil, false
}

// pair decodes a LogContent or LogTag {1: Key, 2: Value}.
func pair(b []byte) (key, value string, ok bool) {
	for len(b) > 0 {
		num, typ, _, payload, rest, ok := nextField(b)
		if !ok {
			return "", "", false
		}
		if typ == 2 {
			switch num {
			case 1:
				key = str(payload)
			case 2:
				value = str(payload)
			}
		}
		b = rest
	}
	return key, value, true
}

// str aliases b; the strings live as long as the pull's buffer.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// answer runs prog over the groups res read (one LZ4 block) and returns
// the compressed answer, its group count and raw size, setting the query
// headers: x-log-rawdatacount and x-log-rawdatasize (groups and bytes
// read), x-log-rawdatalines (logs read), x-log-resultlines (logs answered)
// and x-log-failedlines (logs the statement failed on, left out).
func (s *queryScratch) answer(prog *spl.Program, res store.ReadResult, useZstd bool, h http.Header) ([]byte, int, int, error) {
	var st queryStats
	s.out = s.out[:0]
	if res.Count > 0 {
		if cap(s.raw) < res.Raw {
			s.raw = make([]byte, res.Raw)
		}
		s.raw = s.raw[:res.Raw]
		n, err := lz4.UncompressBlock(res.Body, s.raw)
		if err != nil || n != res.Raw {
			return nil, 0, 0, fmt.Errorf("decode stored groups: %v", err)
		}
		if st, err = s.runQuery(prog, s.raw); err != nil {
			return nil, 0, 0, err
		}
	}
	body, err := s.compress(useZstd)
	if err != nil {
		return nil, 0, 0, err
	}
	h.Set("x-log-rawdatacount", strconv.Itoa(res.Count))
	h.Set("x-log-rawdatasize", strconv.Itoa(res.Raw))
	h.Set("x-log-rawdatalines", strconv.Itoa(st.linesBefore))
	h.Set("x-log-resultlines", strconv.Itoa(st.lines))
	h.Set("x-log-failedlines", strconv.Itoa(st.failed))
	return body, st.groups, len(s.out), nil
}

// compress encodes s.out for the answer.
func (s *queryScratch) compress(useZstd bool) ([]byte, error) {
	if len(s.out) == 0 {
		return s.comp[:0], nil
	}
	if useZstd {
		s.comp = zstdAnswer.EncodeAll(s.out, s.comp[:0])
		return s.comp, nil
	}
	bound := lz4.CompressBlockBound(len(s.out))
	if cap(s.comp) < bound {
		s.comp = make([]byte, bound)
	}
	s.comp = s.comp[:bound]
	n, err := s.lz4.CompressBlock(s.out, s.comp)
	if err != nil {
		return nil, fmt.Errorf("compress query answer: %w", err)
	}
	if n == 0 { // incompressible: a literal-only block
		s.comp = appendLiterals(s.comp[:0], s.out)
		return s.comp, nil
	}
	return s.comp[:n], nil
}

// appendLiterals writes raw as one literal-only LZ4 sequence.
func appendLiterals(dst, raw []byte) []byte {
	lit := len(raw)
	if lit < 15 {
		dst = append(dst, byte(lit)<<4)
	} else {
		dst = append(dst, 0xf0)
		for lit -= 15; lit >= 255; lit -= 255 {
			dst = append(dst, 255)
		}
		dst = append(dst, byte(lit))
	}
	return append(dst, raw...)
}
