package emulator

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/slspipe/slspipe/emulator/faults"
	"github.com/slspipe/slspipe/emulator/internal/apierr"
	"github.com/slspipe/slspipe/emulator/internal/store"
	"github.com/slspipe/slspipe/emulator/internal/wire"
)

// putLogs serves PutLogs and PostLogStoreLogs. With hashKey "" the group is
// load-balanced over readwrite shards; otherwise it goes to the readwrite
// shard whose range holds the key. The whole body is decoded and validated
// before anything is stored.
func (s *Server) putLogs(req *request, hashKey string) error {
	raw, err := decodeWriteBody(req)
	if err != nil {
		return err
	}
	if hashKey != "" {
		k, ok := store.NormalizeKey(hashKey)
		if !ok {
			return errParam("invalid hash key %q", hashKey)
		}
		hashKey = k
	}
	if _, err := wire.ValidateLogGroup(raw, time.Now()); err != nil {
		var te *wire.InvalidTimestampError
		if errors.As(err, &te) {
			return apierr.New(http.StatusBadRequest, "InvalidTimestamp", "%v", err)
		}
		return apierr.New(http.StatusBadRequest, "PostBodyInvalid", "invalid LogGroup: %v", err)
	}
	shard, err := s.store.Route(req.project, req.logstore, hashKey)
	if err != nil {
		return err
	}
	if handled, err := s.admit(req, opFor(req, faults.Write, shard)); handled || err != nil {
		return err
	}
	var lz4Body []byte
	if req.r.Header.Get("x-log-compresstype") == "lz4" {
		lz4Body = req.body
	}
	if _, _, err := s.store.Append(req.project, req.logstore, shard, hashKey, raw, lz4Body); err != nil {
		return err
	}
	writeEmpty(req.w)
	return nil
}

// decodeWriteBody decompresses a write body per x-log-compresstype and
// x-log-bodyrawsize.
func decodeWriteBody(req *request) ([]byte, error) {
	h := req.r.Header
	rawSize := -1
	if v := h.Get("x-log-bodyrawsize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, apierr.New(http.StatusBadRequest, "PostBodyInvalid", "invalid x-log-bodyrawsize %q", v)
		}
		rawSize = n
	}
	raw, err := wire.Decompress(h.Get("x-log-compresstype"), rawSize, req.body)
	switch {
	case errors.Is(err, wire.ErrTooLarge):
		return nil, apierr.New(http.StatusBadRequest, "PostBodyTooLarge", "body raw size exceeds %d bytes", wire.MaxRawBody)
	case err != nil:
		return nil, apierr.New(http.StatusBadRequest, "PostBodyUncompressError", "cannot decompress body: %v", err)
	}
	return raw, nil
}
