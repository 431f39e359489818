package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/slspipe/slspipe/emulator/internal/wire"
)

// On disk: meta.json (replaced atomically) describes projects, logstores
// and shards; segments/<project>/<logstore>/<shard>.seg are append-only
// record logs of each shard's groups. A torn record at a segment's tail
// (a crash mid-write) is cut off on load.

const (
	metaFile      = "meta.json"
	metaVersion   = 1
	recordHeader  = 20 // crc32c, data length, raw length (uint32 each), recv (int64)
	maxRecordData = wire.MaxRawBody + wire.MaxRawBody/255 + 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type metaDoc struct {
	Version  int             `json:"version"`
	Projects []metaProject   `json:"projects"`
	Extra    json.RawMessage `json:"extra,omitempty"`
}

type metaProject struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	CreateTime  int64          `json:"createTime"`
	Logstores   []metaLogstore `json:"logstores"`
}

type metaLogstore struct {
	Config LogstoreConfig `json:"config"`
	Shards []metaShard    `json:"shards"`
}

type metaShard struct {
	ID         int    `json:"id"`
	Begin      string `json:"begin"`
	End        string `json:"end"`
	ReadOnly   bool   `json:"readOnly"`
	CreateTime int64  `json:"createTime"`
	Parents    []int  `json:"parents,omitempty"`
	Base       int64  `json:"base"`
}

// saveMetaLocked writes meta.json atomically; s.mu must be held.
func (s *Store) saveMetaLocked() error {
	doc := metaDoc{Version: metaVersion}
	for _, p := range s.projects {
		mp := metaProject{Name: p.Name, Description: p.Description, CreateTime: p.CreateTime}
		for _, ls := range p.logstores {
			ml := metaLogstore{Config: ls.cfg}
			for _, sh := range ls.shards {
				ml.Shards = append(ml.Shards, metaShard{
					ID: sh.id, Begin: sh.begin, End: sh.end, ReadOnly: sh.isReadOnly(),
					CreateTime: sh.createTime, Parents: sh.parents, Base: sh.base,
				})
			}
			mp.Logstores = append(mp.Logstores, ml)
		}
		doc.Projects = append(doc.Projects, mp)
	}
	if s.opts.Extra != nil {
		extra, err := s.opts.Extra()
		if err != nil {
			return fmt.Errorf("snapshot extra state: %w", err)
		}
		doc.Extra = extra
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	return writeFileAtomic(filepath.Join(s.opts.Dir, metaFile), b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".meta-*")
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync metadata: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close metadata: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace metadata: %w", err)
	}
	return nil
}

// load reads meta.json and every segment.
func (s *Store) load() (json.RawMessage, error) {
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	var doc metaDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	if doc.Version != metaVersion {
		return nil, fmt.Errorf("metadata version %d is not supported", doc.Version)
	}
	for _, mp := range doc.Projects {
		p := &project{Name: mp.Name, Description: mp.Description, CreateTime: mp.CreateTime, logstores: map[string]*logstore{}}
		s.projects[p.Name] = p
		for _, ml := range mp.Logstores {
			ls := &logstore{project: p.Name, cfg: ml.Config}
			p.logstores[ml.Config.Name] = ls
			for _, ms := range ml.Shards {
				sh := &shard{
					id: ms.ID, begin: ms.Begin, end: ms.End, readOnly: ms.ReadOnly,
					createTime: ms.CreateTime, parents: ms.Parents, base: ms.Base,
				}
				ls.shards = append(ls.shards, sh)
				if err := s.openSegment(ls, sh, false); err != nil {
					return nil, err
				}
			}
		}
	}
	return doc.Extra, nil
}

func (s *Store) segmentPath(ls *logstore, id int) string {
	return filepath.Join(s.logstoreDir(ls.project, ls.cfg.Name), strconv.Itoa(id)+".seg")
}

// openSegment opens (creating if needed) the shard's segment and loads the
// groups it holds; a no-op in memory mode. A fresh shard truncates any
// file left under its ID by a crash before the metadata recorded it.
func (s *Store) openSegment(ls *logstore, sh *shard, fresh bool) error {
	if s.opts.Dir == "" {
		return nil
	}
	path := s.segmentPath(ls, sh.id)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create segment dir: %w", err)
	}
	flags := os.O_RDWR | os.O_CREATE
	if fresh {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return fmt.Errorf("read segment: %w", err)
	}
	groups, good := decodeRecords(data)
	if good < int64(len(data)) {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return fmt.Errorf("truncate torn segment tail: %w", err)
		}
	}
	if _, err := f.Seek(good, 0); err != nil {
		f.Close()
		return fmt.Errorf("seek segment: %w", err)
	}
	sh.groups, sh.seg, sh.segSize = groups, f, good
	return nil
}

// decodeRecords parses records until the first torn or corrupt one and
// returns the groups and the length of the valid prefix.
func decodeRecords(data []byte) ([]group, int64) {
	var groups []group
	off := 0
	for len(data)-off >= recordHeader {
		h := data[off : off+recordHeader]
		n := int(binary.LittleEndian.Uint32(h[4:]))
		raw := int(binary.LittleEndian.Uint32(h[8:]))
		if n > maxRecordData || n > len(data)-off-recordHeader {
			break
		}
		body := data[off+recordHeader : off+recordHeader+n]
		if crc32.Checksum(data[off+4:off+recordHeader+n], castagnoli) != binary.LittleEndian.Uint32(h) {
			break
		}
		blk, err := wire.ParseBlock(append([]byte(nil), body...), raw)
		if err != nil {
			break
		}
		groups = append(groups, group{block: blk, recv: int64(binary.LittleEndian.Uint64(h[12:]))})
		off += recordHeader + n
	}
	return groups, int64(off)
}

// writeRecord appends one group to the segment; sh.mu must be held.
func (sh *shard) writeRecord(blk wire.Block, recv int64) error {
	if sh.seg == nil {
		return nil
	}
	rec := make([]byte, recordHeader+len(blk.Data))
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(blk.Data)))
	binary.LittleEndian.PutUint32(rec[8:], uint32(blk.Raw))
	binary.LittleEndian.PutUint64(rec[12:], uint64(recv))
	copy(rec[recordHeader:], blk.Data)
	binary.LittleEndian.PutUint32(rec, crc32.Checksum(rec[4:], castagnoli))
	if _, err := sh.seg.Write(rec); err != nil {
		// Cut a partial record off so the next append starts clean.
		_ = sh.seg.Truncate(sh.segSize)
		_, _ = sh.seg.Seek(sh.segSize, 0)
		return fmt.Errorf("append to segment: %w", err)
	}
	sh.segSize += int64(len(rec))
	return nil
}

func (sh *shard) closeSegment() error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.seg == nil {
		return nil
	}
	err := sh.seg.Sync()
	if cerr := sh.seg.Close(); err == nil {
		err = cerr
	}
	sh.seg = nil
	if err != nil {
		return fmt.Errorf("close segment of shard %d: %w", sh.id, err)
	}
	return nil
}
