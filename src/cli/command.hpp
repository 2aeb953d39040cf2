// CLI plumbing shared by the verbs in src/cli/commands/.  Each verb parses its
// own arguments with Boost.Program_options and calls one runtime function.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

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

// The required ID argument, with runc's message when missing.
std::string require_id(const po::variables_map& vm, const std::string& verb);

// parse_args for the common "VERB [options] CONTAINER_ID" shape; sets `id`.
po::variables_map parse_id_args(const std::string& verb, const po::options_description& opts,
                                const std::vector<std::string>& args, std::string& id);

int cmd_create(const Global&, const std::vector<std::string>&);
int cmd_start(const Global&, const std::vector<std::string>&);
int cmd_exec(const Global&, const std::vector<std::string>&);
int cmd_run(const Global&, const std::vector<std::string>&);
int cmd_state(const Global&, const std::vector<std::string>&);
int cmd_kill(const Global&, const std::vector<std::string>&);
int cmd_delete(const Global&, const std::vector<std::string>&);
int cmd_pause(const Global&, const std::vector<std::string>&);
int cmd_resume(const Global&, const std::vector<std::string>&);
int cmd_ps(const Global&, const std::vector<std::string>&);
int cmd_update(const Global&, const std::vector<std::string>&);
int cmd_events(const Global&, const std::vector<std::string>&);
int cmd_list(const Global&, const std::vector<std::string>&);
int cmd_spec(const Global&, const std::vector<std::string>&);
int cmd_image(const Global&, const std::vector<std::string>&);
int cmd_features(const Global&, const std::vector<std::string>&);

}  // namespace crunlite::cli
