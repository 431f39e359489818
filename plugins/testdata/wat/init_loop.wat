;; A reactor whose _initialize never returns: the host must interrupt it at the
;; deadline instead of hanging while the instance is created.
(module
  (memory (export "memory") 1)
  (func (export "slspipe_abi_v1"))
  (func (export "slspipe_arena") (param i32) (result i32) (i32.const 1024))
  (func (export "slspipe_process") (param i32 i32) (result i64) (i64.const -1))
  (func (export "_initialize")
    (loop $spin (br $spin))))
