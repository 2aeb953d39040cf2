#include <catch2/catch.hpp>

#include "crunlite/app/image_spec.hpp"
#include "crunlite/app/run_flags.hpp"
#include "crunlite/base/error.hpp"

using namespace crunlite;
using app::DnsFlags;
using Strings = std::vector<std::string>;

namespace {

// The message of the Error `f` throws ("" when it throws none).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("--tmpfs: podman's defaults, then the options given, tmpcopyup unless notmpcopyup", "[run_flags]") {
    spec::Mount m = app::parse_tmpfs("/run/");
    CHECK(m.destination == "/run");
    CHECK(m.type == "tmpfs");
    CHECK(m.options == Strings{"rw", "noexec", "nosuid", "nodev", "tmpcopyup"});
    CHECK(app::parse_tmpfs("/x:exec,size=1m,mode=1777").options ==
          Strings{"rw", "noexec", "nosuid", "nodev", "exec", "size=1m", "mode=1777", "tmpcopyup"});
    CHECK(app::parse_tmpfs("/x:notmpcopyup").options == Strings{"rw", "noexec", "nosuid", "nodev"});
    CHECK_THAT(error_of([] { app::parse_tmpfs("x"); }), Catch::Contains("--tmpfs `x`: the destination must be an absolute path"));
    CHECK_THAT(error_of([] { app::parse_tmpfs("//"); }), Catch::Contains("cannot mount a tmpfs over /"));
    CHECK_THAT(error_of([] { app::parse_tmpfs("/x:size=1m,,ro"); }), Catch::Contains("empty or blank option"));
    CHECK_THAT(error_of([] { app::parse_tmpfs("/x:a b"); }), Catch::Contains("empty or blank option"));
    // Places cleaned as filepath.Clean does (duplicates are found by them).
    CHECK(app::parse_tmpfs("//data/").destination == "/data");
    CHECK(app::parse_tmpfs("/x/../data/./y").destination == "/data/y");
    CHECK_THAT(error_of([] { app::parse_tmpfs("/x/.."); }), Catch::Contains("cannot mount a tmpfs over /"));
    // The runtime's own mounts stay; /dev/shm may be replaced.
    for (const char* own : {"/proc", "/sys", "/sys/fs/cgroup/", "/dev", "/dev/pts", "/dev/mqueue"})
        CHECK_THAT(error_of([&] { app::parse_tmpfs(own); }), Catch::Contains("is the runtime's own mount"));
    CHECK(app::parse_tmpfs("/dev/shm:size=1g").destination == "/dev/shm");
    // A tmpfs's options, checked before anything starts.
    CHECK(app::parse_tmpfs("/x:ro,exec,noatime,size=10%,nr_inodes=1k,mode=0700,uid=1,gid=2,huge=within_size")
              .options.size() == 4 + 9 + 1);
    CHECK(app::parse_tmpfs("/x:mode=01777").options[4] == "mode=01777");
    for (auto [opt, words] : std::vector<std::pair<const char*, const char*>>{
             {"bogus", "unknown tmpfs option `bogus`"}, {"size=-1", "invalid value in `size=-1`"},
             {"mode=999", "invalid value in `mode=999`"}, {"mode=17777", "invalid value"}, {"mode=", "invalid value"},
             {"uid=x", "invalid value in `uid=x`"}, {"huge=sometimes", "invalid value"}}) {
        std::string text = std::string("/x:") + opt;
        INFO(text);
        CHECK_THAT(error_of([&text] { app::parse_tmpfs(text); }), Catch::Contains(std::string("--tmpfs `") + text + "`: " + words));
    }
}

