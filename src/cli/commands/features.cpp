#include <sys/capability.h>

#include <iostream>

#include "../command.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/runtime/systemd_unit.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/spec/sched.hpp"
#include "crunlite/linux/seccomp.hpp"
#include "crunlite/spec/mount_options.hpp"
#include "crunlite_build_config.h"
#include "crunlite_commit.h"

namespace crunlite::cli {

// Reports what this build really implements (runtime-spec features.md); a
// field flips to true only when the code behind it exists and is tested.
int cmd_features(const Global&, const std::vector<std::string>& args) {
    po::options_description opts("Options"), hidden;
    po::positional_options_description pos;
    parse_args("features", "features", opts, hidden, pos, args);

    json::Writer w(true);
    w.begin_object();
    w.key("ociVersionMin").string("1.0.0");
    w.key("ociVersionMax").string(CRUNLITE_SPEC_VERSION);
    w.key("hooks").string_array(
        {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"});
    w.key("mountOptions").string_array(spec::known_mount_options());
    w.key("linux").begin_object();
    w.key("namespaces").begin_array();
    for (const char* ns : {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}) w.string(ns);
    w.end_array();
    w.key("capabilities").begin_array();
    for (cap_value_t c = 0; c <= cap_max_bits() - 1; ++c) {
        char* name = cap_to_name(c);
        std::string upper = ascii_upper(name);
        cap_free(name);
        if (upper.rfind("CAP_", 0) == 0) w.string(upper);
    }
    w.end_array();
    w.key("cgroup").begin_object();
    // v1 controllers are used on hybrid hosts; the systemd driver (system and
    // user managers) where its helper, crun-lite-systemd, was built; no rdma controller.
    bool systemd = false;
    try {
        runtime::find_systemd_helper();
        systemd = true;
    } catch (const Error&) {
    }
    w.key("v1").boolean(true).key("v2").boolean(true);
    w.key("systemd").boolean(systemd).key("systemdUser").boolean(systemd).key("rdma").boolean(false);
    w.end_object();
    w.key("seccomp").begin_object();
    w.key("enabled").boolean(true);
    w.key("actions").string_array(linux::seccomp_actions());
    w.key("operators").string_array(linux::seccomp_operators());
    w.key("archs").string_array(linux::seccomp_architectures());
    // We load filters with seccomp(2) ourselves, so every flag we know is passed
    // through (WAIT_KILLABLE_RECV is dropped on kernels before 5.19).
    w.key("knownFlags").string_array(linux::seccomp_flags());
    w.key("supportedFlags").string_array(linux::seccomp_flags());
    w.end_object();
    w.key("apparmor").begin_object().key("enabled").boolean(true).end_object();  // where the host has it
    w.key("selinux").begin_object().key("enabled").boolean(false).end_object();
    w.key("intelRdt").begin_object().key("enabled").boolean(false).end_object();
    w.key("netDevices").begin_object().key("enabled").boolean(true).end_object();  // root only
    w.key("mountExtensions").begin_object();
    // idmap/ridmap bind mounts with mounts[].uidMappings/gidMappings (as root:
    // the kernel idmaps only filesystems the caller has privilege over).
    w.key("idmap").begin_object().key("enabled").boolean(true).end_object();
    w.end_object();
    // Every mode and flag linux.memoryPolicy accepts (set_mempolicy(2) in the init);
    // the kernel may still refuse one it is too old for.
    w.key("memoryPolicy").begin_object();
    w.key("modes").string_array(spec::memory_policy_modes());
    w.key("flags").string_array(spec::memory_policy_flags());
    w.end_object();
    w.end_object();
    // Our own annotations change what the runtime does (an overlay of host
    // directories as the root, an image container's bundle removed with it):
    // a caller passing user-supplied annotations through must filter them.
    w.key("potentiallyUnsafeConfigAnnotations").string_array({"org.crun-lite."});
    w.key("annotations").begin_object();
    w.key("io.github.crun-lite.version").string(CRUNLITE_VERSION);
    w.key("io.github.crun-lite.commit").string(CRUNLITE_COMMIT);
    w.end_object();
    w.end_object();
    std::cout << w.result() << "\n";
    return 0;
}

}  // namespace crunlite::cli
