#!/usr/bin/env python3
"""Command-line surface: help, global flags, `spec`, `run --config`, and the config
fields that are easiest to observe from the command line (personality, time
offsets, session keyring), plus running where rootless podman runs us: as uid 0
of a user namespace, with a config that asks for none."""

import json
import os
import shutil
import subprocess

import harness
from harness import check, check_eq, check_in, skip

COMMANDS = ("create", "start", "run", "state", "kill", "delete", "rm", "list", "port", "spec", "features")


def test_help_every_command(h):
    r = h.rt_ok("--help", root=False)
    for c in COMMANDS:
        check_in(f"  {c} ", r.out, "global --help lists the command")
        rc = h.rt_ok(c, "--help", root=False)
        check_in(f"Usage: {h.bin_name} {c}", rc.out, f"{c} --help")
    r = h.rt_fail("no-such-verb", expect="unknown command no-such-verb", root=False)
    check_eq(r.rc, 3, "an unknown command's exit code (runc's)")
    for verb in ("checkpoint", "restore"):  # runc's, which need CRIU: refused in plain words
        r = h.rt_fail(verb, "--image-path", "/x", "c1", root=False,
                      expect=f"{verb} is not supported: crun-lite has no CRIU support")
        check_eq(r.rc, 1, f"{verb}: an error, not an unknown command")
    h.rt_fail("run", "--no-such-flag", "x", expect="--no-such-flag")
    # runc's words for the number of arguments.
    for argv, words in ((["state"], '"state" requires exactly 1 argument(s)'),
                        (["state", "a", "b"], '"state" requires exactly 1 argument(s)'),
                        (["delete", "a", "b"], '"delete" requires exactly 1 argument(s)'),
                        (["events", "--stats", "a", "b"], '"events" requires exactly 1 argument(s)'),
                        (["kill"], '"kill" requires a minimum of 1 argument(s)'),
                        (["kill", "a", "TERM", "extra"], '"kill" requires a maximum of 2 argument(s)'),
                        (["ps"], '"ps" requires a minimum of 1 argument(s)'),
                        (["exec"], '"exec" requires a minimum of 1 argument(s)'),
                        (["list", "a"], '"list" requires exactly 0 argument(s)')):
        r = h.rt_fail(*argv, expect=words)
        check_eq(r.rc, 1, f"{argv}: exit status 1, as runc's")


def test_help_without_duplicates(h):
    """Every --help lists each section title and each option once (`run --help` printed
    "Options:" twice)."""
    import re
    top = h.rt_ok("--help", root=False).out
    verbs = re.findall(r"^  (\w+) ", top.split("Commands:")[1].split("Global options:")[0], re.M)
    check(len(verbs) >= 15, f"verbs in --help: {verbs}")
    check_eq(len(verbs), len(set(verbs)), f"each command listed once: {verbs}")
    for v in verbs:
        text = h.rt_ok(v, "--help", root=False).out
        titles = re.findall(r"^(\S[^\n]*):$", text, re.M)
        check_eq(len(titles), len(set(titles)), f"{v} --help: section titles {titles}")
        longs, shorts = _help_options(text)
        for opts in (longs, shorts):
            dup = sorted({o for o in opts if opts.count(o) > 1})
            check_eq(dup, [], f"{v} --help: options listed twice")
        check("\n\n\n" not in text, f"{v} --help: no run of blank lines\n{text}")
    run = h.rt_ok("run", "--help", root=False).out
    check_eq(run.count("\nOptions:\n"), 1, "run --help: one Options: title")
    check_in("\nImage options (with --image):\n", run, "run --help: the image options' title")


