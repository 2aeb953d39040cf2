#include "crunlite/cgroup/manager.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <thread>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::cgroup {

namespace {

std::string parent_of(const std::string& dir) { return dir.substr(0, dir.rfind('/')); }

bool writable_dir(const std::string& dir) { return ::access(dir.c_str(), W_OK) == 0; }

// The first existing ancestor of `dir` (the one mkdir -p would start from).
std::string existing_ancestor(std::string dir) {
    while (!dir.empty() && ::access(dir.c_str(), F_OK) != 0) dir = parent_of(dir);
    return dir;
}

void write_in(sys::Kernel& k, const std::string& dir, const std::string& file, const std::string& value) {
    k.write_file(dir + "/" + file, value);  // its error names the file
}

// mkdir -p below an existing ancestor; returns the directories it created,
// outermost first.  The kernel fills each with its control files.
std::vector<std::string> make_dirs(sys::Kernel& k, const std::string& dir, bool parents) {
    std::vector<std::string> created;
    std::string base = parents ? existing_ancestor(dir) : parent_of(dir);
    for (size_t at = base.size(); at < dir.size();) {
        size_t next = dir.find('/', at + 1);
        std::string d = dir.substr(0, next == std::string::npos ? dir.size() : next);
        if (k.mkdir(d.c_str(), 0755) < 0 && errno != EEXIST) throw_errno("create cgroup " + quote(d));
        created.push_back(d);
        at = d.size();
    }
    return created;
}

std::set<std::string> unified_controllers_needed(const std::vector<Write>& writes) {
    std::set<std::string> out;
    for (const auto& w : writes)
        if (w.v2 && !w.controller.empty()) out.insert(w.controller);
    return out;
}

const std::string& dir_for(const Paths& p, const Write& w) {
    if (w.v2) return p.unified;
    auto it = p.v1.find(w.controller);
    if (it == p.v1.end())
        throw Error(ENOTSUP, "cgroup controller " + w.controller + " is not available to this container");
    return it->second;
}

}  // namespace

std::set<std::string> v2_controllers(const Layout& layout) {
    if (!layout.has_unified) return {};
    try {
        std::set<std::string> out;
        for (auto& c : split(trim(read_file(layout.unified.mount + "/cgroup.controllers")), ' '))
            if (!c.empty()) out.insert(std::move(c));
        return out;
    } catch (const Error&) {
        return {};
    }
}

Paths own_paths(const Layout& layout) {
    Paths out;
    for (const auto& [controller, h] : layout.v1) out.v1[controller] = h.mount + (h.own == "/" ? "" : h.own);
    if (layout.has_unified) out.unified = layout.unified.mount + (layout.unified.own == "/" ? "" : layout.unified.own);
    return out;
}

std::vector<HierarchyDir> v1_hierarchy_dirs(const Layout& layout, const Paths& paths) {
    std::vector<HierarchyDir> out;
    auto last = [](const std::string& mount) { return mount.substr(mount.rfind('/') + 1); };
    for (const auto& [controller, dir] : paths.v1) {
        auto h = layout.v1.find(controller);
        if (h == layout.v1.end()) continue;
        auto same = std::find_if(out.begin(), out.end(), [&dir = dir](const HierarchyDir& d) { return d.dir == dir; });
        if (same == out.end()) out.push_back({last(h->second.mount), dir, {controller}});
        else same->controllers.push_back(controller);
    }
    return out;
}

