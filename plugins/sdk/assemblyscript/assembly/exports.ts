// The ABI v1 exports under their ABI names. A module's entry file re-exports them:
//
//   export * from "<sdk>/assembly/exports";
export {
  abiV1 as slspipe_abi_v1,
  arena as slspipe_arena,
  init as slspipe_init,
  process as slspipe_process,
  lastErrorMessage as slspipe_last_error,
} from "./index";
