#!/usr/bin/env python3
"""linux.netDevices (runtime-spec 1.3): host interfaces moved into the container.

As root every runtime invocation runs inside a network namespace the test makes
itself (unshare --net) with its own virtual devices, so the host's network is
never touched; the devices die with those namespaces.  Rootless only the refusal
is checked (no privilege over any network namespace to begin with).

Run: test_netdevices.py --as root|user [-k NAME] [-v]   (see harness.py)
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, check_in, skip  # noqa: E402

# Makes interface $1: dummy where the kernel has it, else ifb, else one end of a veth pair.
MK = ('mk() { ip link add "$1" type dummy 2>/dev/null || ip link add "$1" type ifb 2>/dev/null'
      ' || ip link add "$1" type veth peer name "${1}p"; }')
AFTER = "== after =="


def _in_netns(h, b, setup, after=""):
    """Runs the bundle with the runtime in a fresh network namespace prepared by the shell
    `setup`; `after` runs there once the runtime has exited, its output after AFTER."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        skip("unshare(1) or ip(8) not installed")
    b.save()
    argv = h.rt_argv("run", "--bundle", b.path, h.new_id("nd"))
    script = (f'{MK}; set -e; {setup or ":"}; set +e; "$@"; rc=$?; echo "{AFTER}"; '
              f'{after or ":"}; exit $rc')
    return h.cmd(["unshare", "--net", "sh", "-c", script, "sh"] + argv)


def _run(h, b, setup="", after=""):
    """Root: in a private network namespace.  Rootless: directly (nothing it could move)."""
    if h.rootless:
        return h.run_bundle(b)
    return _in_netns(h, b, setup, after)


def _fails(h, r, expect):
    check(r.rc != 0, f"the runtime accepted the config\n{r!r}")
    check_in(expect, r.err, "error message")
    check_eq(h.container_ids(), [], "containers left behind")


def _bundle(h, devices, args=("true",)):
    b = h.bundle(list(args))
    b.linux["netDevices"] = devices
    return b


def _link(text, name):
    """The flags (["BROADCAST", "UP", ...]) of interface `name` in `ip -o link show` output,
    or None when it is not listed ("2: eth9: <...>", a veth end "2: eth9@if3: <...>")."""
    for line in text.splitlines():
        f = line.split()
        if len(f) > 2 and f[2].startswith("<") and f[1].rstrip(":").split("@")[0] == name:
            return f[2].strip("<>").split(",")
    return None


def _ipv6():
    return os.path.exists("/proc/net/if_inet6")


# ---- moving ---------------------------------------------------------------------------------


def test_moved_renamed_with_addresses_and_up(h):
    if h.rootless:
        skip("moving a host device needs root")
    b = _bundle(h, {"crl0": {"name": "eth9"}, "crl1": {}},
                ["sh", "-c", "ip -o addr show; echo ==; ip -o link show"])
    setup = ("mk crl0; ip addr add 10.213.7.1/24 dev crl0; ip link set crl0 up; "
             "mk crl1; ip addr add 10.213.8.1/32 peer 10.213.8.2 dev crl1")
    if _ipv6():
        setup += "; ip -6 addr add fd00:213::1/64 dev crl1 nodad"
    r = _in_netns(h, b, setup, after="ip -o link show")
    check_eq(r.rc, 0, f"run with two devices\n{r!r}")
    inside, _, outside = r.out.partition(AFTER)
    addrs, _, links = inside.partition("==")
    by_dev = {}
    for line in addrs.splitlines():
        f = line.split()
        if len(f) > 1:
            by_dev.setdefault(f[1], []).append(line)
    # crl0 is there as eth9 only, with its address, and up as it was on the host.
    check(_link(inside, "crl0") is None, f"crl0 still has its host name in the container:\n{inside}")
    check_in("inet 10.213.7.1/24", " ".join(by_dev.get("eth9", [])), "eth9's addresses")
    eth9 = _link(links, "eth9")
    check(eth9 is not None and "UP" in eth9, f"eth9 is not up in the container:\n{links}")
    # crl1 keeps its name, its point-to-point and IPv6 addresses, and stays down.
    crl1_addrs = " ".join(by_dev.get("crl1", []))
    check_in("inet 10.213.8.1 peer 10.213.8.2/32", crl1_addrs, "crl1's addresses")
    if _ipv6():
        check_in("inet6 fd00:213::1/64", crl1_addrs, "crl1's IPv6 address")
    crl1 = _link(links, "crl1")
    check(crl1 is not None and "UP" not in crl1, f"crl1 was down on the host, up in the container:\n{links}")
    # Neither is left in the runtime's namespace (virtual: destroyed with the container's).
    check(all(_link(outside, n) is None for n in ("crl0", "crl1", "eth9")),
          f"devices back in the runtime's namespace:\n{outside}")


