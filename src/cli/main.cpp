// crun-lite: entry point.  Splits argv into global options and a verb (runc's
// grammar: `crun-lite [global options] VERB [verb options] [args]`), configures
// logging and dispatches.  Errors end here: printed once, exit status 1.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "command.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/process/self_clone.hpp"
#include "crunlite/sys/interrupt.hpp"
#include "crunlite_build_config.h"
#include "crunlite_commit.h"

#include <seccomp.h>

namespace crunlite::cli {
namespace {

// Global options that take a value, so "--root X" is not mistaken for the verb.
// "--root" or, as Go's flags are spelled too, "-root".
bool takes_value(std::string_view opt) {
    static const char* const kValued[] = {"--root", "--log", "--log-format", "--rootless", "--cgroup-manager", "--criu"};
    for (const char* v : kValued)
        if (opt == v || opt == v + 1) return true;
    return false;
}

void print_version() {
    const struct scmp_version* v = seccomp_version();
    std::cout << "crun-lite version " << CRUNLITE_VERSION << "\n"
              << "commit: " << CRUNLITE_COMMIT << "\n"
              << "spec: " << CRUNLITE_SPEC_VERSION << "\n"
              << "libseccomp: " << v->major << "." << v->minor << "." << v->micro << "\n";
}

void print_usage(const po::options_description& globals) {
    std::cout << "Usage: crun-lite [global options] COMMAND [command options] [arguments]\n\n"
                 "A rootless OCI container runtime with runc's command line.\n\nCommands:\n";
    for (const auto& c : commands()) std::cout << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << "\n";
    std::cout << "\n" << globals << "\nRun 'crun-lite COMMAND --help' for a command's options.\n";
}

int main_impl(int argc, char** argv) {
    // A caller may have left SIGCHLD ignored (inherited across exec): the
    // kernel would then reap our children itself, and the exit status of a
    // hook, a helper or the container would be lost (read as success).
    ::signal(SIGCHLD, SIG_DFL);
    std::vector<std::string> global_args, verb_args;
    std::string verb;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (verb.empty() && a.size() > 1 && a[0] == '-') {
            global_args.push_back(a);
            if (takes_value(a) && i + 1 < argc) global_args.push_back(argv[++i]);
        } else if (verb.empty()) {
            verb = a;
        } else {
            verb_args.push_back(a);
        }
    }

    // Verbs that put a process into a container run from a sealed copy of this
    // binary (see process/self_clone.hpp); the others stay as fast as they are.
    // `healthcheck run` and the monitor's tick exec the image's HEALTHCHECK command in the container;
    // `monitor exited` may restart it (a restart policy).
    bool tick = verb == "monitor" && !verb_args.empty() && (verb_args[0] == "tick" || verb_args[0] == "exited");
    if (verb == "create" || verb == "run" || verb == "exec" || verb == "healthcheck" || tick)
        process::ensure_sealed_self(argv);

