package wasmhost

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
)

// Cache stores compiled machine code on disk so that a module is compiled once per
// version of its bytes and of the runtime, not once per process start. One Cache may be
// shared by every Module of a process.
type Cache struct {
	cc wazero.CompilationCache
}

// NewCache opens (creating if needed) a compilation cache in dir.
func NewCache(dir string) (*Cache, error) {
	cc, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open wasm compilation cache %s: %w", dir, err)
	}
	return &Cache{cc: cc}, nil
}

// Close releases the cache's in-memory state; files on disk stay.
func (c *Cache) Close(ctx context.Context) error { return c.cc.Close(ctx) }