TEST_CASE("--add-host: NAME:IP, IPv6 bare or bracketed", "[run_flags]") {
    CHECK(app::hosts_entry("db:10.0.0.1", "") == "10.0.0.1\tdb\n");
    CHECK(app::hosts_entry("v6:fd00::1", "") == "fd00::1\tv6\n");
    CHECK(app::hosts_entry("v6:[::1]", "") == "::1\tv6\n");
    CHECK_THAT(error_of([] { app::hosts_entry("db", ""); }), Catch::Contains("want NAME:IP"));
    CHECK_THAT(error_of([] { app::hosts_entry(":10.0.0.1", ""); }), Catch::Contains("want NAME:IP"));
    CHECK_THAT(error_of([] { app::hosts_entry("a b:10.0.0.1", ""); }), Catch::Contains("want NAME:IP"));
    CHECK_THAT(error_of([] { app::hosts_entry("db:10.0.0", ""); }), Catch::Contains("`10.0.0` is not an IP address"));
    CHECK_THAT(error_of([] { app::hosts_entry("db:host-gateway", ""); }),
               Catch::Contains("host-gateway needs --network slirp4netns or host"));
    CHECK(app::hosts_entry("db:host-gateway", "192.0.2.7") == "192.0.2.7\tdb\n");
}

TEST_CASE("--dns, --dns-search, --dns-option replace their lines of the base resolv.conf", "[run_flags]") {
    const std::string base = "# generated\nnameserver 10.0.0.2\nnameserver\t10.0.0.3\nsearch a.example b.example\n"
                             "options ndots:1\nsortlist 10.0.0.0\n";
    CHECK(app::resolv_conf(base, DnsFlags{}) == base);
    CHECK(app::resolv_conf(base, DnsFlags{{"192.0.2.1", "2001:db8::1"}, {}, {}}) ==
          "nameserver 192.0.2.1\nnameserver 2001:db8::1\nsearch a.example b.example\noptions ndots:1\n");
    CHECK(app::resolv_conf(base, DnsFlags{{}, {"."}, {"edns0", "rotate"}}) ==
          "nameserver 10.0.0.2\nnameserver 10.0.0.3\noptions edns0 rotate\n");
    CHECK(app::resolv_conf("", DnsFlags{{}, {"x.example"}, {}}) == "search x.example\n");
    // A network's own forwarder first, then what of the host's the container reaches, as podman's.
    const std::string host = "nameserver 127.0.0.53\nnameserver ::1\nnameserver 10.0.0.3\nnameserver 2001:db8::53\n"
                             "search old.example\nsearch corp.example\noptions edns0\noptions trust-ad\n";
    CHECK(app::network_resolv_conf(host, "10.0.2.3", false) ==
          "nameserver 10.0.2.3\nnameserver 10.0.0.3\nsearch corp.example\noptions edns0 trust-ad\n");
    CHECK(app::network_resolv_conf(host, "169.254.1.1", true) ==
          "nameserver 169.254.1.1\nnameserver 10.0.0.3\nnameserver 2001:db8::53\nsearch corp.example\n"
          "options edns0 trust-ad\n");
    CHECK(app::network_resolv_conf("", "169.254.1.1", true) == "nameserver 169.254.1.1\n");
    CHECK(app::resolv_conf(app::network_resolv_conf(host, "10.0.2.3", false), DnsFlags{{"1.1.1.1"}, {}, {}}) ==
          "nameserver 1.1.1.1\nsearch corp.example\noptions edns0 trust-ad\n");
    CHECK_THAT(error_of([&] { app::resolv_conf(base, DnsFlags{{"dns.example"}, {}, {}}); }),
               Catch::Contains("--dns `dns.example`: not an IP address"));
    CHECK_THAT(error_of([&] { app::resolv_conf(base, DnsFlags{{}, {"a b"}, {}}); }), Catch::Contains("--dns-search"));
    for (const char* bad : {"-bad", "a..b", "a-.example", "ex ample", ".a"})
        CHECK_THAT(error_of([&] { app::resolv_conf(base, DnsFlags{{}, {bad}, {}}); }),
                   Catch::Contains("--dns-search `" + std::string(bad) + "`: not a domain"));
    CHECK(app::resolv_conf("", DnsFlags{{}, {"corp.example.", "x_y.example"}, {}}) ==
          "search corp.example. x_y.example\n");
    CHECK_THAT(error_of([&] { app::resolv_conf(base, DnsFlags{{}, {}, {""}}); }), Catch::Contains("--dns-option"));
    // --dns none: the image's resolv.conf, alone.
    CHECK_FALSE(app::keeps_image_resolv_conf(DnsFlags{}));
    CHECK_FALSE(app::keeps_image_resolv_conf(DnsFlags{{"192.0.2.1"}, {}, {}}));
    CHECK(app::keeps_image_resolv_conf(DnsFlags{{"none"}, {}, {}}));
    for (const DnsFlags& mixed : {DnsFlags{{"none", "192.0.2.1"}, {}, {}}, DnsFlags{{"none"}, {"x.example"}, {}},
                                  DnsFlags{{"none"}, {}, {"ndots:1"}}})
        CHECK_THAT(error_of([&] { app::keeps_image_resolv_conf(mixed); }),
                   Catch::Contains("--dns none writes no resolv.conf"));
}

