;; Imports a function the host does not provide.
(module
  (import "env" "fetch_url" (func $fetch (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "slspipe_abi_v1"))
  (func (export "slspipe_arena") (param i32) (result i32) (i32.const 1024))
  (func (export "slspipe_process") (param i32 i32) (result i64)
    (drop (call $fetch (i32.const 0) (i32.const 0)))
    (i64.const 0)))