def test_global_flag_values(h):
    h.rt_fail("list", global_args=["--log-format", "xml"], expect="log-format")
    h.rt_fail("list", global_args=["--rootless", "maybe"], expect="--rootless")
    h.rt_fail("list", global_args=["--cgroup-manager", "cgroupv3"], expect="--cgroup-manager")
    for flags in (["--rootless", "auto"], ["--cgroup-manager", "cgroupfs"],
                  ["--cgroup-manager", "disabled"]):
        h.rt_ok("list", global_args=flags)
    # podman passes --cgroup-manager disabled together with run; it must simply work.
    b = h.bundle(["/probe", "exit", "0"])
    r = h.rt("--cgroup-manager", "disabled", "run", "--bundle", b.path, h.new_id(), root=True)
    check_eq(r.rc, 0, f"run with --cgroup-manager disabled\n{r!r}")


def test_debug_log_file_text_and_json(h):
    b = h.bundle(["/probe", "exit", "0"])
    log_txt = os.path.join(h.tmp, "debug.log")
    h.rt_ok("run", "--bundle", b.path, h.new_id(), global_args=["--debug", "--log", log_txt])
    lines = open(log_txt).read().splitlines()
    check(any("debug" in l and "init pid" in l for l in lines), f"debug lines in {lines}")
    log_json = os.path.join(h.tmp, "debug.json")
    h.rt_ok("run", "--bundle", b.path, h.new_id(),
            global_args=["--debug", "--log", log_json, "--log-format", "json"])
    objs = [json.loads(l) for l in open(log_json).read().splitlines()]
    check(objs, "json log is not empty")
    for o in objs:
        check_eq(sorted(o), ["level", "msg", "time"], f"json log keys of {o}")
    # Without --debug nothing is logged for a good run.
    quiet = os.path.join(h.tmp, "quiet.log")
    h.rt_ok("run", "--bundle", b.path, h.new_id(), global_args=["--log", quiet])
    check_eq(open(quiet).read(), "", "log without --debug")


def test_spec_writes_a_runnable_config(h):
    d = h.mkdtemp("spec")
    args = ["spec", "--rootless"] if h.rootless else ["spec"]
    h.cmd(h.rt_argv(*args, root=False), cwd=d)
    cfg = json.load(open(os.path.join(d, "config.json")))
    ns = [n["type"] for n in cfg["linux"]["namespaces"]]
    check_eq(cfg["root"]["path"], "rootfs", "root.path")
    check_eq(cfg["process"]["args"], ["sh"], "process.args")
    if h.rootless:
        check_in("user", ns, "rootless spec has a user namespace")
        check("network" not in ns, "rootless spec shares the network namespace")
        check_eq(cfg["linux"]["uidMappings"][0]["hostID"], h.uid, "uid mapped to the caller")
    else:
        check("user" not in ns, "root spec has no user namespace")
    # A second spec in the same place is refused with runc's message.
    r = h.cmd(h.rt_argv(*args, root=False), cwd=d)
    check(r.rc != 0, "spec over an existing config.json must fail")
    check_in("config.json exists. Remove it first", r.err, "spec error")
    # --bundle writes elsewhere; the result runs our rootfs with only args changed.
    b = h.bundle()
    os.unlink(os.path.join(b.path, "config.json"))
    h.rt_ok(*args, "--bundle", b.path, root=False)
    cfg = json.load(open(os.path.join(b.path, "config.json")))
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/probe", "report"]
    with open(os.path.join(b.path, "config.json"), "w") as f:
        json.dump(cfg, f)
    r = h.rt("run", "--bundle", b.path, h.new_id())
    check_eq(r.rc, 0, f"the spec config runs\n{r!r}")
    check_eq(r.json()["uid"], 0, "uid inside")


def test_run_config_flag(h):
    b = h.bundle(["/probe", "exit", "3"])
    other = os.path.join(h.tmp, "other-config.json")
    cfg = dict(b.config)
    cfg["process"] = dict(cfg["process"], args=["/probe", "exit", "5"])
    with open(other, "w") as f:
        json.dump(cfg, f)
    r = h.rt("run", "--bundle", b.path, "--config", other, h.new_id())
    check_eq(r.rc, 5, f"--config file used instead of bundle/config.json\n{r!r}")
    r = h.rt("run", "--bundle", b.path, "--config", other + ".missing", h.new_id())
    check(r.rc != 0 and "other-config.json.missing" in r.err, f"missing --config file named\n{r!r}")


