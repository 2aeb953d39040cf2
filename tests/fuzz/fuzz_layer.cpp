// A layer blob (hostile): gzip/zstd/plain sniffing and decompression with its
// bounds, then unpacking into a fresh directory (whiteouts, devices as root,
// links, metadata).  Nothing may be written outside that directory; anything
// but crunlite::Error is a bug.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/image/layer.hpp"
#include "crunlite/image/stream.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"

using namespace crunlite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A plain array, not a std::string: it must outlive static destructors,
    // since libFuzzer ends with exit() and the directory goes with it.
    static char t[] = "/tmp/crl-fuzz-layer-XXXXXX";
    static const std::string base = [] {
        if (!::mkdtemp(t)) std::abort();
        std::atexit([] { ::rmdir(t); });
        return std::string(t);
    }();
    sys::UniqueFd blob(::memfd_create("layer", MFD_CLOEXEC));
    if (!blob || ::write(blob.get(), data, size) != static_cast<ssize_t>(size)) std::abort();
    ::lseek(blob.get(), 0, SEEK_SET);
    if (::mkdir((base + "/l").c_str(), 0755) < 0) std::abort();
    try {
        sys::UniqueFd root(::open((base + "/l").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        image::LayerStream stream(blob.get(), "layer");
        stream.limit(64 << 20, 200, 1 << 20);
        image::UnpackOptions o = ::geteuid() == 0 ? image::UnpackOptions{} : image::UnpackOptions::unprivileged();
        o.limits.max_bytes = 32 << 20;
        o.limits.max_entries = 10000;
        o.name = "layer";
        image::unpack_layer(root.get(), [&](void* b, size_t n) { return stream.read(b, n); }, o);
        stream.drain();
    } catch (const Error&) {
    }
    sys::UniqueFd dir(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (sys::remove_tree_at(dir.get(), "l") < 0) std::abort();
    return 0;
}
