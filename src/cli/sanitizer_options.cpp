// Linked into sanitizer builds only (-Db_sanitize=..., see meson.build here).
// The defaults when ASAN_OPTIONS / UBSAN_OPTIONS do not reach crun-lite: podman
// runs its OCI runtime with an environment of its own making, and a UBSan report
// would otherwise only be printed, to a stderr podman may not show.  Every report
// ends the process, so the command that ran it fails; the environment's options,
// when there are some (contrib/test.sh sets log_path), come on top of these.

extern "C" {

const char* __asan_default_options() { return "halt_on_error=1:detect_leaks=1"; }

const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

}  // extern "C"
