;; A module built for a future ABI version: the host must refuse it at load.
(module
  (memory (export "memory") 1)
  (func (export "slspipe_abi_v2"))
  (func (export "slspipe_arena") (param i32) (result i32) (i32.const 1024))
  (func (export "slspipe_process") (param i32 i32) (result i64) (i64.const 0)))
