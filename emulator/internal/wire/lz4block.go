package wire

import (
	"errors"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// Block is one LogGroupList element compressed as an independent raw LZ4
// block, plus where its first and last sequences sit. Pull answers are the
// concatenation of consecutive Blocks with only the seams re-encoded, so
// stored data is never recompressed on read.
//
// An LZ4 block always ends with a literal-only sequence. To join block A to
// block B, A's trailing literals are prepended to B's first sequence by
// rewriting that sequence's token and literal length; B's match offsets are
// backward distances inside B's own output and stay valid.
type Block struct {
	Data []byte // the raw LZ4 block
	Raw  int    // uncompressed length

	firstLit, firstLitLen int  // first sequence's literals
	firstMatch            byte // first sequence's match-length nibble
	single                bool // the block is one literal-only sequence
	tailSeq               int  // start of the trailing literal-only sequence
	tailLit, tailLitLen   int  // its literals
}

var compressorPool = sync.Pool{New: func() any { return new(lz4.Compressor) }}

// CompressBlock compresses raw into a new Block.
func CompressBlock(raw []byte) Block {
	out := make([]byte, lz4.CompressBlockBound(len(raw)))
	c := compressorPool.Get().(*lz4.Compressor)
	n, err := c.CompressBlock(raw, out)
	compressorPool.Put(c)
	if err != nil || n == 0 || n >= len(raw)+len(raw)/255+16 {
		// Incompressible: a single literal-only sequence is a valid block.
		out = appendLiteralSequence(out[:0], len(raw), 0)
		out = append(out, raw...)
	} else {
		out = out[:n]
	}
	b, err := ParseBlock(out, len(raw))
	if err != nil {
		// Our own encoder's output always parses; fall back defensively.
		out = appendLiteralSequence(nil, len(raw), 0)
		out = append(out, raw...)
		b, _ = ParseBlock(out, len(raw))
	}
	return b
}

// ParseBlock walks the sequences of an LZ4 block holding raw bytes when
// decoded, recording the seam positions. It fails if the block is malformed
// or does not end with a literal-only sequence.
func ParseBlock(data []byte, raw int) (Block, error) {
	b := Block{Data: data, Raw: raw}
	pos, first := 0, true
	for {
		if pos >= len(data) {
			return Block{}, errors.New("lz4 block: truncated sequence")
		}
		seq := pos
		token := data[pos]
		pos++
		lit, n, ok := readLength(data[pos:], int(token>>4))
		if !ok {
			return Block{}, errors.New("lz4 block: truncated literal length")
		}
		pos += n
		litStart := pos
		if lit > len(data)-pos {
			return Block{}, errors.New("lz4 block: literals overrun")
		}
		pos += lit
		if first {
			b.firstLit, b.firstLitLen, b.firstMatch = litStart, lit, token&0x0f
		}
		if pos == len(data) {
			b.single = first
			b.tailSeq, b.tailLit, b.tailLitLen = seq, litStart, lit
			return b, nil
		}
		first = false
		if len(data)-pos < 2 {
			return Block{}, errors.New("lz4 block: truncated match offset")
		}
		pos += 2
		_, n, ok = readLength(data[pos:], int(token&0x0f))
		if !ok {
			return Block{}, errors.New("lz4 block: truncated match length")
		}
		pos += n
	}
}

// readLength decodes an LZ4 length whose token nibble is nibble, returning
// the length and how many extension bytes it used.
func readLength(b []byte, nibble int) (int, int, bool) {
	if nibble < 15 {
		return nibble, 0, true
	}
	l, i := nibble, 0
	for {
		if i >= len(b) || l > 1<<30 {
			return 0, 0, false
		}
		c := b[i]
		i++
		l += int(c)
		if c != 255 {
			return l, i, true
		}
	}
}

// appendLiteralSequence appends a token with literal length lit and match
// nibble match, plus the literal length's extension bytes.
func appendLiteralSequence(dst []byte, lit int, match byte) []byte {
	if lit < 15 {
		return append(dst, byte(lit)<<4|match)
	}
	dst = append(dst, 0xf0|match)
	lit -= 15
	for lit >= 255 {
		dst = append(dst, 255)
		lit -= 255
	}
	return append(dst, byte(lit))
}

// Joiner builds one LZ4 block that decodes to the concatenation of the
// raw contents of the Blocks added to it, re-encoding only the seams.
// The zero value is ready to use; Blocks must stay unmodified until Finish.
type Joiner struct {
	dst        []byte
	pending    [][]byte // literals not yet written
	pendingLen int
	n          int
}

// Reset starts a new join that appends to dst.
func (j *Joiner) Reset(dst []byte) {
	j.dst, j.pending, j.pendingLen, j.n = dst, j.pending[:0], 0, 0
}

// Add appends b's raw contents to the joined block.
func (j *Joiner) Add(b *Block) {
	j.n++
	if b.single {
		j.pending = append(j.pending, b.Data[b.firstLit:b.firstLit+b.firstLitLen])
		j.pendingLen += b.firstLitLen
		return
	}
	j.dst = appendLiteralSequence(j.dst, j.pendingLen+b.firstLitLen, b.firstMatch)
	for _, p := range j.pending {
		j.dst = append(j.dst, p...)
	}
	j.dst = append(j.dst, b.Data[b.firstLit:b.tailSeq]...)
	j.pending = append(j.pending[:0], b.Data[b.tailLit:b.tailLit+b.tailLitLen])
	j.pendingLen = b.tailLitLen
}

// Finish writes the final literal-only sequence and returns the block
// appended to the dst given to Reset. With no Blocks added it returns dst.
func (j *Joiner) Finish() []byte {
	if j.n == 0 {
		return j.dst
	}
	j.dst = appendLiteralSequence(j.dst, j.pendingLen, 0)
	for _, p := range j.pending {
		j.dst = append(j.dst, p...)
	}
	out := j.dst
	clear(j.pending)
	j.dst, j.pending = nil, j.pending[:0]
	return out
}

// ElementBlock returns the Block of group's LogGroupList element. When the
// client sent group LZ4-compressed (lz4Group, already verified to decode to
// group), its block is reused behind a literal-only block holding the
// element header, so the common write path never recompresses; otherwise,
// or if that block does not end the way LZ4 blocks must, group is
// compressed here.
func ElementBlock(group, lz4Group []byte) Block {
	var hdr [11]byte
	hdr[0] = 0x0a // LogGroupList.LogGroups, length-delimited
	head := appendUvarintLen(hdr[:1], len(group))
	if lz4Group != nil {
		if b, err := ParseBlock(lz4Group, len(group)); err == nil {
			prefix := appendLiteralSequence(make([]byte, 0, len(head)+2), len(head), 0)
			prefix = append(prefix, head...)
			pb, err := ParseBlock(prefix, len(head))
			if err == nil {
				var j Joiner
				j.Reset(make([]byte, 0, len(prefix)+len(lz4Group)+8))
				j.Add(&pb)
				j.Add(&b)
				if out, err := ParseBlock(j.Finish(), len(head)+len(group)); err == nil {
					return out
				}
			}
		}
	}
	elem := make([]byte, 0, len(head)+len(group))
	elem = append(append(elem, head...), group...)
	return CompressBlock(elem)
}

func appendUvarintLen(dst []byte, n int) []byte {
	for n >= 0x80 {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	return append(dst, byte(n))
}