def test_empty_object_keeps_the_name(h):
    if h.rootless:
        skip("moving a host device needs root")
    b = _bundle(h, {"crl2": {"name": ""}}, ["cat", "/sys/class/net/crl2/address"])
    r = _in_netns(h, b, "mk crl2", after="ip -o link show")
    check_eq(r.rc, 0, f"run\n{r!r}")
    inside, _, outside = r.out.partition(AFTER)
    check(len(inside.strip()) == 17, f"no MAC address of crl2 in the container: {inside!r}")
    check(_link(outside, "crl2") is None, f"crl2 still in the runtime's namespace:\n{outside}")


def test_with_a_user_namespace_too(h):
    # The container's network namespace then belongs to its user namespace, and the
    # init is not dumpable: host root still opens /proc/PID/ns/net and moves into it.
    if h.rootless:
        skip("moving a host device needs root")
    b = _bundle(h, {"crl0": {"name": "eth9"}}, ["sh", "-c", "ip -o addr show; ip -o link show"])
    b.set_namespace("user")
    b.linux["uidMappings"] = [{"containerID": 0, "hostID": 400000, "size": 65536}]
    b.linux["gidMappings"] = [{"containerID": 0, "hostID": 400000, "size": 65536}]
    os.chown(b.rootfs, 400000, 400000)
    r = _in_netns(h, b, "mk crl0; ip addr add 10.213.7.1/24 dev crl0; ip link set crl0 up")
    check_eq(r.rc, 0, f"run with a user namespace\n{r!r}")
    inside = r.out.partition(AFTER)[0]
    check_in("eth9    inet 10.213.7.1/24", inside, "eth9's address")
    check("UP" in (_link(inside, "eth9") or []), f"eth9 is not up:\n{inside}")


# ---- refused configs ----------------------------------------------------------------------


def test_needs_a_new_network_namespace(h):
    b = _bundle(h, {"crl0": {}})
    b.remove_namespace("network")
    _fails(h, _run(h, b, "mk crl0"), "linux.netDevices: needs a new network namespace")
    b.set_namespace("network", f"/proc/{os.getpid()}/ns/net")
    _fails(h, _run(h, b, "mk crl0"), "linux.netDevices: needs a new network namespace, not one joined by path")


def test_invalid_names(h):
    for devices, expect in (
            ({"crl0": {"name": "a/b"}}, "linux.netDevices.crl0.name: invalid interface name `a/b`"),
            ({"crl0": {"name": "abcdefghijklmnop"}}, "linux.netDevices.crl0.name: invalid interface name"),
            ({"crl0": {"name": "lo"}}, "linux.netDevices.crl0.name: `lo` is taken"),
            ({"crl:0": {}}, "linux.netDevices.crl:0: invalid interface name"),
            ({"crl0": "eth9"}, "linux.netDevices.crl0: expected an object")):
        _fails(h, _run(h, _bundle(h, devices), "mk crl0"), expect)


def test_duplicate_names_in_the_container(h):
    b = _bundle(h, {"crl0": {"name": "crl1"}, "crl1": {}})
    _fails(h, _run(h, b, "mk crl0; mk crl1"),
           "linux.netDevices.crl1: `crl1` is also the name of linux.netDevices.crl0 in the container")


def test_missing_host_device_moves_nothing(h):
    if h.rootless:
        skip("moving a host device needs root")
    b = _bundle(h, {"crl0": {"name": "eth9"}, "nosuch0": {}})
    r = _in_netns(h, b, "mk crl0; ip addr add 10.213.7.1/24 dev crl0",
                  after="ip -o addr show dev crl0")
    _fails(h, r, "linux.netDevices.nosuch0: move into the container's network namespace: no such device")
    # Every device is looked up before any moves: crl0 is still where it was, address and all.
    check_in("inet 10.213.7.1/24", r.out.partition(AFTER)[2], "crl0 after the failed run")


def test_failure_after_a_move_leaves_no_container(h):
    if h.rootless:
        skip("moving a host device needs root")
    # A bridge may not change namespaces; "crl0" < "crlbr0", so crl0 has moved by then.
    b = _bundle(h, {"crl0": {}, "crlbr0": {}})
    r = _in_netns(h, b, "mk crl0; ip link add crlbr0 type bridge || exit 99", after="ip -o link show")
    if r.rc == 99:
        skip("no bridge support in this kernel")
    _fails(h, r, "linux.netDevices.crlbr0: move into the container's network namespace: invalid argument")
    outside = r.out.partition(AFTER)[2]
    # The init was killed, its namespace went, and a virtual device with it (the kernel's rule;
    # a physical one would return to the initial network namespace).
    check(_link(outside, "crl0") is None and _link(outside, "crlbr0") is not None,
          f"runtime's namespace after:\n{outside}")


def test_rootless_is_refused(h):
    if not h.rootless:
        skip("rootless only")
    b = _bundle(h, {"crl0": {}})
    _fails(h, h.run_bundle(b), "linux.netDevices: not supported rootless")


def test_features(h):
    r = h.rt("features")
    check_eq(r.rc, 0, f"features\n{r!r}")
    check_eq(r.json()["linux"].get("netDevices"), {"enabled": True}, "features linux.netDevices")


if __name__ == "__main__":
    harness.main(globals())
