;; Returns a well-formed output whose first input maps to an output record with a field
;; pointing far outside linear memory: the host must reject the output, not read it.
(module
  (memory (export "memory") 1)
  (func (export "slspipe_abi_v1"))
  (func (export "slspipe_arena") (param i32) (result i32) (i32.const 4096))
  (func (export "slspipe_process") (param $in i32) (param $len i32) (result i64)
    (local $n i32)
    (local.set $n (i32.load offset=8 (local.get $in)))   ;; input record count
    ;; header at 256: magic, size, outcome_count, outcomes@512, records=1 @1024, fields=1 @1536
    (i32.store (i32.const 256) (i32.const 0x314f5053))
    (i32.store (i32.const 260) (i32.const 32))
    (i32.store (i32.const 264) (local.get $n))
    (i32.store (i32.const 268) (i32.const 2048))
    (i32.store (i32.const 272) (i32.const 1))
    (i32.store (i32.const 276) (i32.const 1024))
    (i32.store (i32.const 280) (i32.const 1))
    (i32.store (i32.const 284) (i32.const 1536))
    ;; record 0: one field starting at 0
    (i32.store (i32.const 1032) (i32.const 0))
    (i32.store (i32.const 1036) (i32.const 1))
    ;; field 0: key at 0x7fff0000, length 100: outside the 64 KiB memory
    (i32.store (i32.const 1536) (i32.const 0x7fff0000))
    (i32.store (i32.const 1540) (i32.const 100))
    ;; outcomes live at 2048 (zeroed memory = status ok with zero outputs); input 0
    ;; claims output record 0
    (i32.store (i32.const 2056) (i32.const 1))
    (i64.or (i64.shl (i64.const 256) (i64.const 32)) (i64.const 32))))
