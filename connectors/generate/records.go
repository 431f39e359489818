package generate

import (
	"strconv"
	"time"

	"github.com/slspipe/slspipe/engine"
)

// genBatch is a batch with the buffers its records point to; it is reused
// once the engine recycles it.
type genBatch struct {
	engine.Batch
	fields []engine.Field
	buf    []byte
}

const fieldsPerRecord = 10

var (
	keyRemoteAddr    = []byte("remote_addr")
	keyMethod        = []byte("method")
	keyHost          = []byte("host")
	keyRequestURI    = []byte("request_uri")
	keyStatus        = []byte("status")
	keyBodyBytesSent = []byte("body_bytes_sent")
	keyRequestTime   = []byte("request_time")
	keyReferer       = []byte("http_referer")
	keyUserAgent     = []byte("http_user_agent")
	keyRequestID     = []byte("request_id")

	methods  = []string{"GET", "GET", "GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"}
	statuses = []string{"200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "200",
		"201", "204", "301", "304", "400", "404", "404", "500", "502"}
	hosts = []string{"shop.example.com", "api.example.com", "static.example.com"}
	paths = []string{"/", "/index.html", "/api/v1/orders/", "/api/v1/users/", "/api/v1/cart/items/",
		"/static/js/app.", "/static/css/site.", "/search?q=item", "/healthz", "/login"}
	referers = []string{"-", "-", "https://www.example.com/", "https://www.example.com/search?q=shoes",
		"https://news.example.org/article/42"}
	agents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
		"curl/8.5.0",
		"Go-http-client/1.1",
	}
)

// mix is SplitMix64: a fast, well-distributed hash of the record's
// coordinates, which keeps every record a pure function of the seed.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// RecycleBatch implements engine.BatchRecycler.
func (s *Source) RecycleBatch(b *engine.Batch) {
	s.mu.Lock()
	if gb := s.owners[b]; gb != nil {
		s.free = append(s.free, gb)
	}
	s.mu.Unlock()
}

func (s *Source) newBatch() *genBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		gb := s.free[n-1]
		s.free = s.free[:n-1]
		return gb
	}
	gb := &genBatch{}
	s.owners[&gb.Batch] = gb
	return gb
}

// batch builds n records of shard starting at offset.
func (s *Source) batch(shard int, offset int64, n int) *engine.Batch {
	gb := s.newBatch()
	perRecord := fieldsPerRecord
	if s.cfg.Template == TemplateRandom {
		perRecord = s.cfg.Fields
	}
	if cap(gb.Records) < n || cap(gb.fields) < n*perRecord {
		gb.Records = make([]engine.Record, n)
		gb.fields = make([]engine.Field, n*perRecord)
		gb.buf = make([]byte, 0, n*160)
	}
	gb.Records = gb.Records[:n]
	gb.buf = gb.buf[:0]
	cursor := Cursor(offset)
	source := "10.0.0." + strconv.Itoa(shard%250+1)
	size := 0
	for i := range n {
		// Values are appended to one buffer per batch; a slice taken before
		// the buffer grows still points at valid bytes.
		f := gb.fields[i*perRecord : (i+1)*perRecord : (i+1)*perRecord]
		k := offset + int64(i)
		h := mix(s.cfg.Seed ^ mix(uint64(shard)<<48^uint64(k)))
		if s.cfg.Template == TemplateRandom {
			gb.buf = s.randomFields(gb.buf, f, h)
		} else {
			gb.buf = nginxFields(gb.buf, f, h)
		}
		t := s.cfg.Start.Add(time.Duration(k) * s.interval)
		gb.Records[i] = engine.Record{
			Fields:   f,
			Time:     engine.TimestampOf(t),
			Topic:    s.cfg.Template,
			Source:   source,
			Identity: engine.Identity{Logstore: s.cfg.Logstore, Shard: shard, Cursor: cursor, Index: i},
		}
		size += gb.Records[i].Size()
	}
	gb.Position = engine.Position{
		Logstore:   s.cfg.Logstore,
		Shard:      shard,
		Cursor:     cursor,
		NextCursor: Cursor(offset + int64(n)),
		CursorTime: s.cfg.Start.Add(time.Duration(offset) * s.interval),
	}
	gb.Size = size
	return &gb.Batch
}

