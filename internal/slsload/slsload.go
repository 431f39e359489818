// Package slsload writes the records of an engine.Source into an SLS
// logstore through the official SDK client, one log group per batch. The
// demo feeds the emulator with it and benchmarks preload data with it.
package slsload

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"google.golang.org/protobuf/proto"

	"github.com/slspipe/slspipe/engine"
)

// Loader writes every batch a source emits as one log group.
type Loader struct {
	client   sls.ClientInterface
	project  string
	logstore string
	hashKey  string // field whose MD5 routes each group; "" load-balances
	records  atomic.Int64
}

// New returns a loader into project/logstore. When hashField is set, each
// group is routed by the MD5 of that field of its first record, the way a
// producer spreads keys over shards.
func New(client sls.ClientInterface, project, logstore, hashField string) *Loader {
	return &Loader{client: client, project: project, logstore: logstore, hashKey: hashField}
}

// Records returns how many records were written so far.
func (l *Loader) Records() int64 { return l.records.Load() }

// Run drives src until it is exhausted or ctx ends, writing what it emits.
func (l *Loader) Run(ctx context.Context, src engine.Source) error {
	// One call before the concurrent ones: it checks the logstore exists,
	// and the SDK client finishes its lazy, unsynchronised set-up on its
	// first request.
	if _, err := l.client.GetLogStore(l.project, l.logstore); err != nil {
		return fmt.Errorf("logstore %s/%s: %w", l.project, l.logstore, err)
	}
	err := src.Run(ctx, host{l: l, recycle: recycler(src)})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func recycler(src engine.Source) func(*engine.Batch) {
	if r, ok := src.(engine.BatchRecycler); ok {
		return r.RecycleBatch
	}
	return func(*engine.Batch) {}
}

// host is the engine side a source sees: every shard starts fresh and every
// batch is written before Emit returns.
type host struct {
	l       *Loader
	recycle func(*engine.Batch)
}

func (host) OpenShard(context.Context, engine.ShardKey) (engine.Resume, error) {
	return engine.Resume{}, nil
}

func (h host) Emit(ctx context.Context, b *engine.Batch) error {
	defer h.recycle(b)
	if len(b.Records) == 0 {
		return nil
	}
	lg := LogGroup(b.Records)
	var key *string
	if h.l.hashKey != "" {
		if v, ok := b.Records[0].Get(h.l.hashKey); ok {
			sum := md5.Sum(v)
			k := hex.EncodeToString(sum[:])
			key = &k
		}
	}
	var err error
	for attempt := 0; ; attempt++ {
		if key != nil {
			err = h.l.client.PostLogStoreLogs(h.l.project, h.l.logstore, lg, key)
		} else {
			err = h.l.client.PutLogs(h.l.project, h.l.logstore, lg)
		}
		if err == nil || attempt == 5 || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("write %d records to %s/%s: %w", len(b.Records), h.l.project, h.l.logstore, err)
	}
	h.l.records.Add(int64(len(b.Records)))
	return nil
}

func (host) FinishShard(engine.ShardKey) {}

func (host) DrainShard(_ context.Context, key engine.ShardKey) (engine.Checkpoint, error) {
	return engine.Checkpoint{Logstore: key.Logstore, Shard: key.Shard}, nil
}

// LogGroup converts records into an SLS log group: fields become contents;
// the first record's topic, source and tags are the group's.
func LogGroup(recs []engine.Record) *sls.LogGroup {
	lg := &sls.LogGroup{Logs: make([]*sls.Log, len(recs))}
	if r := recs[0]; true {
		lg.Topic = proto.String(r.Topic)
		lg.Source = proto.String(r.Source)
		for _, t := range r.Tags {
			lg.LogTags = append(lg.LogTags, &sls.LogTag{Key: proto.String(string(t.Key)), Value: proto.String(string(t.Value))})
		}
	}
	for i := range recs {
		r := &recs[i]
		log := &sls.Log{Time: proto.Uint32(uint32(r.Time.Sec)), Contents: make([]*sls.LogContent, len(r.Fields))}
		if r.Time.Nsec != 0 {
			log.TimeNs = proto.Uint32(r.Time.Nsec)
		}
		for j, f := range r.Fields {
			log.Contents[j] = &sls.LogContent{Key: proto.String(string(f.Key)), Value: proto.String(string(f.Value))}
		}
		lg.Logs[i] = log
	}
	return lg
}
