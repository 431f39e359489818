package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/internal/logwire"
)

// rawDecodeResult is what the raw decode baseline read.
type rawDecodeResult struct {
	logs  int64
	bytes int64 // sum of content key and value lengths
	wall  time.Duration
	cpu   time.Duration // of the harness process while it ran
}

// rawDecode pulls every shard of project/logstore from the beginning to its
// current end with GetLogsBytesV2 (lz4, decompressed by the SDK) and scans
// the protobuf without allocating, counting logs and content bytes: the
// most any SLS reader can do on this machine, with no processing and no
// sink. Shards are read in parallel, one goroutine each.
func rawDecode(ctx context.Context, client sls.ClientInterface, project, logstore string, maxPerFetch int) (rawDecodeResult, error) {
	shards, err := client.ListShards(project, logstore)
	if err != nil {
		return rawDecodeResult{}, fmt.Errorf("list shards of %s/%s: %w", project, logstore, err)
	}
	var logs, size atomic.Int64
	errs := make([]error, len(shards))
	cpu0 := selfCPU()
	began := time.Now()
	var wg sync.WaitGroup
	for i, sh := range shards {
		wg.Go(func() {
			l, b, err := rawDecodeShard(ctx, client, project, logstore, sh.ShardID, maxPerFetch)
			logs.Add(l)
			size.Add(b)
			errs[i] = err
		})
	}
	wg.Wait()
	res := rawDecodeResult{logs: logs.Load(), bytes: size.Load(), wall: time.Since(began), cpu: selfCPU() - cpu0}
	return res, errors.Join(errs...)
}

func rawDecodeShard(ctx context.Context, client sls.ClientInterface, project, logstore string, shard, maxPerFetch int) (logs, size int64, err error) {
	cursor, err := client.GetCursor(project, logstore, shard, "begin")
	if err != nil {
		return 0, 0, fmt.Errorf("shard %d: begin cursor: %w", shard, err)
	}
	for ctx.Err() == nil {
		out, next, err := client.GetLogsBytesV2(&sls.PullLogRequest{
			Project: project, Logstore: logstore, ShardID: shard,
			Cursor: cursor, LogGroupMaxCount: maxPerFetch, CompressType: sls.Compress_LZ4,
		})
		if err != nil {
			return logs, size, fmt.Errorf("shard %d: pull: %w", shard, err)
		}
		l, b, err := scanLogGroupList(out)
		if err != nil {
			return logs, size, fmt.Errorf("shard %d: decode: %w", shard, err)
		}
		logs += l
		size += b
		if next == cursor || len(out) == 0 {
			return logs, size, nil
		}
		cursor = next
	}
	return logs, size, ctx.Err()
}

// selfCPU returns the user and system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var errTruncated = errors.New("truncated protobuf")

// scanLogGroupList counts the logs of an SLS LogGroupList and adds up the
// lengths of their content keys and values, without allocating.
//
//	LogGroupList{1: LogGroup}  LogGroup{1: Log, 2..5: metadata}
//	Log{1: Time, 2: Content, 4: Time_ns}  Content{1: Key, 2: Value}
func scanLogGroupList(b []byte) (logs, size int64, err error) {
	err = eachField(b, func(num int, group []byte) error {
		if num != 1 {
			return nil
		}
		return eachField(group, func(num int, log []byte) error {
			if num != 1 {
				return nil
			}
			logs++
			return eachField(log, func(num int, content []byte) error {
				if num != 2 {
					return nil
				}
				return eachField(content, func(_ int, kv []byte) error {
					size += int64(len(kv))
					return nil
				})
			})
		})
	})
	return logs, size, err
}

// eachField calls fn with the number and payload of every length-delimited
// field of message b, skipping fields of other wire types.
func eachField(b []byte, fn func(num int, payload []byte) error) error {
	for i := 0; i < len(b); {
		num, payload, next, err := logwire.NextBytes(b, i)
		if err != nil {
			return err
		}
		if num == 0 {
			return nil
		}
		if err := fn(int(num), payload); err != nil {
			return err
		}
		i = next
	}
	return nil
}
