package groups_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/slspipe/slspipe/emulator/internal/groups"
)

// The emulator hands every request under /logstores/{logstore}/consumergroups
// to Handle, with a function that lists the logstore's shards.
func ExampleRegistry_Handle() {
	reg := groups.NewRegistry(nil)
	shards := func() ([]groups.ShardInfo, error) {
		return []groups.ShardInfo{{ID: 0}, {ID: 1}}, nil
	}
	do := func(method, target, body, subpath string) {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		rec := httptest.NewRecorder()
		if err := reg.Handle(rec, req, []byte(body), "proj", "store", subpath, shards); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Body.String())))
	}

	do(http.MethodPost, "/logstores/store/consumergroups", `{"consumerGroup":"cg","timeout":60,"order":true}`, "")
	do(http.MethodGet, "/logstores/store/consumergroups", "", "")
	do(http.MethodPost, "/logstores/store/consumergroups/cg?type=heartbeat&consumer=c1", `[]`, "/cg")
	do(http.MethodPost, "/logstores/store/consumergroups/cg?type=heartbeat&consumer=c2", `[0]`, "/cg")
	// Output:
	// 200
	// 200 [{"name":"cg","timeout":60,"order":true}]
	// 200 [0,1]
	// 400 NotExistConsumerWithBody: consumer c2 is not in consumer group cg and cannot hold shards
}
