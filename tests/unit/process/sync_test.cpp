// SyncSocket: what the launcher's stages rely on beyond the socket itself.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "crunlite/base/error.hpp"
#include "crunlite/process/sync.hpp"
#include "crunlite/sys/fd.hpp"

using namespace crunlite;
using namespace std::chrono_literals;

TEST_CASE("sync: sends held by a gate wait for its EOF, then go as usual", "[process][sync]") {
    auto [parent, child] = process::SyncSocket::make_pair();
    sys::Pipe gate = sys::Pipe::make();
    child.hold_sends_until_eof(std::move(gate.read));
    std::atomic<bool> sent{false};
    std::thread sender([&, &child = child] {
        child.send(process::MsgType::Ready);
        sent = true;
        child.send(process::MsgType::Error, "0 after");  // the gate passed once is gone
    });
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(sent);  // held while the pipe's write end is open
    gate.write.reset();
    sender.join();
    CHECK(sent);
    process::Message m;
    REQUIRE(parent.receive(m));
    CHECK(m.type == process::MsgType::Ready);
    REQUIRE(parent.receive(m));
    CHECK(m.type == process::MsgType::Error);
}

TEST_CASE("sync: what a peer sent before it closed with our messages unread is still read", "[process][sync]") {
    auto [parent, child] = process::SyncSocket::make_pair();
    child.send_error(Error(ENOTDIR, "chdir to cwd"));
    parent.send(process::MsgType::Ignored, "0");  // never read: the child ends first
    child.close();
    CHECK_THROWS_WITH(parent.expect(process::MsgType::Ready, "set up container"), "chdir to cwd");
    process::Message m;
    CHECK_FALSE(parent.receive(m));  // then EOF
}

TEST_CASE("sync: an error keeps its code and kind across the socket", "[process][sync]") {
    auto [parent, child] = process::SyncSocket::make_pair();
    for (auto kind : {Error::Kind::Other, Error::Kind::CommandNotFound, Error::Kind::CommandNotExecutable}) {
        child.send_error(Error(EACCES, "exec: \"/x\": stat /x: permission denied", kind));
        try {
            parent.expect(process::MsgType::Ready, "set up container");
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.code() == EACCES);
            CHECK(e.kind() == kind);
            CHECK(e.message() == "exec: \"/x\": stat /x: permission denied");
        }
    }
    child.send(process::MsgType::Error, "13? odd kind");  // an unknown kind is no kind
    try {
        parent.expect(process::MsgType::Ready, "set up container");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK((e.code() == 13 && e.kind() == Error::Kind::Other && e.message() == "odd kind"));
    }
}
