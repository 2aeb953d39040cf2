#include "crunlite/image/read_ahead.hpp"

#include <algorithm>
#include <cstring>

namespace crunlite::image {

ReadAhead::ReadAhead(Fill fill, std::function<void()> abort, size_t chunk, size_t slots)
    : fill_(std::move(fill)), abort_(std::move(abort)), chunks_(std::max<size_t>(slots, 1)) {
    for (size_t i = 0; i < chunks_.size(); ++i) {
        chunks_[i].data.resize(std::max<size_t>(chunk, 1));
        free_.push_back(i);
    }
    thread_ = std::thread([this] { run(); });
}

ReadAhead::~ReadAhead() {
    if (!thread_.joinable()) return;
    bool ended;
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        ended = ended_;
        cv_.notify_all();
    }
    // A reader that saw its input end needs no abort (for a pull: the helper
    // that failed on its own keeps its error for Parts::layer_end).
    if (!ended && abort_) abort_();
    thread_.join();
}

// The reader: fills a free chunk whole (or to the end of the input), hands it
// over, and goes on until the input ends, `fill` throws, or finish() or the
// destructor stops it.
void ReadAhead::run() {
    for (;;) {
        size_t slot;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !free_.empty(); });
            if (stopping_) return;
            slot = free_.front();
            free_.pop_front();
        }
        Chunk& c = chunks_[slot];
        c.len = 0;
        bool end = false;
        std::exception_ptr error;
        try {
            while (c.len < c.data.size() && !stopping_) {
                size_t n = fill_(c.data.data() + c.len, c.data.size() - c.len);
                if (n == 0) {
                    end = true;
                    break;
                }
                c.len += n;
            }
        } catch (...) {
            error = std::current_exception();
        }
        std::lock_guard lock(mu_);
        if (c.len) full_.push_back(slot);
        else free_.push_back(slot);
        if (end || error) {
            ended_ = true;
            error_ = error;
        }
        cv_.notify_all();
        if (ended_) return;
    }
}

size_t ReadAhead::read(void* buf, size_t len) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !full_.empty() || ended_; });
    if (full_.empty()) {
        if (error_) std::rethrow_exception(error_);
        return 0;
    }
    const Chunk& c = chunks_[full_.front()];
    size_t n = std::min(len, c.len - pos_);
    std::memcpy(buf, c.data.data() + pos_, n);
    pos_ += n;
    if (pos_ == c.len) {
        free_.push_back(full_.front());
        full_.pop_front();
        pos_ = 0;
        cv_.notify_all();
    }
    return n;
}

uint64_t ReadAhead::finish() {
    if (!thread_.joinable()) return 0;
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        cv_.notify_all();
    }
    thread_.join();
    uint64_t unread = 0;
    for (size_t slot : full_) unread += chunks_[slot].len;
    return unread - pos_;
}

}  // namespace crunlite::image
