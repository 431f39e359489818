// Package tailbuf keeps the last bytes written to it: the end of a child
// process's or a guest module's stderr, where panics and fatal errors are.
package tailbuf

import "sync"

// Buffer keeps the last Max bytes written to it. It is safe for concurrent
// use: a writer may write while another goroutine reads.
type Buffer struct {
	mu  sync.Mutex // guards buf
	max int
	buf []byte
}

// New returns a buffer that keeps the last max bytes.
func New(max int) *Buffer { return &Buffer{max: max} }

// Write appends p, dropping the oldest bytes beyond the limit.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the bytes kept.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