def test_personality(h):
    b = h.bundle(["sh", "-c", "uname -m"])
    b.linux["personality"] = {"domain": "LINUX32"}
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"run\n{r!r}")
    machine = os.uname().machine
    if machine == "x86_64":
        check_eq(r.out.strip(), "i686", "uname -m under LINUX32")
    elif machine == "aarch64":
        check_eq(r.out.strip(), "armv8l", "uname -m under LINUX32")
    b.linux["personality"] = {"domain": "LINUX64"}
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="personality")


def test_time_namespace_offsets(h):
    if not os.path.exists("/proc/self/ns/time"):
        skip("kernel without time namespaces")
    b = h.bundle(["/probe", "cat", "/proc/self/timens_offsets"])
    b.set_namespace("time")
    b.linux["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 7},
                              "boottime": {"secs": -5}}
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"run\n{r!r}")
    offs = {l.split()[0]: l.split()[1:] for l in r.out.splitlines()}
    check_eq(offs.get("monotonic"), ["86400", "7"], "monotonic offset")
    check_eq(offs.get("boottime"), ["-5", "0"], "boottime offset")
    # Offsets without a time namespace are a config error.
    b.remove_namespace("time")
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="timeOffsets")


def test_session_keyring(h):
    if not os.path.exists("/proc/keys"):
        skip("kernel without /proc/keys")
    cid = h.new_id("keys")
    b = h.bundle(["sh", "-c", "cat /proc/keys"])
    r = h.run_bundle(b, cid=cid)
    check_eq(r.rc, 0, f"run\n{r!r}")
    check_in(f"_ses.{cid}", r.out, "a session keyring named after the container")
    perm = int([l for l in r.out.splitlines() if f"_ses.{cid}" in l][0].split()[4], 16)
    check(perm & 0x080000, f"searchable by its user, as runc makes it: {perm:08x}")
    r = h.run_bundle(b, cid=h.new_id("nokeys"), extra=["--no-new-keyring"])
    check_eq(r.rc, 0, f"run --no-new-keyring\n{r!r}")
    check("_ses.crlt-nokeys" not in r.out, f"--no-new-keyring made no keyring:\n{r.out}")


def test_uid0_in_a_user_namespace_without_userns_in_config(h):
    """Rootless podman runs the runtime as uid 0 of its own user namespace and sends a
    config without a user namespace; everything must work from there."""
    unshare = shutil.which("unshare")
    if not unshare:
        skip("unshare(1) not installed")
    b = h.bundle()
    b.remove_namespace("user")
    b.linux.pop("uidMappings", None)
    b.linux.pop("gidMappings", None)
    for m in b.config["mounts"]:
        if m["type"] == "devpts":
            m["options"] = [o for o in m["options"] if not o.startswith("gid=")]
    b.save()
    inner_root = os.path.join(h.tmp, "inner-state")
    argv = [unshare, "--user", "--map-root-user", "--"] + [h.bin, "--root", inner_root, "run",
                                                          "--bundle", b.path, h.new_id("nested")]
    r = h.cmd(argv)
    check_eq(r.rc, 0, f"run as uid 0 of a user namespace\n{r!r}")
    rep = r.json()
    check_eq(rep["uid"], 0, "uid inside")
    check_eq(rep["pid"], 1, "own pid namespace")
    # "@" entries are the root's own (the seccomp cache, the event log), never a container's.
    left = [e for e in os.listdir(inner_root) if not e.startswith("@")] if os.path.exists(inner_root) else None
    check(left == [], f"state removed after run: {left}")