TEST_CASE("--ulimit NAME=SOFT[:HARD] as Docker's", "[run_flags]") {
    CHECK(app::parse_ulimit("nofile=1024:2048") == spec::Rlimit{"RLIMIT_NOFILE", 1024, 2048});
    CHECK(app::parse_ulimit("nproc=50") == spec::Rlimit{"RLIMIT_NPROC", 50, 50});
    CHECK(app::parse_ulimit("core=-1") == spec::Rlimit{"RLIMIT_CORE", ~uint64_t{0}, ~uint64_t{0}});
    CHECK(app::parse_ulimit("memlock=64:-1") == spec::Rlimit{"RLIMIT_MEMLOCK", 64, ~uint64_t{0}});
    CHECK_THAT(error_of([] { app::parse_ulimit("nofile"); }), Catch::Contains("want NAME=SOFT[:HARD]"));
    CHECK_THAT(error_of([] { app::parse_ulimit("NOFILE=1"); }), Catch::Contains("invalid ulimit type `NOFILE`"));
    CHECK_THAT(error_of([] { app::parse_ulimit("nofile=-1:5"); }), Catch::Contains("soft limit must not be above"));
    CHECK_THAT(error_of([] { app::parse_ulimit("nofile=1:x"); }), Catch::Contains("`x` is not a limit"));
    CHECK_THAT(error_of([] { app::parse_ulimit("nofile=-2"); }), Catch::Contains("`-2` is not a limit"));
    std::vector<spec::Rlimit> limits = {{"RLIMIT_NOFILE", 1024, 1024}};
    app::set_rlimit(limits, {"RLIMIT_NPROC", 5, 5});
    app::set_rlimit(limits, {"RLIMIT_NOFILE", 10, 20});
    CHECK(limits == std::vector<spec::Rlimit>{{"RLIMIT_NPROC", 5, 5}, {"RLIMIT_NOFILE", 10, 20}});
}

TEST_CASE("--sysctl: namespaced ones only, net.* not on the host's network", "[run_flags]") {
    using KV = std::pair<std::string, std::string>;
    CHECK(app::parse_sysctl("net.ipv4.ip_forward=1", false) == KV{"net.ipv4.ip_forward", "1"});
    CHECK(app::parse_sysctl("kernel.shmmax=1000", true) == KV{"kernel.shmmax", "1000"});
    CHECK(app::parse_sysctl("fs.mqueue.msg_max=20", true) == KV{"fs.mqueue.msg_max", "20"});
    CHECK_THAT(error_of([] { app::parse_sysctl("net.ipv4.ip_forward=1", true); }), Catch::Contains("not allowed with --network host"));
    CHECK_THAT(error_of([] { app::parse_sysctl("vm.swappiness=1", false); }),
               Catch::Contains("--sysctl `vm.swappiness=1`: vm.swappiness is not in a separate kernel namespace"));
    CHECK_THAT(error_of([] { app::parse_sysctl("kernel.hostname=x", false); }), Catch::Contains("is not allowed (--hostname"));
    CHECK_THAT(error_of([] { app::parse_sysctl("kernel.domainname=x", false); }), Catch::Contains("is not allowed"));
}

