package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
	"github.com/slspipe/slspipe/emulator/internal/groups"
	"github.com/slspipe/slspipe/emulator/internal/store"
)

// serveProject serves CreateProject (POST /) and GetProject (GET /).
func (s *Server) serveProject(req *request) error {
	switch req.r.Method {
	case http.MethodPost:
		var body struct {
			Name        string `json:"projectName"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal(req.body, &body); err != nil {
			return apierr.New(http.StatusBadRequest, "PostBodyInvalid", "invalid JSON body: %v", err)
		}
		if body.Name == "" {
			body.Name = req.project
		}
		if err := s.store.CreateProject(body.Name, body.Description); err != nil {
			return err
		}
		writeEmpty(req.w)
		return nil
	case http.MethodGet:
		info, err := s.store.Project(req.project)
		if err != nil {
			return err
		}
		return writeJSON(req.w, info)
	}
	return errMethod(req)
}

func (s *Server) listLogstores(req *request) error {
	names, err := s.store.ListLogstores(req.project)
	if err != nil {
		return err
	}
	total := len(names)
	q := req.r.URL.Query()
	if v := q.Get("offset"); v != "" {
		off, err := strconv.Atoi(v)
		if err != nil || off < 0 {
			return errParam("offset must be a non-negative integer")
		}
		names = names[min(off, len(names)):]
	}
	if v := q.Get("size"); v != "" {
		size, err := strconv.Atoi(v)
		if err != nil || size < 0 {
			return errParam("size must be a non-negative integer")
		}
		names = names[:min(size, len(names))]
	}
	return writeJSON(req.w, map[string]any{"count": len(names), "total": total, "logstores": names})
}

func decodeLogstoreConfig(body []byte) (store.LogstoreConfig, error) {
	var cfg store.LogstoreConfig
	if err := json.Unmarshal(body, &cfg); err != nil {
		return cfg, apierr.New(http.StatusBadRequest, "PostBodyInvalid", "invalid JSON body: %v", err)
	}
	return cfg, nil
}

func (s *Server) createLogstore(req *request) error {
	cfg, err := decodeLogstoreConfig(req.body)
	if err != nil {
		return err
	}
	if err := s.store.CreateLogstore(req.project, cfg); err != nil {
		return err
	}
	writeEmpty(req.w)
	return nil
}

func (s *Server) getLogstore(req *request) error {
	cfg, err := s.store.GetLogstore(req.project, req.logstore)
	if err != nil {
		return err
	}
	return writeJSON(req.w, cfg)
}

func (s *Server) updateLogstore(req *request) error {
	cfg, err := decodeLogstoreConfig(req.body)
	if err != nil {
		return err
	}
	cfg.Name = req.logstore
	if err := s.store.UpdateLogstore(req.project, cfg); err != nil {
		return err
	}
	writeEmpty(req.w)
	return nil
}

func (s *Server) deleteLogstore(req *request) error {
	if err := s.store.DeleteLogstore(req.project, req.logstore); err != nil {
		return err
	}
	s.groups.DropLogstore(req.project, req.logstore)
	writeEmpty(req.w)
	return nil
}

// shardJSON is ListShards' element, as the SDK's Shard decodes it.
type shardJSON struct {
	ID         int    `json:"shardID"`
	Status     string `json:"status"`
	BeginKey   string `json:"inclusiveBeginKey"`
	EndKey     string `json:"exclusiveEndKey"`
	CreateTime int64  `json:"createTime"`
}

func toShardJSON(infos []store.ShardInfo) []shardJSON {
	out := make([]shardJSON, len(infos))
	for i, in := range infos {
		status := "readwrite"
		if in.ReadOnly {
			status = "readonly"
		}
		out[i] = shardJSON{ID: in.ID, Status: status, BeginKey: in.BeginKey, EndKey: in.EndKey, CreateTime: in.CreateTime}
	}
	return out
}

func (s *Server) listShards(req *request) error {
	infos, err := s.store.Shards(req.project, req.logstore)
	if err != nil {
		return err
	}
	return writeJSON(req.w, toShardJSON(infos))
}

// serveConsumerGroups hands consumer-group calls to the registry, with the
// logstore's current shards for assignment.
func (s *Server) serveConsumerGroups(req *request, subpath string) error {
	if _, err := s.store.GetLogstore(req.project, req.logstore); err != nil {
		return err
	}
	lister := func() ([]groups.ShardInfo, error) {
		infos, err := s.store.Shards(req.project, req.logstore)
		if err != nil {
			return nil, err
		}
		out := make([]groups.ShardInfo, len(infos))
		for i, in := range infos {
			out[i] = groups.ShardInfo{
				ID: in.ID, ReadOnly: in.ReadOnly, Parents: in.Parents,
				BeginCursor: encodeCursor(in.Begin), EndCursor: encodeCursor(in.End),
			}
		}
		return out, nil
	}
	return s.groups.Handle(req.w, req.r, req.body, req.project, req.logstore, subpath, lister)
}