def test_go_flag_forms(h):
    """runc's flags as Go's flag package spells them too: one dash before a long name
    ("-root DIR", "-format json"), and "=true"/"=false" after a flag that takes no value;
    up to the first argument, as Go reads them; after it, a command's words are its own."""
    r = h.cmd([h.bin, "-root", h.root, "list", "-format", "json"])
    check_eq((r.rc, r.out.strip()), (0, "[]"), f"-root DIR list -format json\n{r!r}")
    r = h.cmd([h.bin, "--debug=false", "--systemd-cgroup=false", "-root=" + h.root, "list", "-q=true"])
    check_eq((r.rc, r.out, r.err), (0, "", ""), f"--debug=false ... list -q=true\n{r!r}")
    check_eq(h.rt("delete", "--force=true", "no-such").rc, 0, "delete --force=true of a missing container")
    h.rt_fail("delete", "--force=false", "no-such", expect="does not exist")
    h.rt_fail("delete", "--force=maybe", "no-such", expect="--force")
    b = h.bundle(["/probe", "sleep", "30"])
    cid = h.new_id("go")
    h.rt_ok("run", "--detach=true", "--bundle", b.path, cid)
    h.wait_status(cid, "running")
    r = h.rt("exec", "-t=false", "--detach=false", cid, "echo", "-d=true")
    check_eq((r.rc, r.out.strip()), (0, "-d=true"), f"exec with Go forms; the command's words kept\n{r!r}")
    # "--opt=" is an empty value (Go's and podman's), "-u=" too: no next word taken for it.
    r = h.rt("exec", "--cwd=", "-u=", cid, "echo", "empty")
    check_eq((r.rc, r.out.strip()), (0, "empty"), f"exec --cwd= -u=\n{r!r}")
    h.rt_ok("kill", "--all=true", cid, "KILL")
    h.wait_status(cid, "stopped")
    h.rt_ok("delete", cid)
    r = h.rt("run", "--no-subreaper", "--bundle", h.bundle(["/probe", "exit", "3"]).path, h.new_id("go"))
    check_eq(r.rc, 3, f"run --no-subreaper (runc's)\n{r!r}")


def test_runc_argument_order_repeats_and_help(h):
    """As runc's urfave/cli: options may follow the container id (up to "--"), an option
    given twice takes the last value, "-b=DIR" is "-b DIR"; no verb, "help" and "h" print
    the help with exit 0, "help VERB" the verb's."""
    b, other = h.bundle(["/probe", "sleep", "30"]), h.bundle(["/probe", "exit", "0"])
    cid = h.new_id("order")
    h.rt_ok("create", cid, "--bundle", b.path)
    check_eq(h.rt_ok("state", cid).json()["bundle"], b.path, "create ID --bundle DIR")
    h.rt_ok("delete", cid, "--force")
    h.rt_ok("create", "-b=" + b.path, cid, "--")
    check_eq(h.rt_ok("state", cid).json()["status"], "created", "create -b=DIR ID --")
    h.rt_ok("delete", "--force", cid)
    h.rt_ok("run", "-d", "-b", other.path, "--bundle", b.path, cid)
    check_eq(h.rt_ok("state", cid).json()["bundle"], b.path, "the last --bundle wins")
    h.rt_ok("kill", cid, "KILL", "--all")
    h.wait_status(cid, "stopped")
    h.rt_ok("delete", cid)
    r = h.cmd([h.bin, "--root", "/nonexistent-root", "--root", h.root, "list", "-q"])
    check_eq((r.rc, r.out), (0, ""), f"a global option given twice: the last\n{r!r}")
    h.rt_fail("run", cid, "extra", "-b", b.path, expect='"run" requires exactly 1 argument(s)')
    for argv in ([], ["help"], ["h"]):
        r = h.cmd([h.bin, *argv])
        check_eq(r.rc, 0, f"crun-lite {argv}: help\n{r!r}")
        check_in("Usage: ", r.out, f"crun-lite {argv}")
    r = h.cmd([h.bin, "help", "kill"])
    check_eq(r.rc, 0, f"help kill\n{r!r}")
    check_in("Usage: " + h.bin_name + " kill", r.out, "help VERB: the verb's help")
    # runc's words for a bad id, whatever the verb.
    for verb in (["state"], ["delete"], ["delete", "--force"], ["create", "-b", b.path]):
        h.rt_fail(*verb, "bad/id", expect="invalid container ID format: `bad/id`")
        h.rt_fail(*verb, "", expect="container id cannot be empty")