// nginxFields fills f with an access-log record derived from h.
func nginxFields(buf []byte, f []engine.Field, h uint64) []byte {
	var v []byte
	buf, v = appendIP(buf, h)
	f[0] = engine.Field{Key: keyRemoteAddr, Value: v}
	buf, v = appendStr(buf, methods[h%uint64(len(methods))])
	f[1] = engine.Field{Key: keyMethod, Value: v}
	buf, v = appendStr(buf, hosts[(h>>8)%uint64(len(hosts))])
	f[2] = engine.Field{Key: keyHost, Value: v}

	start := len(buf)
	path := paths[(h>>12)%uint64(len(paths))]
	buf = append(buf, path...)
	if path[len(path)-1] == '/' || path[len(path)-1] == '.' {
		buf = strconv.AppendUint(buf, (h>>16)%100000, 10)
		switch path {
		case "/static/js/app.":
			buf = append(buf, ".js"...)
		case "/static/css/site.":
			buf = append(buf, ".css"...)
		}
	}
	f[3] = engine.Field{Key: keyRequestURI, Value: buf[start:len(buf):len(buf)]}
	buf, v = appendStr(buf, statuses[(h>>20)%uint64(len(statuses))])
	f[4] = engine.Field{Key: keyStatus, Value: v}

	start = len(buf)
	buf = strconv.AppendUint(buf, (h>>24)%50000, 10)
	f[5] = engine.Field{Key: keyBodyBytesSent, Value: buf[start:len(buf):len(buf)]}

	start = len(buf)
	ms := (h >> 32) % 2000
	buf = strconv.AppendUint(buf, ms/1000, 10)
	buf = append(buf, '.', byte('0'+ms/100%10), byte('0'+ms/10%10), byte('0'+ms%10))
	f[6] = engine.Field{Key: keyRequestTime, Value: buf[start:len(buf):len(buf)]}

	buf, v = appendStr(buf, referers[(h>>40)%uint64(len(referers))])
	f[7] = engine.Field{Key: keyReferer, Value: v}
	buf, v = appendStr(buf, agents[(h>>44)%uint64(len(agents))])
	f[8] = engine.Field{Key: keyUserAgent, Value: v}

	start = len(buf)
	buf = strconv.AppendUint(buf, mix(h), 16)
	f[9] = engine.Field{Key: keyRequestID, Value: buf[start:len(buf):len(buf)]}
	return buf
}

// randomFields fills f with alphanumeric values derived from h whose sizes
// add up to about RecordBytes.
func (s *Source) randomFields(buf []byte, f []engine.Field, h uint64) []byte {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	per := max(1, s.cfg.RecordBytes/len(f)-3)
	for j := range f {
		start := len(buf)
		buf = append(buf, 'f')
		buf = strconv.AppendInt(buf, int64(j), 10)
		key := buf[start:len(buf):len(buf)]
		start = len(buf)
		x := mix(h + uint64(j))
		for c := range per {
			if c%10 == 0 {
				x = mix(x)
			}
			buf = append(buf, alnum[x%uint64(len(alnum))])
			x /= uint64(len(alnum))
		}
		f[j] = engine.Field{Key: key, Value: buf[start:len(buf):len(buf)]}
	}
	return buf
}

// appendStr appends v to buf and returns the grown buffer and the appended
// bytes.
func appendStr(buf []byte, v string) ([]byte, []byte) {
	start := len(buf)
	buf = append(buf, v...)
	return buf, buf[start:len(buf):len(buf)]
}

func appendIP(buf []byte, h uint64) ([]byte, []byte) {
	start := len(buf)
	buf = append(buf, "10."...)
	buf = strconv.AppendUint(buf, (h>>48)%256, 10)
	buf = append(buf, '.')
	buf = strconv.AppendUint(buf, (h>>56)%256, 10)
	buf = append(buf, '.')
	buf = strconv.AppendUint(buf, (h>>4)%254+1, 10)
	return buf, buf[start:len(buf):len(buf)]
}
