package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/slspipe/slspipe/connectors/generate"
	"github.com/slspipe/slspipe/connectors/stdout"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/engine/enginetest"
)

// A pipeline that keeps only server errors from generated access logs,
// prints them as JSON lines and commits its position.
func ExampleNew() {
	src, err := generate.New(generate.Config{Shards: 1, Count: 40, Seed: 3})
	if err != nil {
		panic(err)
	}
	serverErrors := engine.StageFunc("5xx", func(_ context.Context, in []engine.Record, out *engine.Results) error {
		for i := range in {
			if status, _ := in[i].Get("status"); status[0] == '5' {
				out.Emit(in[i])
			} else {
				out.Emit() // filtered out: acknowledged, not written
			}
		}
		return nil
	})
	store := enginetest.NewStore()
	cfg := engine.NewConfig().
		WithCommitters(store).
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, err := engine.New("errors", src, []engine.StageFactory{serverErrors}, stdout.New(os.Stdout, stdout.JSON), cfg)
	if err != nil {
		panic(err)
	}
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	cp, _ := store.Checkpoint("errors", engine.ShardKey{Logstore: "generated", Shard: 0})
	fmt.Println("committed", cp.Cursor)
	// Output:
	// {"__time__":1735689600,"__topic__":"nginx","__source__":"10.0.0.1","remote_addr":"10.16.200.43","method":"DELETE","host":"static.example.com","request_uri":"/index.html","status":"500","body_bytes_sent":"1264","request_time":"1.872","http_referer":"https://www.example.com/","http_user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15","request_id":"3843e3078bb861c8"}
	// {"__time__":1735689600,"__time_ns__":14000000,"__topic__":"nginx","__source__":"10.0.0.1","remote_addr":"10.206.166.153","method":"GET","host":"shop.example.com","request_uri":"/search?q=item","status":"500","body_bytes_sent":"2429","request_time":"0.384","http_referer":"https://news.example.org/article/42","http_user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36","request_id":"1e0a649687f88940"}
	// {"__time__":1735689600,"__time_ns__":15000000,"__topic__":"nginx","__source__":"10.0.0.1","remote_addr":"10.49.192.193","method":"GET","host":"static.example.com","request_uri":"/api/v1/cart/items/5712","status":"502","body_bytes_sent":"46897","request_time":"0.230","http_referer":"-","http_user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15","request_id":"a0cb66bd34204d15"}
	// {"__time__":1735689600,"__time_ns__":19000000,"__topic__":"nginx","__source__":"10.0.0.1","remote_addr":"10.154.243.202","method":"GET","host":"shop.example.com","request_uri":"/static/js/app.85626.js","status":"502","body_bytes_sent":"40568","request_time":"1.353","http_referer":"https://www.example.com/","http_user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15","request_id":"da0a857624720b8c"}
	// committed NDA=
}