def test_man_page_matches_help(h):
    """man/crun-lite.1.scd documents every command and global option --help lists."""
    import re
    page = open(os.environ.get("CRUNLITE_MAN") or os.path.join(harness.REPO_ROOT, "man", "crun-lite.1.scd")).read()
    top = h.rt_ok("--help", root=False).out
    verbs = re.findall(r"^  (\w+) ", top.split("Commands:")[1].split("Global options:")[0], re.M)
    check(len(verbs) >= 15, f"verbs in --help: {verbs}")
    for v in verbs:
        check_in(f"*{v}*", page, f"the man page documents {v}")
    for opt in re.findall(r"(--[a-z-]+)", top.split("Global options:")[1]):
        if opt != "--criu":  # accepted for runc compatibility only
            check_in(f"*{opt}*", page, f"the man page documents {opt}")


def test_libcrypto_cpu_probe_waits_for_a_hash(h):
    """The static binary defers libcrypto's CPU probe (OPENSSL_cpuid_setup, CPUID
    instructions that trap to the hypervisor on a VM) from its start to its first hash:
    `--version` never reaches OPENSSL_ia32_cpuid; an image load does, from Sha256, and
    the image's digests check out."""
    if not h.bin_name.startswith("crun-lite"):
        skip("not crun-lite")
    if not shutil.which("gdb"):
        skip("gdb is not installed (contrib/setup-deps.sh installs it)")
    dyn = h.cmd(["readelf", "-d", h.bin])
    if "NEEDED" in dyn.out:
        skip("a dynamically linked build (sanitizers): libcrypto probes when it is loaded")
    if h.rootless:
        skip("as root only: a rootless load imports in a forked user namespace, which gdb does not follow")

    def probes(*args):
        r = h.cmd(["gdb", "-q", "-batch", "-ex", "set breakpoint pending on", "-ex", "break OPENSSL_ia32_cpuid",
                   "-ex", "run", "-ex", "bt 4", "-ex", "continue", "--args", h.bin, *args], timeout=120)
        # gdb's status says whether its last command worked (bt after the exit does not).
        check_in("exited normally", r.out, f"{' '.join(args)} under gdb\n{r!r}")
        return "Breakpoint 1," in r.out, r.out

    hit, out = probes("--version")
    check(not hit, f"--version probed the CPU\n{out}")
    layout = h.mkdtemp("oci") + "/layout/"
    harness.make_oci_archive(h, layout, "1.0")
    hit, out = probes("image", "load", "--store", h.mkdtemp("store"), "oci:" + layout.rstrip("/") + ":1.0")
    check(hit, f"an image load never probed the CPU\n{out}")
    check_in("Sha256", out, "the probe came from the first hash")