TEST_CASE("--sysctl KEY=VALUE and --label KEY[=VALUE]", "[run_flags]") {
    using KV = std::pair<std::string, std::string>;
    CHECK(app::parse_key_value("net.ipv4.ping_group_range=0 0", "--sysctl", false) == KV{"net.ipv4.ping_group_range", "0 0"});
    CHECK(app::parse_key_value("a=b=c", "--sysctl", false) == KV{"a", "b=c"});
    CHECK(app::parse_key_value("team", "--label", true) == KV{"team", ""});
    CHECK_THAT(error_of([] { app::parse_key_value("kernel.x", "--sysctl", false); }), Catch::Contains("--sysctl `kernel.x`: want KEY=VALUE"));
    CHECK_THAT(error_of([] { app::parse_key_value("=v", "--label", true); }), Catch::Contains("want KEY[=VALUE]"));
    CHECK_THAT(error_of([] { app::parse_key_value("a b=v", "--label", true); }), Catch::Contains("want KEY[=VALUE]"));
}

TEST_CASE("--group-add: names from the container's group file, or gids", "[run_flags]") {
    const std::string group = "root:x:0:\nbad:x:nan:\nbad:x:7:\nwheel:x:10:app\n";
    CHECK(app::resolve_groups({"wheel", "5000", "root", "bad"}, group) == std::vector<uint32_t>{10, 5000, 0, 7});
    CHECK(app::resolve_groups({"42"}, std::nullopt) == std::vector<uint32_t>{42});
    CHECK_THAT(error_of([&] { app::resolve_groups({"nosuch"}, group); }),
               Catch::Contains("--group-add: unable to find group nosuch: no matching entries in group file"));
    CHECK_THAT(error_of([] { app::resolve_groups({"wheel"}, std::nullopt); }), Catch::Contains("unable to find group wheel"));
}

