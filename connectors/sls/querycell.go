package sls

import (
	"context"
	"fmt"
	"strconv"
)

// queryCell is the number of log groups in one cell of the grid that names
// records read with a query. It is the API's largest pull, and fixed, so
// that names do not change with max_per_fetch.
const queryCell = 1000

// queryNames names the log groups a query answers. With a query the service
// answers a subset of the groups it read, without their cursors, so a group
// cannot be named by its cursor as without one. Naming it after the pull
// that read it would make the name depend on where pulls start and end,
// which differs between a run and its replay after a crash (a pull that
// reached the head, another max_per_fetch), and JetStream would store the
// replay again under new Msg-Ids. Instead the shard is cut into cells of
// queryCell consecutive cursors, no pull reads past a cell's end (its count
// is capped: an end cursor past the shard's end would be refused), and a
// group is named by its cell and its rank among the groups the query
// answered in that cell, which depends only on the data and the statement.
//
// Owned by the shard reader's goroutine.
type queryNames struct {
	ok     bool   // the fields below describe the reader's cursor
	at     int64  // the cursor number they describe
	anchor string // the cell's name: the cursor number of its first group
	end    int64  // the number of the cell's end cursor
	rank   int    // groups answered in the cell before at
}

// queryCount returns how many groups the next pull with a query may read
// from r.cursor: max_per_fetch, but not past the end of the cursor's cell.
// When the reader starts inside a cell (a start position, a restart from a
// checkpoint, a cursor reset) it first counts, with one or more pulls, the
// groups the query answers between the cell's start (or the shard's oldest
// data, when the cell starts before it) and the cursor. When cursors are
// not group numbers, groups are named after their pull, as a last resort.
func (r *shardReader) queryCount(ctx context.Context, b *pullBatch) (int, error) {
	q := &r.qnames
	max := r.src.cfg.MaxPerFetch
	n, err := decodeCursorNum(r.cursor)
	if err != nil || n < 0 {
		q.ok = false
		return max, nil
	}
	if !q.ok || q.at != n || n >= q.end {
		start := n - n%queryCell
		*q = queryNames{at: n, anchor: encodeCursorNum(start), end: start + queryCell}
		if start < n {
			if q.rank, err = r.countAnswered(ctx, start, n, b); err != nil {
				return 0, err
			}
		}
		q.ok = true
	}
	return int(min(int64(max), q.end-n)), nil
}

// countAnswered returns how many groups the query answers between the
// cursor numbers from (raised to the shard's oldest group) and to, decoding
// into b.
func (r *shardReader) countAnswered(ctx context.Context, from, to int64, b *pullBatch) (int, error) {
	s := r.src
	ls, shard := r.key.Logstore, r.key.Shard
	begin, err := s.getCursor(ctx, ls, shard, "begin")
	if err != nil {
		return 0, err
	}
	if bn, err := decodeCursorNum(begin); err == nil && bn > from {
		from = bn
	}
	rank := 0
	for from < to {
		cur, end := encodeCursorNum(from), encodeCursorNum(to)
		var res pullResult
		err := s.call(ctx, ls, "count the query's groups before cursor "+end+" of shard "+strconv.Itoa(shard), func() error {
			var err error
			res, err = s.c.pull(ctx, ls, shard, cur, "", int(to-from), s.useZstd, s.cfg.Query, b)
			return err
		})
		if err != nil {
			return 0, err
		}
		next, err := decodeCursorNum(res.next)
		if err != nil || next <= from || next > to {
			return 0, fmt.Errorf("%s: shard %d: counting the query's groups from cursor %s to %s, the service answered next cursor %q", s.where(ls), shard, cur, end, res.next)
		}
		rank += res.count
		from = next
	}
	return rank, nil
}

// nameQueryGroups returns the names of a pull's answered groups and moves
// q past the pull, whose next cursor is next.
func (q *queryNames) nameQueryGroups(groups int, next string) []string {
	names := make([]string, groups)
	for g := range names {
		names[g] = q.anchor + "#" + strconv.Itoa(q.rank+g)
	}
	q.rank += groups
	if n, err := decodeCursorNum(next); err == nil && n < q.end {
		q.at = n
	} else {
		q.ok = false // the next pull starts a new cell
	}
	return names
}
