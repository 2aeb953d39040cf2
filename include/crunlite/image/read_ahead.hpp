// A reader run ahead of its consumer in a thread of its own: a layer is
// decompressed and hashed (LayerStream) while the tar reader unpacks what came
// before, as gzip runs beside tar in `tar -xz`.  At most `slots` chunks are
// read ahead, so memory and the bytes read past what the consumer needs stay
// bounded.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace crunlite::image {

class ReadAhead {
public:
    // Up to `len` bytes into `buf`; 0 at the end.  Called on the reader's
    // thread only; what it throws reaches the consumer after the bytes read
    // before it.
    using Fill = std::function<size_t(void* buf, size_t len)>;

    // Starts the reader.  `abort` (optional) is called when the consumer gives
    // up (destruction without finish()) while the reader has not seen its input
    // end, before waiting for it: it must make a `fill` blocked on a pipe
    // return (say, stop the process writing it).
    explicit ReadAhead(Fill fill, std::function<void()> abort = {}, size_t chunk = 256 * 1024, size_t slots = 4);
    ~ReadAhead();
    ReadAhead(const ReadAhead&) = delete;
    ReadAhead& operator=(const ReadAhead&) = delete;

    // The consumer: up to `len` bytes of what `fill` produced, in order; 0 at
    // its end; rethrows what `fill` threw once the bytes before it are read.
    size_t read(void* buf, size_t len);

    // Stops the reader once its current `fill` returns, and waits for it.
    // Returns the bytes it read that read() has not handed out (for a layer:
    // read past the end of its tar archive).  After finish(), what `fill`
    // reads from is the caller's again.
    uint64_t finish();

private:
    struct Chunk {
        std::vector<char> data;
        size_t len = 0;
    };
    void run();

    Fill fill_;
    std::function<void()> abort_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Chunk> chunks_;
    std::deque<size_t> full_, free_;  // indexes into chunks_
    size_t pos_ = 0;                  // read() is this far into chunks_[full_.front()]
    bool ended_ = false;              // the reader is done: end of input or an error
    std::atomic<bool> stopping_ = false;  // set under mu_ (the waits' predicates read it)
    std::exception_ptr error_;
    std::thread thread_;
};

}  // namespace crunlite::image