TEST_CASE("--mount: Docker's keys to -v's and --tmpfs's mounts", "[run_flags]") {
    app::MountFlag m = app::parse_mount("type=bind,source=/srv/data,target=/data,readonly", "/cwd");
    REQUIRE(m.volume);
    CHECK(m.volume->kind == app::VolumeSpec::Kind::Bind);
    CHECK((m.volume->source == "/srv/data" && m.volume->destination == "/data" && m.volume->readonly));
    m = app::parse_mount("type=bind,src=./rel,dst=/d,ro=false", "/cwd");
    CHECK((m.volume->source == "/cwd/rel" && !m.volume->readonly));
    m = app::parse_mount("src=cache,dst=/cache,volume-nocopy", "/cwd");  // type=volume is the default
    CHECK((m.volume->kind == app::VolumeSpec::Kind::Named && m.volume->source == "cache" && !m.volume->copy));
    m = app::parse_mount("Type=volume,Destination=/anon,readonly=1", "/cwd");
    CHECK((m.volume->kind == app::VolumeSpec::Kind::Anonymous && m.volume->destination == "/anon" && m.volume->readonly));
    m = app::parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770,ro", "/cwd");
    REQUIRE(m.tmpfs);
    CHECK(m.tmpfs->options == Strings{"rw", "noexec", "nosuid", "nodev", "size=64m", "mode=1770", "ro", "tmpcopyup"});
    CHECK(app::parse_mount("type=tmpfs,dst=/t,notmpcopyup", "/cwd").tmpfs->options == Strings{"rw", "noexec", "nosuid", "nodev"});
    CHECK(app::parse_mount("type=tmpfs,dst=/t,tmpcopyup=false", "/cwd").tmpfs->options.back() == "nodev");
    CHECK(app::parse_mount("dst=//v/", "/cwd").volume->destination == "/v");
    m = app::parse_mount("type=bind,src=/a,dst=/b,readonly,rw,bind-propagation=rslave,bind-nonrecursive,"
                         "relabel=private", "/cwd");
    CHECK((!m.volume->readonly && !m.volume->recursive && m.volume->relabel && m.volume->options == Strings{"rslave"}));
    for (auto [text, words] : std::vector<std::pair<const char*, const char*>>{
             {"type=bind,dst=/x", "a bind needs a source"},
             {"type=bind,src=name,dst=/x", "a bind's source is a path"},
             {"type=volume,src=/abs,dst=/x", "a volume's source is a volume name"},
             {"src=v", "a destination (dst, destination or target) is required"},
             {"type=npipe,dst=/x", "type `npipe`: want bind, volume or tmpfs"},
             {"dst=/x,readonly=yes", "readonly wants true or false, not `yes`"},
             {"type=tmpfs,src=x,dst=/x", "a tmpfs has no source"},
             {"type=bind,src=/a,dst=/x,volume-nocopy", "volume-nocopy is for type=volume"},
             {"dst=/x,tmpfs-size=1m", "tmpfs-size and tmpfs-mode are for type=tmpfs"},
             {"dst=/x,volume-driver=local", "unknown or unsupported key `volume-driver`"},
             {"dst=/x,type", "`type` wants KEY=VALUE"},
             {"src=/a:b,dst=/x,type=bind", "a path with \":\" is not supported"},
             {"dst=relative", "destination must be absolute"},
             {"type=tmpfs,dst=/t,tmpfs-size=-1", "invalid value in `size=-1`"},
             {"type=tmpfs,dst=/dev", "/dev is the runtime's own mount"},
             {"dst=/v,notmpcopyup", "notmpcopyup is for type=tmpfs"},
             {"type=bind,src=/a,dst=/x,bind-propagation=up", "bind-propagation `up`: want [r]shared"},
             {"src=v,dst=/x,bind-propagation=shared", "bind-propagation and bind-nonrecursive are for type=bind"},
             {"type=bind,src=/a,dst=/x,relabel=z", "relabel `z`: want shared or private"},
             {"type=tmpfs,dst=/x,relabel=shared", "relabel is for type=bind and type=volume"}}) {
        INFO(text);
        const char* mount = text;
        CHECK_THAT(error_of([mount] { app::parse_mount(mount, "/cwd"); }), Catch::Contains(words));
    }
}

TEST_CASE("--device HOST[:CONTAINER][:PERMS]", "[run_flags]") {
    auto d = app::parse_device("/dev/fuse");
    CHECK((d.host == "/dev/fuse" && d.container == "/dev/fuse" && d.access == "rwm"));
    d = app::parse_device("/dev/fuse:r");
    CHECK((d.container == "/dev/fuse" && d.access == "r"));
    d = app::parse_device("/dev/sda:/dev/xvda");
    CHECK((d.container == "/dev/xvda" && d.access == "rwm"));
    d = app::parse_device("/dev/sda:/dev/xvda:rw");
    CHECK((d.container == "/dev/xvda" && d.access == "rw"));
    CHECK_THAT(error_of([] { app::parse_device("/dev/a:/dev/b:rwx"); }), Catch::Contains("permissions `rwx`"));
    CHECK_THAT(error_of([] { app::parse_device("/dev/a:/dev/b:r:w"); }), Catch::Contains("want HOST[:CONTAINER][:PERMS]"));
    CHECK_THAT(error_of([] { app::parse_device("dev/a"); }), Catch::Contains("the paths must be absolute"));
    CHECK_THAT(error_of([] { app::parse_device("/dev/a:b"); }), Catch::Contains("the paths must be absolute"));
    CHECK_THAT(error_of([] { app::parse_device(":/dev/a"); }), Catch::Contains("want HOST"));
}
