package emulator_test

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/slspipe/slspipe/emulator"
)

var compressTypes = []string{"", "lz4", "zstd", "deflate"}

// postRaw sends body to PutLogs exactly as given, signed with the SDK's v1
// signer, and returns the status and errorCode.
func postRaw(t *testing.T, hc *http.Client, addr, compressType string, rawSize int, body []byte) (int, string) {
	t.Helper()
	uri := "/logstores/fuzz"
	h := map[string]string{
		"x-log-apiversion":  "0.6.0",
		"x-log-bodyrawsize": strconv.Itoa(rawSize),
		"Content-Type":      "application/x-protobuf",
		"Date":              time.Now().UTC().Format(http.TimeFormat),
		"Host":              "demo." + addr,
	}
	if compressType != "" {
		h["x-log-compresstype"] = compressType
	}
	if err := sls.NewSignerV1(emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret).Sign(http.MethodPost, uri, h, body); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://demo."+addr+uri, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	req.Host = h["Host"]
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-log-requestid") == "" {
		t.Fatalf("response %d without x-log-requestid", resp.StatusCode)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	var e struct {
		Code    string `json:"errorCode"`
		Message string `json:"errorMessage"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("status %d with a non-JSON body %q", resp.StatusCode, b)
	}
	return resp.StatusCode, e.Code
}

func compressAs(t testing.TB, typ string, raw []byte) []byte {
	switch typ {
	case "lz4":
		out := make([]byte, lz4.CompressBlockBound(len(raw)))
		n, err := lz4.CompressBlock(raw, out, nil)
		if err != nil || n == 0 {
			t.Fatalf("lz4 seed: %d %v", n, err)
		}
		return out[:n]
	case "zstd":
		enc, _ := zstd.NewWriter(nil)
		return enc.EncodeAll(raw, nil)
	case "deflate":
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write(raw)
		w.Close()
		return b.Bytes()
	}
	return raw
}

// FuzzPostBody posts arbitrary bodies, compression types and raw sizes.
// Every answer is 200 or a 400 with a write error code; a 400 stores
// nothing, and a 200 stores exactly the one decoded group.
func FuzzPostBody(f *testing.F) {
	srv := startEmulator(f, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "fuzz", Shards: 1}},
	})
	c := defaultClient(srv, signV1)
	hc := srv.HTTPClient()

	g := makeGroup("seed", 20)
	g.LogTags = []*sls.LogTag{{Key: proto.String("k"), Value: proto.String("v")}}
	raw, err := proto.Marshal(g)
	if err != nil {
		f.Fatal(err)
	}
	for i, typ := range compressTypes {
		body := compressAs(f, typ, raw)
		f.Add(uint8(i), int32(len(raw)), body)
		f.Add(uint8(i), int32(len(raw)+1), body)
		f.Add(uint8(i), int32(len(raw)), body[:len(body)/2])
	}
	f.Add(uint8(0), int32(2), []byte{0x0a, 0x00})
	f.Add(uint8(1), int32(1<<30), []byte{0xf0, 0xff})

	writeCodes := map[string]bool{
		"PostBodyInvalid": true, "PostBodyUncompressError": true, "PostBodyTooLarge": true, "InvalidTimestamp": true,
	}
	f.Fuzz(func(t *testing.T, mode uint8, rawSize int32, body []byte) {
		typ := compressTypes[int(mode)%len(compressTypes)]
		before, err := c.GetCursor("demo", "fuzz", 0, "end")
		if err != nil {
			t.Fatal(err)
		}
		status, code := postRaw(t, hc, srv.Addr(), typ, int(rawSize), body)
		after, err := c.GetCursor("demo", "fuzz", 0, "end")
		if err != nil {
			t.Fatal(err)
		}
		switch status {
		case http.StatusOK:
			b, next, err := c.GetLogsBytes("demo", "fuzz", 0, before, "", 10)
			if err != nil {
				t.Fatalf("pull the accepted group: %v", err)
			}
			if next != after || cursorValue(t, after) != cursorValue(t, before)+1 {
				t.Fatalf("an accepted post stored %d groups", cursorValue(t, after)-cursorValue(t, before))
			}
			gl, err := sls.LogsBytesDecode(b)
			if err != nil || len(gl.LogGroups) != 1 {
				t.Fatalf("stored group does not decode with the SDK: %v", err)
			}
		case http.StatusBadRequest:
			if !writeCodes[code] && !(code == "ParameterInvalid") {
				t.Fatalf("400 with code %q", code)
			}
			if after != before {
				t.Fatalf("rejected post (%s) changed the end cursor", code)
			}
		default:
			t.Fatalf("status %d (%s)", status, code)
		}
	})
}
