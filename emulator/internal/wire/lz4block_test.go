package wire

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// sampleElement returns a LogGroupList element of n pseudo-log lines; seed
// varies the content so neighbouring blocks differ.
func sampleElement(r *rand.Rand, n int) []byte {
	var g bytes.Buffer
	for i := range n {
		fmt.Fprintf(&g, "ip=10.0.%d.%d method=GET path=/api/v1/items/%d status=%d bytes=%d ua=Mozilla/5.0 ",
			r.IntN(255), r.IntN(255), r.IntN(100000), 200+r.IntN(4)*100, r.IntN(1<<20))
		_ = i
	}
	return AppendGroupElement(nil, g.Bytes())
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return AppendGroupElement(nil, b)
}

func decodeJoined(t *testing.T, block []byte, raw int) []byte {
	t.Helper()
	out := make([]byte, raw)
	n, err := lz4.UncompressBlock(block, out)
	if err != nil {
		t.Fatalf("joined block does not decode: %v", err)
	}
	if n != raw {
		t.Fatalf("joined block decodes to %d bytes, want %d", n, raw)
	}
	return out
}

// TestJoinMatchesConcatenation joins runs of compressible, incompressible
// and tiny groups and checks the result decodes byte for byte to the
// concatenated LogGroupList.
func TestJoinMatchesConcatenation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var elems [][]byte
	for i := range 300 {
		switch i % 5 {
		case 0:
			elems = append(elems, randomBytes(r, r.IntN(300)))
		case 1:
			elems = append(elems, AppendGroupElement(nil, []byte("x")))
		default:
			elems = append(elems, sampleElement(r, 1+r.IntN(40)))
		}
	}
	blocks := make([]Block, len(elems))
	for i, e := range elems {
		blocks[i] = CompressBlock(e)
		if got := decodeJoined(t, blocks[i].Data, blocks[i].Raw); !bytes.Equal(got, e) {
			t.Fatalf("block %d does not round-trip", i)
		}
	}
	for _, run := range [][2]int{{0, 1}, {0, 2}, {1, 3}, {0, 300}, {17, 251}, {299, 300}} {
		var want []byte
		var j Joiner
		j.Reset([]byte("prefix"))
		for k := run[0]; k < run[1]; k++ {
			want = append(want, elems[k]...)
			j.Add(&blocks[k])
		}
		joined := j.Finish()
		if !bytes.HasPrefix(joined, []byte("prefix")) {
			t.Fatalf("Finish dropped the dst prefix")
		}
		got := decodeJoined(t, joined[len("prefix"):], len(want))
		if !bytes.Equal(got, want) {
			t.Fatalf("run %v: joined block decodes to different bytes", run)
		}
	}
}

func TestParseBlockRejectsTruncation(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := CompressBlock(sampleElement(r, 20))
	for cut := 1; cut < len(b.Data); cut += 7 {
		if _, err := ParseBlock(b.Data[:cut], b.Raw); err == nil {
			// A cut can land exactly after a literal run, which parses;
			// decoding must then disagree on the size.
			out := make([]byte, b.Raw)
			if n, derr := lz4.UncompressBlock(b.Data[:cut], out); derr == nil && n == b.Raw {
				t.Fatalf("truncated block at %d still decodes fully", cut)
			}
		}
	}
}

func BenchmarkJoin1000(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	blocks := make([]Block, 1000)
	raw := 0
	for i := range blocks {
		blocks[i] = CompressBlock(sampleElement(r, 10))
		raw += blocks[i].Raw
	}
	buf := make([]byte, 0, 4<<20)
	var j Joiner
	b.SetBytes(int64(raw))
	b.ReportAllocs()
	for b.Loop() {
		j.Reset(buf[:0])
		for k := range blocks {
			j.Add(&blocks[k])
		}
		buf = j.Finish()
	}
}

// TestElementBlockReusesClientBlock checks the element built from a
// client's LZ4 block decodes to the framed group, for small and large
// groups (one- and multi-byte length varints) and incompressible data.
func TestElementBlockReusesClientBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, g := range [][]byte{
		[]byte("tiny"),
		sampleElement(r, 1)[2:],
		sampleElement(r, 200),
		randomBytes(r, 5000),
	} {
		want := AppendGroupElement(nil, g)
		comp := make([]byte, lz4.CompressBlockBound(len(g)))
		n, _ := lz4.CompressBlock(g, comp, nil)
		var client []byte
		if n > 0 {
			client = comp[:n]
		}
		b := ElementBlock(g, client)
		if client != nil && len(client) > 8 && !bytes.Contains(b.Data, client[len(client)/2:]) {
			t.Errorf("the client's block for a %d-byte group was recompressed, not reused", len(g))
		}
		if b.Raw != len(want) {
			t.Fatalf("element raw size %d, want %d", b.Raw, len(want))
		}
		if got := decodeJoined(t, b.Data, b.Raw); !bytes.Equal(got, want) {
			t.Fatalf("element of a %d-byte group does not decode to the framed group", len(g))
		}
	}
}
