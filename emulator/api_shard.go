package emulator

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
	"github.com/slspipe/slspipe/emulator/internal/store"
	"github.com/slspipe/slspipe/spl"
)

// Pull limits: the service answers 1..1000 groups and returns fewer than
// asked when a batch would be too large.
const (
	maxPullCount    = 1000
	maxPullRawBytes = 8 << 20
)

func encodeCursor(seq int64) string {
	var buf [20]byte
	return base64.StdEncoding.EncodeToString(strconv.AppendInt(buf[:0], seq, 10))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return 0, store.ErrInvalidCursor
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, store.ErrInvalidCursor
	}
	return v, nil
}

func errParam(format string, args ...any) *apierr.Error {
	return apierr.New(http.StatusBadRequest, "ParameterInvalid", format, args...)
}

// serveShardGet serves GetCursor, GetCursorTime and PullLogs.
func (s *Server) serveShardGet(req *request, id int) error {
	q := req.r.URL.Query()
	switch q.Get("type") {
	case "cursor":
		return s.getCursor(req, id, q.Get("from"))
	case "cursor_time":
		seq, err := decodeCursor(q.Get("cursor"))
		if err != nil {
			return err
		}
		t, err := s.store.CursorTime(req.project, req.logstore, id, seq)
		if err != nil {
			return err
		}
		return writeJSON(req.w, map[string]int64{"cursor_time": t})
	case "logs":
		return s.pullLogs(req, id)
	}
	return errParam("unsupported type %q", q.Get("type"))
}

func (s *Server) getCursor(req *request, id int, from string) error {
	var seq int64
	switch from {
	case "begin", "end":
		info, err := s.store.ShardInfo(req.project, req.logstore, id)
		if err != nil {
			return err
		}
		seq = info.Begin
		if from == "end" {
			seq = info.End
		}
	default:
		t, err := strconv.ParseInt(from, 10, 64)
		if err != nil || t < 0 {
			return errParam("from must be begin, end or a unix time in seconds, not %q", from)
		}
		if seq, err = s.store.CursorAt(req.project, req.logstore, id, t); err != nil {
			return err
		}
	}
	return writeJSON(req.w, map[string]string{"cursor": encodeCursor(seq)})
}

// bodyPool recycles pull answer buffers; they reach several MB.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

func (s *Server) pullLogs(req *request, id int) error {
	q := req.r.URL.Query()
	var prog *spl.Program
	if stmt := q.Get("query"); stmt != "" {
		var err error
		if prog, err = compileQuery(stmt); err != nil {
			return err
		}
	}
	count, err := strconv.Atoi(q.Get("count"))
	if err != nil || count < 1 || count > maxPullCount {
		return errParam("ParameterCount should be in [0-1000]")
	}
	from, err := decodeCursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	until := int64(-1)
	end := q.Get("end_cursor")
	if end == "" {
		end = q.Get("endCursor")
	}
	if end != "" {
		if until, err = decodeCursor(end); err != nil {
			return err
		}
	}
	useZstd := acceptsZstd(req.r.Header.Get("Accept-Encoding"))
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	res, err := s.store.Read(req.project, req.logstore, id, store.ReadRequest{
		From: from, Until: until, MaxCount: count, MaxRaw: maxPullRawBytes, Zstd: useZstd && prog == nil,
	}, (*bp)[:0])
	if err != nil {
		return err
	}
	*bp = res.Body[:0]

	h := req.w.Header()
	body, count, raw := res.Body, res.Count, res.Raw
	if prog != nil {
		qs := scratchPool.Get().(*queryScratch)
		defer scratchPool.Put(qs)
		if body, count, raw, err = qs.answer(prog, res, useZstd, h); err != nil {
			return err
		}
	}
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("x-log-cursor", encodeCursor(res.Next))
	h.Set("x-log-count", strconv.Itoa(count))
	h.Set("x-log-bodyrawsize", strconv.Itoa(raw))
	if useZstd {
		h.Set("x-log-compresstype", "zstd")
	} else {
		h.Set("x-log-compresstype", "lz4")
	}
	if res.Count > 0 {
		h.Set("x-log-read-last-cursor", strconv.FormatInt(res.Next-1, 10))
		h.Set("x-log-cursor-time", strconv.FormatInt(res.LastRecv, 10))
	}
	s.afterRead(req, id, len(body))
	req.w.WriteHeader(http.StatusOK)
	_, _ = req.w.Write(body)
	return nil
}

// acceptsZstd reports whether the client asked for zstd rather than lz4.
func acceptsZstd(ae string) bool {
	return ae == "zstd"
}

// serveShardAction serves SplitShard and MergeShards.
func (s *Server) serveShardAction(req *request, id int) error {
	q := req.r.URL.Query()
	var infos []store.ShardInfo
	var err error
	switch q.Get("action") {
	case "split":
		n := 0
		if c := q.Get("shardCount"); c != "" {
			if n, err = strconv.Atoi(c); err != nil || n < 2 {
				return errParam("shardCount must be an integer of at least 2")
			}
		}
		infos, err = s.store.Split(req.project, req.logstore, id, q.Get("key"), n)
	case "merge":
		infos, err = s.store.Merge(req.project, req.logstore, id)
	default:
		return errParam("unsupported action %q", q.Get("action"))
	}
	if err != nil {
		return err
	}
	return writeJSON(req.w, toShardJSON(infos))
}
