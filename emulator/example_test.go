package emulator_test

import (
	"context"
	"fmt"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/emulator"
)

// Point the official SDK at an emulator, write a log and read it back.
func Example() {
	srv, err := emulator.New(emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 2}},
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer srv.Close()

	client := sls.CreateNormalInterface(srv.Addr(), emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
	client.SetHTTPClient(srv.HTTPClient())

	key := "00"
	err = client.PostLogStoreLogs("demo", "nginx", &sls.LogGroup{Logs: []*sls.Log{{
		Time:     proto.Uint32(uint32(time.Now().Unix())),
		Contents: []*sls.LogContent{{Key: proto.String("msg"), Value: proto.String("hello")}},
	}}}, &key)
	if err != nil {
		panic(err)
	}
	cursor, _ := client.GetCursor("demo", "nginx", 0, "begin")
	logs, _, err := client.PullLogs("demo", "nginx", 0, cursor, "", 100)
	if err != nil {
		panic(err)
	}
	fmt.Println(logs.LogGroups[0].Logs[0].Contents[0].GetValue())
	// Output: hello
}
