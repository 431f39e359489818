;; Declares ABI v1 but forgets slspipe_process.
(module
  (memory (export "memory") 1)
  (func (export "slspipe_abi_v1"))
  (func (export "slspipe_arena") (param i32) (result i32) (i32.const 1024)))
