package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/emulator"
)

// startEmulator starts an emulator on a free loopback port, closed when the
// test ends.
func startEmulator(t testing.TB, cfg emulator.Config) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// signing selects the signature version a client uses.
type signing int

const (
	signV1 signing = iota
	signV4
)

func (s signing) String() string { return [...]string{"v1", "v4"}[s] }

// newClient returns the unmodified SDK client pointed at srv.
func newClient(srv *emulator.Server, sig signing, id, secret string) sls.ClientInterface {
	c := sls.CreateNormalInterface(srv.Addr(), id, secret, "")
	if sig == signV4 {
		c.SetAuthVersion(sls.AuthV4)
		c.SetRegion("cn-hangzhou")
	}
	c.SetHTTPClient(srv.HTTPClient())
	return c
}

func defaultClient(srv *emulator.Server, sig signing) sls.ClientInterface {
	return newClient(srv, sig, emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret)
}

// makeGroup returns a LogGroup of n logs with ~10 fields each; tag marks
// its content so reads can be checked.
func makeGroup(tag string, n int) *sls.LogGroup {
	now := uint32(time.Now().Unix())
	g := &sls.LogGroup{Topic: proto.String("topic-" + tag), Source: proto.String("10.0.0.1")}
	for i := range n {
		l := &sls.Log{Time: proto.Uint32(now), TimeNs: proto.Uint32(uint32(i))}
		for _, kv := range [][2]string{
			{"tag", tag}, {"seq", fmt.Sprint(i)}, {"method", "GET"}, {"status", "200"},
			{"path", fmt.Sprintf("/api/v1/items/%d", i*7919%100000)}, {"bytes", fmt.Sprint(i * 131 % 65536)},
			{"ua", "Mozilla/5.0 (X11; Linux x86_64)"}, {"remote", "192.168.1.20"},
			{"latency_ms", fmt.Sprint(i % 250)}, {"host", "www.example.com"},
		} {
			l.Contents = append(l.Contents, &sls.LogContent{Key: proto.String(kv[0]), Value: proto.String(kv[1])})
		}
		g.Logs = append(g.Logs, l)
	}
	return g
}

// groupTag returns the "tag" field of a group's first log.
func groupTag(g *sls.LogGroup) string {
	for _, c := range g.Logs[0].Contents {
		if c.GetKey() == "tag" {
			return c.GetValue()
		}
	}
	return ""
}

// wantSLSError checks err is *sls.Error with the code and HTTP status.
func wantSLSError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se *sls.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *sls.Error %d %s", err, err, status, code)
	}
	if se.Code != code || int(se.HTTPCode) != status {
		t.Fatalf("err = %d %s (%s), want %d %s", se.HTTPCode, se.Code, se.Message, status, code)
	}
	if se.RequestID == "" {
		t.Errorf("error %s carries no request id", code)
	}
}

// readAll pulls a shard from begin to its end, returning the groups' tags.
func readAll(t *testing.T, c sls.ClientInterface, project, logstore string, shard int) []string {
	t.Helper()
	cur, err := c.GetCursor(project, logstore, shard, "begin")
	if err != nil {
		t.Fatalf("GetCursor begin: %v", err)
	}
	var tags []string
	for {
		gl, next, err := c.PullLogs(project, logstore, shard, cur, "", 1000)
		if err != nil {
			t.Fatalf("PullLogs shard %d: %v", shard, err)
		}
		for _, g := range gl.LogGroups {
			tags = append(tags, groupTag(g))
		}
		if next == cur {
			return tags
		}
		cur = next
	}
}