Paths sub_cgroups(const Paths& container, const std::vector<std::string>& specs) {
    Paths out = container;
    for (const auto& spec : specs) {
        std::string what = "exec --cgroup " + quote(spec);
        size_t colon = spec.find(':');
        // runc's checks and words: one colon at most; a path without controllers only alone.
        if (colon != std::string::npos && spec.find(':', colon + 1) != std::string::npos)
            throw Error(EINVAL, "invalid --cgroup argument: " + spec);
        if (colon == std::string::npos && specs.size() != 1)
            throw Error(EINVAL, "invalid --cgroup argument: " + spec + " (missing <controller>: prefix)");
        std::string path = colon == std::string::npos ? spec : spec.substr(colon + 1);
        while (!path.empty() && path.front() == '/') path.erase(0, 1);
        for (const auto& part : split(path, '/'))
            if (part == "..") throw Error(EINVAL, what + ": \"..\" would leave the container's cgroup");
        if (path.empty()) continue;  // "" or "/": the container's own
        if (colon == std::string::npos) {  // every hierarchy
            if (!out.unified.empty()) out.unified += "/" + path;
            for (auto& [c, dir] : out.v1) dir += "/" + path;
            continue;
        }
        for (const auto& c : split(spec.substr(0, colon), ',')) {
            if (c.empty() ? container.unified.empty() : !container.v1.count(c))
                throw Error(EINVAL, what + ": the container has no " + (c.empty() ? "cgroup2" : quote(c)) + " cgroup");
            if (c.empty()) out.unified = container.unified + "/" + path;  // ":path": cgroup2's, as runc names it
            else out.v1[c] = container.v1.at(c) + "/" + path;
        }
    }
    return out;
}

bool host_may_create(const std::string& dir) { return writable_dir(existing_ancestor(parent_of(dir))); }

std::string common_ancestor(const Hierarchy& h, const std::string& dir) {
    std::string_view rest = std::string_view(dir).substr(std::min(dir.size(), h.mount.size()));
    std::vector<std::string> theirs = split(rest, '/'), ours = split(h.own, '/');
    std::string common = h.mount;
    for (size_t i = 0; i < theirs.size() && i < ours.size() && theirs[i] == ours[i]; ++i)
        if (!theirs[i].empty()) common += "/" + theirs[i];
    return common;
}

MayCreate host_may_create_and_join(const Layout& layout) {
    if (!layout.has_unified) return host_may_create;
    return [unified = layout.unified](const std::string& dir) {
        if (!host_may_create(dir)) return false;
        bool in_unified = dir.rfind(unified.mount + "/", 0) == 0;
        return !in_unified || ::access((common_ancestor(unified, dir) + "/cgroup.procs").c_str(), W_OK) == 0;
    };
}

Paths plan_paths(const Layout& layout, const MayCreate& may_create, const std::string& cgroups_path,
                 const std::string& id) {
    Paths p;
    auto place = [&](const Hierarchy& h) -> std::string {
        std::string dir = h.mount + container_path(cgroups_path, id, h.own);
        return may_create(dir) ? dir : "";
    };
    if (layout.has_unified) p.unified = place(layout.unified);
    for (const auto& [controller, h] : layout.v1) {
        std::string dir = place(h);
        if (!dir.empty()) p.v1[controller] = dir;
    }
    return p;
}

void create(const Paths& paths, const std::vector<Write>& writes, sys::Kernel& k, bool parents) {
    if (!paths.unified.empty()) {
        // Controllers must be enabled in the subtree_control of every parent,
        // from the first existing ancestor down to the container's parent.
        std::string top = existing_ancestor(paths.unified);
        std::vector<std::string> chain = {top == paths.unified ? parent_of(top) : top};
        for (const auto& d : make_dirs(k, paths.unified, parents))
            if (d != paths.unified) chain.push_back(d);
        std::string enable;
        for (const auto& c : unified_controllers_needed(writes)) enable += (enable.empty() ? "+" : " +") + c;
        if (!enable.empty())
            for (const auto& d : chain) {
                try {
                    write_in(k, d, "cgroup.subtree_control", enable);
                } catch (const Error& e) {
                    std::set<std::string> fields;
                    for (const auto& w : writes)
                        if (w.v2 && !w.controller.empty()) fields.insert(w.field);
                    std::string named = join(std::vector<std::string>(fields.begin(), fields.end()), ", ");
                    throw Error(e.code(), (named.empty() ? "" : named + ": ") + "the controllers " + enable +
                                              " cannot be enabled for the container's cgroup: " + e.message());
                }
            }
    }
    std::set<std::string> done;
    for (const auto& [controller, dir] : paths.v1) {
        if (!done.insert(dir).second) continue;  // co-mounted controllers share a directory
        for (const auto& d : make_dirs(k, dir, parents)) {
            // A new v1 cpuset starts empty and refuses tasks: inherit the parent's.
            if (controller == "cpuset")
                for (const char* f : {"cpuset.cpus", "cpuset.mems"})
                    if (trim(read_file(d + "/" + f)).empty())
                        write_in(k, d, f, trim(read_file(parent_of(d) + "/" + f)));
        }
    }
    apply(paths, writes, k);
}

