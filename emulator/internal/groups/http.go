package groups

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// Action returns the RAM action of a consumer-group request, routed as
// serve routes it, and the group it acts on: "*" for listing and creating,
// which act on every group of the logstore. A request serve refuses gets
// action "", and needs no permission.
func Action(method string, q url.Values, subpath string) (action, group string) {
	if subpath == "" || subpath == "/" {
		switch method {
		case http.MethodGet:
			return "log:ListConsumerGroup", "*"
		case http.MethodPost:
			return "log:CreateConsumerGroup", "*"
		}
		return "", "*"
	}
	group = strings.TrimPrefix(subpath, "/")
	switch method {
	case http.MethodGet:
		return "log:GetConsumerGroupCheckPoint", group
	case http.MethodPut:
		return "log:UpdateConsumerGroup", group
	case http.MethodDelete:
		return "log:DeleteConsumerGroup", group
	case http.MethodPost:
		switch q.Get("type") {
		case "heartbeat":
			return "log:ConsumerGroupHeartBeat", group
		case "checkpoint":
			return "log:ConsumerGroupUpdateCheckPoint", group
		}
	}
	return "", group
}

// serve routes one consumer-group request and returns the value to answer
// with (nil for an empty 200 body).
func (r *Registry) serve(req *http.Request, body []byte, project, logstore, subpath string, shards func() ([]ShardInfo, error)) (any, error) {
	q := req.URL.Query()
	if subpath == "" || subpath == "/" {
		switch req.Method {
		case http.MethodGet:
			return r.list(project, logstore), nil
		case http.MethodPost:
			var in struct {
				Name    string `json:"consumerGroup"`
				Timeout int    `json:"timeout"`
				Order   bool   `json:"order"`
			}
			if err := decodeBody(body, &in); err != nil {
				return nil, err
			}
			return nil, r.create(project, logstore, in.Name, in.Timeout, in.Order)
		}
		return nil, methodNotAllowed(req)
	}

	name := strings.TrimPrefix(subpath, "/")
	if name == "" || strings.Contains(name, "/") {
		return nil, apierr.New(http.StatusNotFound, "ConsumerGroupNotExist", "consumer group %q does not exist", name)
	}
	key := groupKey{project, logstore, name}

	switch req.Method {
	case http.MethodGet:
		shard := -1
		if v := q.Get("shard"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "invalid shard %q", v)
			}
			shard = n
		}
		list, err := shards()
		if err != nil {
			return nil, err
		}
		return r.getCheckpoints(key, list, shard)

	case http.MethodPut:
		// UpdateConsumerGroup sends only the fields to change.
		var in struct {
			Timeout *int  `json:"timeout"`
			Order   *bool `json:"order"`
		}
		if err := decodeBody(body, &in); err != nil {
			return nil, err
		}
		return nil, r.update(key, in.Timeout, in.Order)

	case http.MethodDelete:
		return nil, r.delete(key)

	case http.MethodPost:
		switch q.Get("type") {
		case "heartbeat":
			consumer := q.Get("consumer")
			if consumer == "" {
				return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "consumer is required")
			}
			var held []int
			if len(bytes.TrimSpace(body)) > 0 {
				if err := decodeBody(body, &held); err != nil {
					return nil, err
				}
			}
			list, err := shards()
			if err != nil {
				return nil, err
			}
			return r.heartbeat(key, list, consumer, held)

		case "checkpoint":
			var in struct {
				Shard      *int    `json:"shard"`
				Checkpoint *string `json:"checkpoint"`
			}
			if err := decodeBody(body, &in); err != nil {
				return nil, err
			}
			if in.Shard == nil || in.Checkpoint == nil {
				return nil, apierr.New(http.StatusBadRequest, "PostBodyInvalid", "shard and checkpoint are required")
			}
			force, err := parseBool(q.Get("forceSuccess"))
			if err != nil {
				return nil, err
			}
			list, err := shards()
			if err != nil {
				return nil, err
			}
			return nil, r.updateCheckpoint(key, list, q.Get("consumer"), force, *in.Shard, *in.Checkpoint)
		}
		return nil, apierr.New(http.StatusBadRequest, "ParameterInvalid", "unsupported type %q", q.Get("type"))
	}
	return nil, methodNotAllowed(req)
}

func decodeBody(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return apierr.New(http.StatusBadRequest, "PostBodyInvalid", "invalid json body: %v", err)
	}
	return nil
}

// parseBool reads forceSuccess; absent means false.
func parseBool(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, apierr.New(http.StatusBadRequest, "ParameterInvalid", "invalid forceSuccess %q", v)
	}
	return b, nil
}

func methodNotAllowed(req *http.Request) error {
	return apierr.New(http.StatusMethodNotAllowed, "MethodNotAllowed", "method %s is not allowed here", req.Method)
}

// writeJSON answers 200 with v as JSON, or with an empty body when v is nil.
// Responses are never compressed: the SDK would not decode them.
func writeJSON(w http.ResponseWriter, v any) {
	var out []byte
	if v != nil {
		// The values are slices of plain structs and ints: encoding cannot fail.
		out, _ = json.Marshal(v)
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
