// Container lifecycle: what the CLI verbs do, independent of argument parsing.
// Runs in the runtime process (the one the user or containerd/podman started).
// Every function throws crunlite::Error with runc's wording where callers match
// it ("container does not exist", "container not running", ...).
#pragma once

#include <string>
#include <vector>

#include "crunlite/state/store.hpp"

namespace crunlite::runtime {

struct Context {
    std::string root;             // state root (--root)
    bool rootless = false;        // running without real root (euid != 0 or not in the initial userns)
    std::string cgroup_manager;   // cgroupfs | systemd | disabled
};

// Default --root: /run/crun-lite as root, $XDG_RUNTIME_DIR/crun-lite rootless.
std::string default_root();
// Context from --rootless auto|true|false and --root.
Context make_context(const std::string& root_flag, const std::string& rootless_flag, const std::string& cgroup_manager);

struct CreateOptions {
    std::string id;
    std::string bundle;        // default: current directory
    std::string config_file;   // default: <bundle>/config.json
    std::string pid_file;
    std::string console_socket;
    bool no_pivot = false;
    bool no_new_keyring = false;
    int preserve_fds = 0;
};

// create: returns once the container is created and blocked in exec.fifo.
void create(const Context& ctx, const CreateOptions& opts);
// start: releases a created container.
void start(const Context& ctx, const std::string& id);
// run: create + start; without detach waits, forwards signals and returns the
// exit code (128+n for a signal), deleting the container unless keep.
int run(const Context& ctx, const CreateOptions& opts, bool detach, bool keep);
// kill: `signal` by name (TERM, SIGTERM) or number.
void kill(const Context& ctx, const std::string& id, const std::string& signal, bool all);
// delete: force kills a running container first.
void remove(const Context& ctx, const std::string& id, bool force);
// state: the OCI state JSON (indented, as runc prints it).
std::string state_json(const Context& ctx, const std::string& id);
// list: table, json or ids only.
std::string list(const Context& ctx, const std::string& format, bool quiet);

// Signal number from "TERM", "SIGTERM", "15"; throws Error for an unknown name.
int parse_signal(const std::string& text);

}  // namespace crunlite::runtime