namespace {

// v1 refuses a memory limit below what it cannot reclaim: runc's words, with the usage.
Error memory_busy(const std::string& dir, const std::string& limit) {
    auto read = [&](const char* file) {
        try {
            return trim(read_file(dir + "/" + file));
        } catch (const Error&) {
            return std::string("unknown");
        }
    };
    return Error(EBUSY, "cgroup " + quote(dir + "/memory.limit_in_bytes") + ": unable to set memory limit to " + limit +
                            " (current usage: " + read("memory.usage_in_bytes") +
                            ", peak usage: " + read("memory.max_usage_in_bytes") + ")");
}

}  // namespace

void apply(const Paths& paths, const std::vector<Write>& writes, sys::Kernel& k) {
    // A value the kernel refuses for the order it comes in (Write::reorder: a
    // v1 memory limit above the current memsw limit, a cfs period the old quota
    // does not fit) is tried again once the others are written, as runc orders
    // those pairs.
    // An error names the config's field and value, then the file.
    auto named = [](const Write& w, const Error& e) {
        return w.field.empty() ? e : Error(e.code(), w.field + " " + quote(w.value) + ": " + e.message());
    };
    std::vector<const Write*> again;
    auto write_again = [&] {
        for (const Write* w : again) {
            try {
                write_in(k, dir_for(paths, *w), w->file, w->value);
            } catch (const Error& e) {
                throw named(*w, e);
            }
        }
        again.clear();
    };
    for (const auto& w : writes) {
        // Before the next controller's: a failure leaves the other controllers as they were (runc's order).
        if (!again.empty() && again.front()->controller != w.controller) write_again();
        try {
            write_in(k, dir_for(paths, w), w.file, w.value);
        } catch (const Error& e) {
            if (w.reorder && e.code() == EINVAL) again.push_back(&w);
            else if (e.code() == EBUSY && w.file == "memory.limit_in_bytes")
                throw named(w, memory_busy(dir_for(paths, w), w.value));
            else if (!(w.optional && e.code() == ENOENT)) throw named(w, e);
        }
    }
    write_again();
}

std::vector<std::string> v1_dirs(const Paths& paths) {
    std::vector<std::string> out;
    for (const auto& [c, d] : paths.v1)
        if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    return out;
}

std::vector<std::string> dirs(const Paths& paths) {
    std::vector<std::string> out = v1_dirs(paths);
    if (!paths.unified.empty()) out.insert(out.begin(), paths.unified);
    return out;
}