def test_hot_functions_first(h):
    """Linked by lld, the binary has the functions src/cli/hot-symbols.txt lists (what the
    lifecycle verbs run) at the start of its text, together: a start maps the text 64 KB
    around each page it touches.  95% of the listed functions the binary has lie within
    the first 1.5 x their total size (+ 64 KB) of .text; in link order they spread over it."""
    import re
    if not h.bin_name.startswith("crun-lite"):
        skip("not crun-lite")
    comment = h.cmd(["readelf", "-p", ".comment", h.bin])
    check_eq(comment.rc, 0, f"readelf\n{comment!r}")
    if not re.search(r"Linker:.* LLD ", comment.out):
        skip("crun-lite was not linked by lld (lld missing at configure time, or a sanitizer build, which links "
             "dynamically): its text is in link order")
    path = os.environ.get("CRUNLITE_HOT_SYMBOLS") or os.path.join(harness.REPO_ROOT, "src", "cli", "hot-symbols.txt")
    listed = [line.strip() for line in open(path) if line.strip() and not line.startswith("#")]
    check(len(listed) > 500, f"hot-symbols.txt lists {len(listed)} functions")
    sections = h.cmd(["readelf", "-SW", h.bin])
    text = next(line.split() for line in sections.out.splitlines() if " .text " in line)
    start, size = int(text[text.index(".text") + 2], 16), int(text[text.index(".text") + 4], 16)
    syms = {}
    for line in h.cmd(["nm", "-S", "--defined-only", h.bin]).out.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTWi" and start <= int(f[0], 16) < start + size:
            syms.setdefault(f[3], (int(f[0], 16), int(f[1], 16)))
    present = [syms[n] for n in dict.fromkeys(listed) if n in syms]
    check(len(present) > 0.8 * len(listed), f"{len(present)} of the {len(listed)} listed functions in the binary")
    span = int(1.5 * sum(sz for _, sz in present)) + 65536
    inside = sum(1 for addr, _ in present if addr < start + span)
    check(inside >= 0.95 * len(present),
          f"{inside} of {len(present)} listed functions within the first {span} bytes of a {size}-byte .text")


def _help_options(text):
    """The options a --help text lists, long and short: lines "  -b [ --bundle ] arg" or
    "  --pid-file arg" (descriptions wrapped onto more deeply indented lines are skipped)."""
    import re
    longs, shorts = [], []
    for m in re.finditer(r"^  (?:(-[A-Za-z0-9]) \[ )?(--[a-z][a-z0-9-]*)", text, re.M):
        if m.group(1):
            shorts.append(m.group(1))
        longs.append(m.group(2))
    return longs, shorts


