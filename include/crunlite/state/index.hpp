// @containers.tsv in the state root: what `list` reads instead of every
// container's state.json.  The store appends to it, and `list` rebuilds it from
// the directories when it does not match them (see docs/design.md).
//
// Format: a header "crun-lite containers 1 N" (N: the root's directories that
// are not containers, named "@..."), then one line per change, tab-separated:
//   + ID PID START_TIME BUNDLE ROOTFS CREATED OWNER [KEY VALUE]...   saved
//   x (as +)                                      saved, and that init has exited
//   ? ID                                          read its state.json
//   - ID                                          removed
// The last line of an ID wins.  A field holding a tab or a newline is never
// written: its container gets a "?" line instead.  `list` writes the lines
// sorted by ID.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crunlite/state/store.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::state::index {

constexpr const char* kFile = "@containers.tsv";

std::string header(size_t aux_dirs);
std::string saved_line(const Listed& l);  // "x" when l.exited
std::string look_line(const std::string& id);
std::string removed_line(const std::string& id);

struct Parsed {
    size_t aux_dirs = 0;        // from the header
    std::vector<Listed> live;   // the IDs whose last line is "+", "x" or "?", sorted; views into the text
    std::vector<size_t> looks;  // those of a "?" line (only the ID is known): indexes into `live`
    size_t lines = 0;           // change lines, those of removed IDs included
};

// nullopt when `text` is not a whole index: another header, a line that is not
// a change of a valid ID, one that counts (the last of its ID) and is not a
// whole record, or a last line without its newline (being appended, or cut
// short).  Unless `all_fields`, the rootfs and annotations are left out (only
// `list --format json` shows them) and not read.
std::optional<Parsed> parse(std::string_view text, bool all_fields = true);

// The index opened with `flags` (O_CREAT: 0600) and flocked with `lock`,
// reopened when a rebuild replaced it while we waited; empty when that fails
// (errno from open(2) when the open did).
sys::UniqueFd open_locked(const std::string& root, int flags, int lock);

// An index this large is written again from the directories by the change
// that finds it so (Store::save, Store::remove): `list` rewrites it when removed
// containers' lines outnumber the others, but on a host that never lists, each
// create and delete would grow it for good (~150 bytes a container).  Far above
// what a rewritten index holds (~100,000 containers).
constexpr off_t kRewriteBytes = 16 << 20;

// Appends `line` under a shared flock (a rebuild holds it exclusively).  Without
// an index there is nothing to do; when the append fails the index is removed,
// so that the next `list` rebuilds it rather than miss the change.  True when
// the index has grown past kRewriteBytes: the caller writes it again.
bool append(const std::string& root, const std::string& line);

}  // namespace crunlite::state::index
