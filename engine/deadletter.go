package engine

import "strconv"

// Tags added to a dead-lettered record, after the record's own tags.
const (
	DeadLetterErrorTag    = "__slspipe_error__"
	DeadLetterStageTag    = "__slspipe_stage__"
	DeadLetterLogstoreTag = "__slspipe_logstore__"
	DeadLetterShardTag    = "__slspipe_shard__"
	DeadLetterCursorTag   = "__slspipe_cursor__"
	DeadLetterIndexTag    = "__slspipe_index__"
)

// deadLetterRecord builds what the dead-letter sink receives for a rejected
// record: the stage's input unchanged, with the error, the stage name and
// the source position appended as tags. Its identity is the input's, so a
// replayed dead letter has the same id.
func deadLetterRecord(stage string, rec *Record, err error) Record {
	dl := *rec
	id := &rec.Identity
	dl.Tags = make([]Field, 0, len(rec.Tags)+6)
	dl.Tags = append(dl.Tags, rec.Tags...)
	dl.Tags = append(dl.Tags,
		Field{Key: []byte(DeadLetterErrorTag), Value: []byte(err.Error())},
		Field{Key: []byte(DeadLetterStageTag), Value: []byte(stage)},
		Field{Key: []byte(DeadLetterLogstoreTag), Value: []byte(id.Logstore)},
		Field{Key: []byte(DeadLetterShardTag), Value: strconv.AppendInt(nil, int64(id.Shard), 10)},
		Field{Key: []byte(DeadLetterCursorTag), Value: []byte(id.Cursor)},
		Field{Key: []byte(DeadLetterIndexTag), Value: strconv.AppendInt(nil, int64(id.Index), 10)},
	)
	return dl
}