    Global g;
    std::string log_file, log_format = "text";
    po::options_description globals("Global options");
    globals.add_options()
        ("help,h", "show this help")
        ("version,v", "print the version")
        ("debug", po::bool_switch(&g.debug), "enable debug logging")
        ("log", po::value(&log_file), "log file (default: stderr)")
        ("log-format", po::value(&log_format), "log format: text or json")
        ("root", po::value(&g.root_flag), "state directory (default /run/crun-lite as root, else $XDG_RUNTIME_DIR/crun-lite, or /tmp/crun-lite-UID when that is unset)")
        ("systemd-cgroup", po::bool_switch(&g.systemd_cgroup), "manage cgroups with systemd: a transient scope per container (as --cgroup-manager systemd)")
        ("cgroup-manager", po::value(&g.cgroup_manager), "cgroupfs, systemd or disabled")
        ("rootless", po::value(&g.rootless), "auto, true or false")
        ("criu", po::value<std::string>(), "accepted for runc compatibility; checkpointing is not supported");
    po::variables_map vm;
    try {
        std::vector<std::string> words;  // Go's forms too ("-root DIR", "--debug=false")
        split_options(globals, global_args, words);
        po::store(last_wins(po::command_line_parser(words).options(globals).run(), globals), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw Error(EINVAL, e.what());
    }
    if (log_format != "text" && log_format != "json")
        throw Error(EINVAL, "invalid log-format " + log_format + ": want text or json");
    log::configure(log_file, log_format == "json" ? log::Format::Json : log::Format::Text, g.debug);
    if (vm.count("version")) {
        print_version();
        return 0;
    }
    // runc's: no verb, "help" or "h" show the help; "help VERB" the verb's.
    if ((verb == "help" || verb == "h") && !verb_args.empty()) {
        verb = verb_args[0];
        verb_args = {"--help"};
    } else if (vm.count("help") || verb.empty() || verb == "help" || verb == "h") {
        print_usage(globals);
        return 0;
    }
    if (g.cgroup_manager != "cgroupfs" && g.cgroup_manager != "systemd" && g.cgroup_manager != "disabled")
        throw Error(EINVAL, "invalid --cgroup-manager " + g.cgroup_manager + ": want cgroupfs, systemd or disabled");
    if (g.systemd_cgroup) g.cgroup_manager = "systemd";
    for (const auto& c : commands())
        if (verb == c.name) return c.run(g, verb_args);
    // runc's, which need CRIU: refused in plain words (containerd's `ctr task checkpoint` says them).
    if (verb == "checkpoint" || verb == "restore")
        throw Error(ENOTSUP, verb + " is not supported: crun-lite has no CRIU support");
    // Exit 3, as runc's (its "No help topic" error).
    return report_error(Error(EINVAL, "unknown command " + verb), 3);
}

}  // namespace
}  // namespace crunlite::cli

#ifdef CRUNLITE_LAZY_CPUID
// libcrypto probes the CPU (OPENSSL_cpuid_setup, ~9 CPUID instructions) from the
// .init section of every start, though only image imports hash; each CPUID traps
// to the hypervisor on a VM (~40 us together here).  The static binary is linked
// with --wrap=OPENSSL_cpuid_setup (meson.build), so libcrypto's own calls come
// here: the one from .init waits, any once main runs probes; the first hash
// probes through crunlite_crypto_cpu_probe (base/sha256.cpp).  libcrypto probes
// once, however often it is called.
namespace {
bool main_started = false;
}  // namespace
extern "C" void __real_OPENSSL_cpuid_setup(void);
extern "C" void __wrap_OPENSSL_cpuid_setup(void) {
    if (main_started) __real_OPENSSL_cpuid_setup();
}
extern "C" void crunlite_crypto_cpu_probe(void) { __real_OPENSSL_cpuid_setup(); }
#endif

namespace {

// Ends the process with `code` once stdio is flushed, skipping the atexit handlers and
// static destructors (libstdc++'s streams and locale, Boost's, the exception pool):
// nothing of ours needs them, and they were ~1% of a bundle `run` (design.md, the
// run's end).  Sanitizer builds exit normally: LeakSanitizer checks at exit.
[[noreturn]] void leave(int code) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    std::exit(code);
#else
    std::fflush(nullptr);
    ::_exit(code);
#endif
}

int guarded_main(int argc, char** argv) {
    try {
        return crunlite::cli::main_impl(argc, argv);
    } catch (const crunlite::cli::HelpShown&) {
        return 0;
    } catch (const crunlite::Error& e) {
        auto* exit = dynamic_cast<const crunlite::cli::ExitError*>(&e);
        int code = crunlite::cli::report_error(e, exit ? exit->exit_code() : 1);
        if (int sig = crunlite::sys::interrupted_by()) {  // the work cleaned up: now the signal ends us
            std::fflush(nullptr);
            ::signal(sig, SIG_DFL);
            ::raise(sig);
        }
        return code;
    } catch (const std::exception& e) {
        crunlite::log::error(e.what());
        return 1;
    }
}

}  // namespace

int main(int argc, char** argv) {
#ifdef CRUNLITE_LAZY_CPUID
    main_started = true;
#endif
    crunlite::runtime::note_inherited_fds();
    leave(guarded_main(argc, argv));
}