def test_man_page_per_command(h):
    """man/crun-lite-VERB.1.scd exists for every command --help lists, is valid scdoc, is built
    and installed by man/meson.build, is listed in crun-lite(1)'s SEE ALSO, and documents every
    option (long and short) of `VERB --help` (for image: of each image subcommand) as *--opt*."""
    import re
    man_dir = os.environ.get("CRUNLITE_MAN_DIR") or os.path.join(harness.REPO_ROOT, "man")
    main_page = open(os.path.join(man_dir, "crun-lite.1.scd")).read()
    see_also = main_page.split("# SEE ALSO")[-1]
    meson = open(os.path.join(man_dir, "meson.build")).read()
    scdoc = shutil.which("scdoc")
    top = h.rt_ok("--help", root=False).out
    verbs = re.findall(r"^  (\w+) ", top.split("Commands:")[1].split("Global options:")[0], re.M)
    check(len(verbs) >= 15, f"verbs in --help: {verbs}")
    for v in verbs:
        path = os.path.join(man_dir, f"crun-lite-{v}.1.scd")
        check(os.path.isfile(path), f"{v}: a man page {path}")
        page = open(path).read()
        check(page.startswith(f"crun-lite-{v}(1)\n"), f"{path}: the title is crun-lite-{v}(1)")
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "SEE ALSO"):
            check_in(f"\n# {section}\n", page, f"{path}: section {section}")
        check_in(f"*{v}*", page.split("# SYNOPSIS")[1].split("# DESCRIPTION")[0], f"{path}: synopsis of {v}")
        check_in(f"*crun-lite-{v}*(1)", see_also, f"crun-lite.1.scd SEE ALSO lists crun-lite-{v}(1)")
        check_in(f"'{v}'", meson, f"man/meson.build builds crun-lite-{v}.1")
        if scdoc:
            with open(path) as f:
                r = subprocess.run([scdoc], stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            check_eq(r.returncode, 0, f"scdoc < {path}: {r.stderr}")
        helps = [h.rt_ok(v, "--help", root=False).out]
        if v == "image":
            helps += [h.rt_ok("image", sub, "--help", root=False).out
                      for sub in ("load", "import", "pull", "ls", "inspect", "rm", "prune", "login", "logout")]
        elif v == "healthcheck":
            helps.append(h.rt_ok("healthcheck", "run", "--help", root=False).out)
        for text in helps:
            longs, shorts = _help_options(text)
            for opt in longs + shorts:
                check(f"*{opt}*" in page, f"{path} does not document *{opt}* (from `{v} ... --help`)")
    # The checks above must see options: run --help lists dozens.
    check(len(_help_options(h.rt_ok("run", "--help", root=False).out)[0]) > 30, "run --help options parsed")


def test_bash_completion(h):
    """contrib/completion/crun-lite.bash completes verbs, options and container ids."""
    script = os.environ.get("CRUNLITE_COMPLETION") or os.path.join(
        harness.REPO_ROOT, "contrib", "completion", "crun-lite.bash")
    bindir = h.mkdtemp("bin")
    os.symlink(h.bin, os.path.join(bindir, "crun-lite"))
    b = h.bundle(["/probe", "sleep", "30"])
    cid = h.new_id("compl")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)

    def complete(*words):
        line = " ".join(f"'{w}'" for w in words)
        r = h.cmd(["bash", "-c", f'source "{script}"; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
                                  '_crun_lite; printf "%s\\n" "${COMPREPLY[@]}"'],
                  env=dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", "")))
        check_eq(r.rc, 0, f"completion\n{r!r}")
        return sorted(r.out.split())
    check_eq(complete("crun-lite", "st"), ["start", "state", "stop"], "verbs (from --help)")
    check_eq(complete("crun-lite", "--ro"), ["--root", "--rootless"], "global options")
    check_eq(complete("crun-lite", "kill", "--a"), ["--all"], "verb options")
    check_eq(complete("crun-lite", "--root", h.root, "kill", "crlt-compl"), [cid], "container ids")
    check_eq(complete("crun-lite", "--root", h.root, "logs", "crlt-compl"), [cid], "container ids for logs")
    check_eq(complete("crun-lite", "--root", h.root, "rm", "-f", "crlt-compl"), [cid], "container ids for rm")
    check_eq(complete("crun-lite", "--root", h.root, "port", "crlt-compl"), [cid], "container ids for port")
    check_eq(complete("crun-lite", "rm", "--"), ["--force", "--store", "--volumes"], "rm's options")
    check_eq(complete("crun-lite", "run", "--ima"), ["--image"], "run's image options")
    check_eq(complete("crun-lite", "run", "--health-r"), ["--health-retries"], "run's health options")
    check_eq(complete("crun-lite", "image", "lo"), ["load", "login", "logout"], "image subcommands")
    check_eq(complete("crun-lite", "image", "pu"), ["pull"], "image pull")
    check_eq(complete("crun-lite", "image", "pull", "--tls"), ["--tls-verify"], "image pull options")
    check_eq(complete("crun-lite", "image", "load", "--max-"), ["--max-entries", "--max-layer-size", "--max-ratio"], "image load options")
    check_eq(complete("crun-lite", "healthcheck", ""), ["run"], "healthcheck run")
    check_eq(complete("crun-lite", "volume", "p"), ["prune"], "volume subcommands")
    check_eq(complete("crun-lite", "volume", ""), ["create", "inspect", "ls", "prune", "rm"], "every volume subcommand")
    check_eq(complete("crun-lite", "image", "i"), ["import", "inspect"], "image's import alias")
    check_eq(complete("crun-lite", "volume", "ls", "--"), ["--format", "--quiet", "--store"], "volume ls options")


if __name__ == "__main__":
    harness.main(globals())