size_t processes_in(const Paths& paths) {
    std::string first = !paths.unified.empty() ? paths.unified : paths.v1.empty() ? "" : paths.v1.begin()->second;
    if (first.empty()) return 0;
    // No exception for the common case, a cgroup still to make: a start pays for none.
    sys::UniqueFd fd(::open((first + "/cgroup.procs").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return 0;
    std::string pids = sys::read_to_end(fd.get(), 1 << 20);
    return static_cast<size_t>(std::count(pids.begin(), pids.end(), '\n'));
}

// Either freezer: the v1 one where the container has it (as runc's on hybrid
// hosts, where tools read freezer.state), else cgroup2's; one frozen by the
// other (an earlier crun-lite, another tool) counts too.
bool frozen(const Paths& paths) {
    auto v1 = paths.v1.find("freezer");
    try {
        if (v1 != paths.v1.end() && trim(read_file(v1->second + "/freezer.state")) == "FROZEN") return true;
    } catch (const Error&) {
    }
    try {
        if (!paths.unified.empty())
            return read_file(paths.unified + "/cgroup.events").find("frozen 1") != std::string::npos;
    } catch (const Error&) {
    }
    return false;
}

bool frozen_already(const Paths& paths) {
    auto first_word = [](const std::string& file) {
        sys::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        return fd ? trim(sys::read_to_end(fd.get(), 64)) : std::string();
    };
    auto v1 = paths.v1.find("freezer");
    if (v1 != paths.v1.end()) {
        std::string state = first_word(v1->second + "/freezer.state");
        if (state == "FROZEN" || state == "FREEZING") return true;
    }
    return !paths.unified.empty() && first_word(paths.unified + "/cgroup.freeze") == "1";
}

void freeze(const Paths& paths, bool freeze_it, sys::Kernel& k) {
    auto v1 = paths.v1.find("freezer");
    bool v2 = !paths.unified.empty() && ::access((paths.unified + "/cgroup.freeze").c_str(), F_OK) == 0;
    if (v1 != paths.v1.end()) write_in(k, v1->second, "freezer.state", freeze_it ? "FROZEN" : "THAWED");
    else if (!v2) throw Error(ENOTSUP, "the container has no freezer cgroup");
    // Thawing: cgroup2's too, whichever froze it.
    if (v2 && (v1 == paths.v1.end() || !freeze_it)) write_in(k, paths.unified, "cgroup.freeze", freeze_it ? "1" : "0");
    for (int i = 0; i < 200 && frozen(paths) != freeze_it; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (frozen(paths) != freeze_it) throw Error(EBUSY, freeze_it ? "freezing timed out" : "thawing timed out");
}

namespace {

// The cgroup directories below `dir` (sub-cgroups made inside the container's,
// e.g. for `exec --cgroup`), deepest first.
void sub_cgroup_dirs(const std::string& dir, std::vector<std::string>& out) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (e->d_type != DT_DIR || name == "." || name == "..") continue;
        sub_cgroup_dirs(dir + "/" + name, out);
        out.push_back(dir + "/" + name);
    }
    ::closedir(d);
}

}  // namespace

std::vector<pid_t> pids(const Paths& paths) {
    std::string dir = paths.unified;
    if (dir.empty() && !paths.v1.empty()) {
        auto it = paths.v1.find("pids");
        dir = it != paths.v1.end() ? it->second : paths.v1.begin()->second;
    }
    std::vector<pid_t> out;
    if (dir.empty()) return out;
    std::vector<std::string> dirs;
    sub_cgroup_dirs(dir, dirs);
    dirs.push_back(dir);
    for (const auto& d : dirs)
        for (const auto& line : split(read_file(d + "/cgroup.procs"), '\n'))
            if (auto n = parse_int(line)) out.push_back(static_cast<pid_t>(*n));
    return out;
}

void kill_all(const Paths& paths, int sig, sys::Kernel& k) {
    if (sig == SIGKILL && !paths.unified.empty() && ::access((paths.unified + "/cgroup.kill").c_str(), F_OK) == 0) {
        write_in(k, paths.unified, "cgroup.kill", "1");
        return;
    }
    for (pid_t p : pids(paths)) k.kill(p, sig);
}

void destroy(const Paths& paths, bool kill_tasks, sys::Kernel& k) {
    if (paths.empty()) return;
    try {
        if (!pids(paths).empty()) {
            if (kill_tasks) kill_all(paths, SIGKILL, k);
            if (frozen(paths)) freeze(paths, false, k);  // frozen tasks cannot die
        }
    } catch (const Error& e) {
        log::debug("cgroup cleanup: " + e.message());
    }
    std::set<std::string> tops;
    if (!paths.unified.empty()) tops.insert(paths.unified);
    for (const auto& [c, d] : paths.v1) tops.insert(d);
    std::vector<std::string> dirs;  // sub-cgroups first, deepest first
    for (const auto& top : tops) {
        sub_cgroup_dirs(top, dirs);
        dirs.push_back(top);
    }
    for (const auto& d : dirs) {
        // rmdir fails with EBUSY until exiting tasks are gone.
        for (int i = 0;; ++i) {
            if (k.rmdir(d.c_str()) == 0 || errno == ENOENT) break;
            if (errno != EBUSY || i == 200) {  // still busy after 1 s: a process from outside is in it
                log::warn("remove cgroup " + quote(d) + ": " + std::strerror(errno));
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
}

}  // namespace crunlite::cgroup
