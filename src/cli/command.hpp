// CLI plumbing shared by the verbs in src/cli/commands/.  Each verb parses its
// own arguments with Boost.Program_options and calls one runtime function.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/runtime/container.hpp"

namespace crunlite::cli {

namespace po = boost::program_options;

struct Global {
    std::string root_flag;
    std::string rootless = "auto";
    std::string cgroup_manager = "cgroupfs";
    bool systemd_cgroup = false;
    bool debug = false;

    runtime::Context context() const;
};

struct Command {
    const char* name;
    const char* summary;
    int (*run)(const Global&, const std::vector<std::string>& args);
};

// Every verb, in `crun-lite --help` order.
const std::vector<Command>& commands();

// Thrown by parse_args after printing --help; main exits 0.
struct HelpShown {};

// Parses a verb's arguments.  `usage` is the synopsis ("create [options] ID");
// positional names are declared in `pos` and must also be options in `opts`
// (hidden from help).  Prints help and throws HelpShown for -h/--help; throws
// Error for bad arguments, naming the verb.
po::variables_map parse_args(const std::string& verb, const std::string& usage, const po::options_description& visible,
                             const po::options_description& hidden, const po::positional_options_description& pos,
                             const std::vector<std::string>& args);

// runc's words for a wrong number of arguments: "\"state\" requires exactly 1
// argument(s)"; `rule` is "exactly 1", "a minimum of 1" or "a maximum of 2".
// (parse_args says it for too many, from the positional description.)
Error arguments_error(const std::string& verb, const std::string& rule);

// The required ID argument, with runc's message when missing.
std::string require_id(const po::variables_map& vm, const std::string& verb, const std::string& rule = "exactly 1");

// parse_args for the common "VERB [options] CONTAINER_ID" shape; sets `id`.
po::variables_map parse_id_args(const std::string& verb, const po::options_description& opts,
                                const std::vector<std::string>& args, std::string& id);

// parse_args for "VERB [options] CONTAINER_ID..." (one or more); sets `ids`.
po::variables_map parse_ids_args(const std::string& verb, const po::options_description& opts,
                                 const std::vector<std::string>& args, std::vector<std::string>& ids);

// A size as ram_in_bytes reads it, or "-1" ("unlimited", as runc's update
// and Docker's --memory-swap take it).  Throws Error(EINVAL) naming `what`
// ("update: --memory").
int64_t parse_size(const std::string& what, const std::string& text);

// --since/--until (events, logs): a Unix timestamp, an RFC 3339 time, or a
// duration before now ("10m"), in ns since the epoch.  Throws naming `flag`.
int64_t parse_time_flag(const std::string& text, const std::string& flag);

// Splits `args` where options end: at "--" or at the first word that is not
// an option or an option's value (runc's rule for "exec ID ls -la").  The
// options go to `own`; returns the index of the first remaining word.  When
// `unknown` is given, it is set when an option is not one of `opts` (--help
// is none of them either).
size_t split_options(const po::options_description& opts, const std::vector<std::string>& args,
                     std::vector<std::string>& own, bool* unknown = nullptr);

// As Go's flag package: an option given again replaces the earlier value
// (boost refuses it), unless it is a composing (repeatable) one.
po::parsed_options last_wins(po::parsed_options parsed, const po::options_description& opts);

// Logs `e` as the final error (also on stderr when logging to a file, as runc
// does) and returns `exit_code`.
int report_error(const Error& e, int exit_code);

// A boolean as Go's strconv.ParseBool reads it (runc's and podman's flags:
// "=true", "=false", "1", "F", ...); nullopt for another value.
std::optional<bool> go_bool(std::string_view v);

// An error that ends crun-lite with `exit_code` rather than 1.  with_context
// makes a plain Error of it again: throw it where nothing wraps it any more
// (with_podman_exit_codes sits at the top of a verb).
class ExitError : public Error {
public:
    ExitError(const Error& e, int exit_code) : Error(e), exit_code_(exit_code) {}
    int exit_code() const noexcept { return exit_code_; }

private:
    int exit_code_;
};

// Runs an image run or create: its errors exit as podman's and Docker's run do,
// 127 for a command not found, 126 for one not executable, 125 for the rest.
template <typename F>
auto with_podman_exit_codes(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const ExitError&) {
        throw;
    } catch (const Error& e) {
        throw ExitError(e, e.kind() == Error::Kind::CommandNotFound        ? 127
                           : e.kind() == Error::Kind::CommandNotExecutable ? 126
                                                                           : 125);
    }
}

// --format of inspect and image inspect: `tmpl` (json/template.hpp) over the
// verb's JSON output.  Errors say "`verb` --format: `{{...}}`: why".
std::string format_template(const std::string& verb, const std::string& tmpl, const std::string& json_text);

int cmd_create(const Global&, const std::vector<std::string>&);
int cmd_start(const Global&, const std::vector<std::string>&);
int cmd_exec(const Global&, const std::vector<std::string>&);
int cmd_run(const Global&, const std::vector<std::string>&);
int cmd_stop(const Global&, const std::vector<std::string>&);
int cmd_logs(const Global&, const std::vector<std::string>&);
int cmd_inspect(const Global&, const std::vector<std::string>&);
int cmd_healthcheck(const Global&, const std::vector<std::string>&);
int cmd_monitor(const Global&, const std::vector<std::string>&);
int cmd_state(const Global&, const std::vector<std::string>&);
int cmd_kill(const Global&, const std::vector<std::string>&);
int cmd_delete(const Global&, const std::vector<std::string>&);
int cmd_rm(const Global&, const std::vector<std::string>&);
int cmd_port(const Global&, const std::vector<std::string>&);
int cmd_wait(const Global&, const std::vector<std::string>&);
int cmd_pause(const Global&, const std::vector<std::string>&);
int cmd_resume(const Global&, const std::vector<std::string>&);
int cmd_ps(const Global&, const std::vector<std::string>&);
int cmd_update(const Global&, const std::vector<std::string>&);
int cmd_events(const Global&, const std::vector<std::string>&);
int cmd_list(const Global&, const std::vector<std::string>&);
int cmd_spec(const Global&, const std::vector<std::string>&);
int cmd_image(const Global&, const std::vector<std::string>&);
int cmd_volume(const Global&, const std::vector<std::string>&);
int cmd_features(const Global&, const std::vector<std::string>&);

}  // namespace crunlite::cli
