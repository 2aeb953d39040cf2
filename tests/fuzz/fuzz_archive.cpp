// An image archive's outer tar (hostile), read in place as `image load` reads
// it: TarIndex indexes it, then the files a load looks for are read through
// their ranges (documents whole, a blob through LayerStream).  Every range must
// lie inside the archive; anything but crunlite::Error is a bug.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/image/stream.hpp"
#include "crunlite/image/tar_index.hpp"
#include "crunlite/sys/fd.hpp"

using namespace crunlite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    sys::UniqueFd file(::memfd_create("archive", MFD_CLOEXEC));
    if (!file || ::write(file.get(), data, size) != static_cast<ssize_t>(size)) std::abort();
    try {
        auto index = image::TarIndex::open(file.get(), "archive", 10000);
        if (!index) return 0;  // compressed: unpacked to a directory instead
        for (const char* name : {"index.json", "manifest.json", "oci-layout", "blobs/sha256/a", "layer.tar"}) {
            const image::TarIndex::Entry* e = index->find(name);
            if (!e || e->type != S_IFREG) continue;
            if (e->offset < 0 || e->size > size || static_cast<uint64_t>(e->offset) > size - e->size) std::abort();
            image::BlobInput in = index->input(*e);
            image::LayerStream stream(in.fd.get(), name, in.offset, in.length);
            stream.limit(16 << 20, 200, 1 << 20);
            char buf[4096];
            while (stream.read(buf, sizeof buf) > 0) {}
        }
    } catch (const Error&) {
    }
    return 0;
}
