#!/usr/bin/env python3
"""`crun-lite image`: archives made by the test loaded into a private store, checked
layer by layer; hostile or corrupt archives refused with nothing kept."""

import json
import os
import tarfile

import harness
from harness import check, check_eq, check_in


def _store(h):
    """A store of this test's own (one per test function)."""
    if getattr(h, "_store_for", None) != h.history:
        h._store_for, h._store = h.history, h.mkdtemp("store")
    return h._store


def _image(h, *args):
    return h.rt("image", args[0], "--store", _store(h), *args[1:], root=False)


def _layer_dirs(h):
    d = os.path.join(_store(h), "layers")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def _entries(*specs):
    """A layer from (name, kind, data) tuples; kind: file, dir, symlink, link."""
    def add(t):
        for name, kind, data in specs:
            ti = tarfile.TarInfo(name)
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                t.addfile(ti)
            elif kind == "link":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
                t.addfile(ti)
            else:
                import io
                raw = data.encode()
                ti.size, ti.mode = len(raw), 0o644
                if kind == "suid":
                    ti.mode = 0o4755
                if kind == "owned":
                    ti.uid = ti.gid = 1001
                t.addfile(ti, io.BytesIO(raw))
    return add


def test_load_oci_archive_ls_inspect_rm(h):
    archive = os.path.join(h.tmp, "app.tar")
    cfg = {"User": "app", "Cmd": ["sh"], "Env": ["PATH=/bin"],
           "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1000000000, "Retries": 2}}
    harness.make_oci_archive(h, archive, "1.0", compress=True, config=cfg,
                             layers=[harness.busybox_layer(h),
                                     _entries(("app", "dir", ""), ("app/index.js", "file", "console.log(1)\n"))])
    r = _image(h, "load", "--name", "example/app:1.0", "--format", "json", "-i", archive)  # podman's -i
    check_eq(r.rc, 0, f"image load\n{r!r}")
    loaded = r.json()
    r = _image(h, "load", "-i", archive, archive)
    check_eq((r.rc, r.err), (1, "crun-lite: image load: give SRC or --input, not both\n"), f"SRC twice\n{r!r}")
    check_eq(loaded["names"], ["example/app:1.0"], "name")
    check_eq(len(loaded["layers"]), 2, "two layers")
    layers = _layer_dirs(h)
    check_eq(len(layers), 2, "two layer directories")
    top = os.path.join(_store(h), "layers", loaded["layers"][1].split(":")[1], "diff")
    check_eq(open(os.path.join(top, "app", "index.js")).read(), "console.log(1)\n", "file content in the layer")
    ls = json.loads(_image(h, "ls", "--format", "json").out)
    check_eq([i["names"] for i in ls], [["example/app:1.0"]], "image ls")
    table = _image(h, "ls").out
    check_in("example/app:1.0", table, "image ls table")
    conf = json.loads(_image(h, "inspect", "example/app:1.0").out)
    check_eq(conf["config"]["User"], "app", "inspect: the config")
    check_eq(conf["config"]["Healthcheck"]["Retries"], 2, "inspect keeps the Healthcheck")
    check_eq(json.loads(_image(h, "inspect", loaded["id"][7:19]).out), conf, "inspect by id prefix")
    r = _image(h, "inspect", "-f", "{{.config.User}} {{json .config.Healthcheck.Retries}}", "example/app:1.0")
    check_eq((r.rc, r.out), (0, "app 2\n"), f"image inspect --format\n{r!r}")
    r = _image(h, "inspect", "--format", "{{.Config.User}}", "example/app:1.0")
    check(r.rc == 1 and "image inspect --format: `{{.Config.User}}`: the value has no Config" in r.err,
          f"a field the config lacks is named\n{r!r}")
    # A second load unpacks nothing.
    mtimes = [os.stat(os.path.join(_store(h), "layers", l)).st_mtime_ns for l in layers]
    r = _image(h, "load", "-q", archive)
    check_eq(r.out.strip(), loaded["id"], "same image id")
    check_eq([os.stat(os.path.join(_store(h), "layers", l)).st_mtime_ns for l in layers], mtimes,
             "layers untouched by the second load")
    h.rt("image", "rm", "--store", _store(h), "example/app:1.0", root=False)
    check_eq(json.loads(_image(h, "ls", "--format", "json").out) == [] or
             all("example/app:1.0" not in i["names"] for i in json.loads(_image(h, "ls", "--format", "json").out)),
             True, "name gone after rm")


def test_layers_shared_and_refcounted(h):
    base = harness.busybox_layer(h)
    a, b = os.path.join(h.tmp, "a.tar"), os.path.join(h.tmp, "b.tar")
    harness.make_oci_archive(h, a, "a", layers=[base, _entries(("a", "file", "a"))])
    harness.make_oci_archive(h, b, "b", layers=[base, _entries(("b", "file", "b"))])
    _image(h, "load", "--name", "a", a)
    _image(h, "load", "--name", "b", b)
    check_eq(len(_layer_dirs(h)), 3, "the shared base layer is stored once")
    h.rt("image", "rm", "--store", _store(h), "a", root=False)
    check_eq(len(_layer_dirs(h)), 2, "rm keeps the layer b still uses")
    h.rt("image", "rm", "--store", _store(h), "b", root=False)
    check_eq(_layer_dirs(h), [], "no layer left")


def test_whiteouts_across_layers(h):
    archive = os.path.join(h.tmp, "wh.tar")
    harness.make_oci_archive(h, archive, "wh", layers=[
        _entries(("etc", "dir", ""), ("etc/old", "file", "x"), ("opaque", "dir", ""), ("opaque/in", "file", "y")),
        _entries(("etc/.wh.old", "file", ""), ("opaque/.wh..wh..opq", "file", ""), ("opaque/new", "file", "z"))])
    r = _image(h, "load", "--format", "json", archive)
    check_eq(r.rc, 0, f"load\n{r!r}")
    top = os.path.join(_store(h), "layers", r.json()["layers"][1].split(":")[1], "diff")
    st = os.lstat(os.path.join(top, "etc", "old"))
    check(os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0 and (st.st_mode & 0o170000) == 0o020000,
          "a whiteout device in the upper layer")
    key = "user.overlay.opaque" if h.rootless else "trusted.overlay.opaque"
    check_eq(os.getxattr(os.path.join(top, "opaque"), key), b"y", "opaque directory")


def test_zstd_and_plain_layers(h):
    import shutil
    if not shutil.which("zstd"):
        harness.skip("zstd(1) not installed: zstd layers are covered by the unit tests")
    archive = os.path.join(h.tmp, "zstd.tar")
    harness.make_oci_archive(h, archive, "z", compress="zstd",
                             layers=[harness.busybox_layer(h), _entries(("z", "file", "zstd-layer"))])
    r = _image(h, "load", "--format", "json", archive)
    check_eq(r.rc, 0, f"zstd layers\n{r!r}")
    top = os.path.join(_store(h), "layers", r.json()["layers"][1].split(":")[1], "diff")
    check_eq(open(os.path.join(top, "z")).read(), "zstd-layer", "zstd layer content")


def test_docker_archive(h):
    archive = os.path.join(h.tmp, "docker.tar")
    harness.make_docker_archive(h, archive, "legacy/app:2")
    r = _image(h, "load", "--format", "json", f"docker-archive:{archive}")
    check_eq(r.rc, 0, f"docker-archive load\n{r!r}")
    check_eq(r.json()["names"], ["legacy/app:2"], "RepoTags become the name")
    r = _image(h, "load", "--format", "json", archive)  # sniffed
    check_eq(r.rc, 0, f"sniffed docker archive\n{r!r}")


def _docker_archive_edited(h, path, edit, repo_tag="x:1", layers=None):
    """make_docker_archive, then `edit(dir)` on its unpacked files, archived again."""
    harness.make_docker_archive(h, path, repo_tag, layers=layers)
    d = h.mkdtemp("docker")
    with tarfile.open(path) as t:
        t.extractall(d)
    edit(d)
    with tarfile.open(path, "w") as t:
        t.add(d, arcname=".")


def test_docker_archive_repeating_a_layer_through_a_symlink(h):
    """Docker's older `save` writes a layer the image repeats once and links the
    repeat to it (<id>/layer.tar -> ../<first>/layer.tar): followed inside the
    archive, read in place or unpacked first; a link out of the archive is refused."""
    import gzip
    import shutil
    archive = os.path.join(h.tmp, "repeat.tar")
    layers = [_entries(("a", "file", "A")), _entries(("b", "file", "B")), _entries(("a", "file", "A"))]

    def link_repeat(d):
        os.unlink(os.path.join(d, "l2", "layer.tar"))
        os.symlink("../l0/layer.tar", os.path.join(d, "l2", "layer.tar"))
    _docker_archive_edited(h, archive, link_repeat, "repeat:1", layers)
    with open(archive, "rb") as src, gzip.open(archive + ".gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    for path in (archive, archive + ".gz"):
        r = _image(h, "load", "--format", "json", path)
        check_eq(r.rc, 0, f"load {path}\n{r!r}")
        check_eq(len(r.json()["layers"]), 3, "three layers, the first repeated")
        check_eq(os.listdir(os.path.join(_store(h), "tmp")), [], "no work left in tmp/")
    check_eq(_image(h, "rm", "repeat:1").rc, 0, "rm")

    bad = os.path.join(h.tmp, "out.tar")
    for target in ("../../../../etc/passwd", "/etc/passwd"):
        def link_out(d, target=target):
            os.unlink(os.path.join(d, "l0", "layer.tar"))
            os.symlink(target, os.path.join(d, "l0", "layer.tar"))
        _docker_archive_edited(h, bad, link_out)
        _refused(h, bad, "layer `l0/layer.tar` leads out of the archive")

    def link_loop(d):
        os.unlink(os.path.join(d, "l0", "layer.tar"))
        os.symlink("layer.tar", os.path.join(d, "l0", "layer.tar"))
    _docker_archive_edited(h, bad, link_loop)
    _refused(h, bad, "too many symlinks")


def test_docker_archive_of_two_images(h):
    """`docker save a b`: the tag chooses; without one, the first, with a warning."""
    archive = os.path.join(h.tmp, "two.tar")

    def second(d):
        with open(os.path.join(d, "manifest.json")) as f:
            m = json.load(f)
        m.append(dict(m[0], RepoTags=["two:2"]))
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump(m, f)
    _docker_archive_edited(h, archive, second, "one:1")
    r = _image(h, "load", "--format", "json", archive)
    check_eq((r.rc, r.json()["names"]), (0, ["one:1"]), f"the first\n{r!r}")
    check_in("2 images in the archive: loading the first (one:1); give docker-archive:FILE:TAG", r.err, "warned")
    r = _image(h, "load", "--format", "json", f"docker-archive:{archive}:two:2")
    check_eq((r.rc, r.json()["names"][0]), (0, "two:2"), f"by its tag (the same image here: it keeps one:1)\n{r!r}")
    check_eq(r.err, "", "no warning with a tag")


def test_names_from_archives_cannot_stand_for_an_id(h):
    """An archive can name its image after another image's id ("sha256:<id>", the
    bare 64 hex digits): refused, naming the entry, so that the id keeps meaning
    its image (`run --image ARCHIVE` finds the image it imported by id).  Names
    are checked against Docker's grammar; a name that is also a short id prefix
    of another image is ambiguous, not that image."""
    good = os.path.join(h.tmp, "good.tar")
    harness.make_docker_archive(h, good, "good:1", layers=[harness.busybox_layer(h), _entries(("good", "file", "G"))])
    r = _image(h, "load", "--format", "json", good)
    check_eq(r.rc, 0, f"load\n{r!r}")
    gid = r.json()["id"]
    bad = os.path.join(h.tmp, "spoof.tar")
    for tag, why in ((gid, "an image id, not a name"), (gid[7:], "64 hex digits are an image id"),
                     ("BAD TAG!!:::", "invalid tag"), ("x" * 300 + ":1", "longer than 255")):
        harness.make_docker_archive(h, bad, tag, layers=[_entries(("evil", "file", "E"))])
        r = _image(h, "load", bad)
        check(r.rc != 0, f"{tag!r} must be refused\n{r!r}")
        check_in("manifest.json: [0].RepoTags[0]: invalid image name", r.err, "names the entry")
        check_in(why, r.err, "says why")
        check_eq(os.listdir(os.path.join(_store(h), "tmp")), [], "no work left in tmp/")
    r = _image(h, "load", "--name", gid, good)
    check(r.rc != 0 and "--name: invalid image name" in r.err, f"--name is checked too\n{r!r}")
    ids = [i["id"] for i in json.loads(_image(h, "ls", "--format", "json").out)]
    check_eq(ids, [gid], "only the good image is stored")

    # A short hex name that is also the start of the good image's id.
    short = gid[7:19]
    harness.make_docker_archive(h, bad, short + ":latest", layers=[_entries(("evil", "file", "E"))])
    check_eq(_image(h, "load", bad).rc, 0, "a hex name is a name")
    r = _image(h, "inspect", short)
    check(r.rc != 0 and "is ambiguous" in r.err, f"{short} names one image and starts another's id\n{r!r}")
    for ref in (gid, gid[7:]):
        r = _image(h, "inspect", ref)
        check_eq(r.rc, 0, f"inspect {ref}\n{r!r}")
    # The image run of the good archive runs the good image.
    r = h.rt("run", "--rm", "--network", "none", "--store", _store(h), "--image", "docker-archive:" + good,
             "spoofcheck", "/bin/ls", "/good")
    check_eq((r.rc, r.out.strip()), (0, "/good"), f"the good image ran\n{r!r}")


def test_docker25_archive_and_nested_index(h):
    """Docker >= 25 saves an OCI layout plus manifest.json; buildx writes nested indexes."""
    import hashlib

    def docker25(layout, descs):
        with open(os.path.join(layout, "index.json")) as f:
            manifest_digest = json.load(f)["manifests"][0]["digest"].split(":")[1]
        with open(os.path.join(layout, "blobs", "sha256", manifest_digest)) as f:
            m = json.load(f)
        with open(os.path.join(layout, "manifest.json"), "w") as f:
            json.dump([{"Config": "blobs/sha256/" + m["config"]["digest"].split(":")[1],
                        "RepoTags": ["new/docker:25"],
                        "Layers": ["blobs/sha256/" + l["digest"].split(":")[1] for l in m["layers"]]}], f)
    archive = os.path.join(h.tmp, "d25.tar")
    harness.make_oci_archive(h, archive, "x", tamper=docker25)
    r = _image(h, "load", "--format", "json", archive)
    check_eq((r.rc, r.json()["names"] if r.rc == 0 else None), (0, ["new/docker:25"]), f"docker 25 archive\n{r!r}")

    def nest(layout, descs):
        with open(os.path.join(layout, "index.json")) as f:
            index = json.load(f)
        inner = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [dict(index["manifests"][0], platform={
                     "os": "linux", "architecture": "amd64" if os.uname().machine == "x86_64" else "arm64"}),
                     {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "digest": index["manifests"][0]["digest"], "size": index["manifests"][0]["size"],
                      "platform": {"os": "unknown", "architecture": "unknown"},
                      "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]}
        data = json.dumps(inner).encode()
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
            f.write(data)
        index["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json",
                               "digest": "sha256:" + digest, "size": len(data)}]
        with open(os.path.join(layout, "index.json"), "w") as f:
            json.dump(index, f)
    archive = os.path.join(h.tmp, "nested.tar")
    harness.make_oci_archive(h, archive, "x", tamper=nest)
    r = _image(h, "load", "--format", "json", "--name", "nested:1", archive)
    check_eq(r.rc, 0, f"nested index\n{r!r}")


def test_concurrent_imports_share_a_layer(h):
    base = harness.busybox_layer(h)
    archives = []
    for i in range(3):
        a = os.path.join(h.tmp, f"c{i}.tar")
        harness.make_oci_archive(h, a, "c", layers=[base, _entries((f"f{i}", "file", str(i)))])
        archives.append(a)
    procs = [h.spawn(h.rt_argv("image", "load", "--store", _store(h), "--name", f"c{i}", a, root=False))
             for i, a in enumerate(archives)]
    for p in procs:
        r = h.finish(p)
        check_eq(r.rc, 0, f"concurrent load\n{r!r}")
    check_eq(len(_layer_dirs(h)), 4, "the shared layer once, plus one each")
    check_eq(os.listdir(os.path.join(_store(h), "tmp")), [], "nothing left in tmp/")


def _through_overlay(h, archive, script):
    """Loads `archive` and runs `script` (sh; {m} is the merged directory) over
    its layers mounted by overlayfs in a private mount namespace (rootless: in a
    user namespace, with userxattr); the script's output, split."""
    import shutil
    unshare = shutil.which("unshare")
    if not unshare:
        harness.skip("unshare(1) not installed")
    r = _image(h, "load", "--format", "json", archive)
    check_eq(r.rc, 0, f"load\n{r!r}")
    lowers = ":".join(os.path.join(_store(h), "layers", c.split(":")[1], "diff")
                      for c in reversed(r.json()["layers"]))
    merged = h.mkdtemp("merged")
    opts = f"lowerdir={lowers}" + (",userxattr" if h.rootless else "")
    argv = [unshare, "-m", "--propagation", "private"]
    if h.rootless:
        argv = [unshare, "--user", "--map-root-user", "-m", "--propagation", "private"]
    r = h.cmd(argv + ["sh", "-c", f"mount -t overlay overlay -o {opts} {merged} && " + script.format(m=merged)])
    if r.rc != 0 and h.rootless and "permission denied" in r.err.lower():
        harness.skip(f"this kernel refuses overlay in a user namespace: {r.err.strip()}")
    check_eq(r.rc, 0, f"overlay mount\n{r!r}")
    return r.out.split()


def test_layers_stack_through_a_real_overlay(h):
    """The layer directories are what overlayfs expects: whiteouts hide, opaque
    directories hide what is below, upper files win."""
    archive = os.path.join(h.tmp, "ov.tar")
    harness.make_oci_archive(h, archive, "ov", layers=[
        _entries(("etc", "dir", ""), ("etc/old", "file", "old"), ("etc/keep", "file", "v1"),
                 ("opaque", "dir", ""), ("opaque/in", "file", "y")),
        _entries(("etc/.wh.old", "file", ""), ("etc/keep", "file", "v2"),
                 ("opaque/.wh..wh..opq", "file", ""), ("opaque/new", "file", "z"))])
    out = _through_overlay(h, archive, "ls {m}/etc && ls {m}/opaque && cat {m}/etc/keep")
    check_eq(out, ["keep", "new", "v2"], "etc/old whited out, opaque/in hidden, etc/keep from the top")


def test_five_layers_unpacked_at_once_stack_in_order(h):
    """Layers are unpacked in parallel (one worker more than the CPUs), each into its own
    directory: the image still stacks them in the manifest's order, so each
    layer's whiteouts, opaque directories and files act on the ones below."""
    archive = os.path.join(h.tmp, "five.tar")
    harness.make_oci_archive(h, archive, "five", compress=True, layers=[
        _entries(("a", "file", "v0"), ("b", "file", "v0"), ("d", "dir", ""), ("d/x", "file", "x")),
        _entries((".wh.a", "file", ""), ("b", "file", "v1")),
        _entries(("a", "file", "v2"), ("d/.wh..wh..opq", "file", ""), ("d/y", "file", "y")),
        _entries((".wh.b", "file", "")),
        _entries(("c", "file", "v4"))])
    out = _through_overlay(h, archive, "ls {m} && ls {m}/d && cat {m}/a && echo && cat {m}/c")
    check_eq(out, ["a", "c", "d", "y", "v2", "v4"],
             "a whited out then re-added, b whited out, d opaque above x, c from the top")


def test_a_killed_import_leaves_no_layer_without_an_image(h):
    """Layers wait in tmp/ until every layer of the import is there: one killed
    outright (SIGKILL) after its first layer was done leaves nothing in layers/,
    and the next import empties tmp/."""
    import glob
    import signal
    archive = os.path.join(h.tmp, "big.tar")
    big = [(f"data/f{i}", "file", "x" * (1 << 20)) for i in range(40)]
    harness.make_oci_archive(h, archive, "big", compress=True,
                             layers=[_entries(("small", "file", "s")), _entries(("data", "dir", ""), *big)])
    tmp = os.path.join(_store(h), "tmp")
    p = h.spawn(h.rt_argv("image", "load", "--store", _store(h), archive, root=False))
    # The small layer is done (staged with its layer.json) while the big one still unpacks.
    harness.wait_until(lambda: glob.glob(os.path.join(tmp, "*", "*", "layer.json")), 20, 0.002)
    os.kill(p.pid, signal.SIGKILL)
    h.finish(p)
    check_eq(_layer_dirs(h), [], "no layer in layers/ without its image")
    other = os.path.join(h.tmp, "other.tar")
    harness.make_oci_archive(h, other, "other", layers=[_entries(("o", "file", "o"))])
    r = _image(h, "load", "--format", "json", other)
    check_eq(r.rc, 0, f"a later load works\n{r!r}")
    check_eq(os.listdir(tmp), [], "it removed the killed import's work")
    check_eq(_layer_dirs(h), [layer.split(":")[1] for layer in r.json()["layers"]], "only its own layer stored")
    r = _image(h, "load", "--format", "json", archive)
    check_eq(r.rc, 0, f"the killed image loads\n{r!r}")
    check_eq(len(os.listdir(os.path.join(_store(h), "layers", r.json()["layers"][1].split(":")[1], "diff", "data"))),
             40, "the layer is whole")


def test_an_interrupted_import_cleans_up_then_ends_by_the_signal(h):
    """SIGINT (Ctrl-C) or SIGTERM while layers unpack: the work in tmp/, the layers
    stored so far and a run's container directory are removed, then the signal ends
    the process (the status a shell expects); rootless, the import's user
    namespace child gets it too.  A run killed outright (SIGKILL) leaves its
    container directory, which the next run of that name removes."""
    import signal
    archive = os.path.join(h.tmp, "big.tar")
    layers = [_entries(*[(f"l{n}f{i}", "file", "x" * (1 << 20)) for i in range(24)]) for n in range(3)]
    harness.make_oci_archive(h, archive, "big", compress=True, layers=[harness.busybox_layer(h)] + layers)
    tmp = os.path.join(_store(h), "tmp")
    containers = os.path.join(_store(h), "containers")

    def interrupt(argv, sig):
        p = h.spawn(argv)
        harness.wait_until(lambda: os.path.isdir(tmp) and os.listdir(tmp), 20, 0.002)
        os.kill(p.pid, sig)
        return h.finish(p)
    run = ["run", "--rm", "--network", "none", "--store", _store(h), "--image", archive, "big", "/bin/echo", "ok"]
    for sig, argv in ((signal.SIGINT, h.rt_argv("image", "load", "--store", _store(h), archive, root=False)),
                      (signal.SIGTERM, h.rt_argv(*run))):
        r = interrupt(argv, sig)
        check_eq(r.rc, -sig, f"ended by {sig.name}\n{r!r}")
        check_in(f"interrupted by {sig.name}", r.err, "says why")
        check_eq(os.listdir(tmp), [], "no work left in tmp/")
        check_eq(_layer_dirs(h), [], "no layer kept")
        check_eq(json.loads(_image(h, "ls", "--format", "json").out), [], "no image kept")
        check_eq(os.listdir(containers) if os.path.isdir(containers) else [], [], "no container directory left")
        check_eq(h.rt("list", "-q").out.split(), [], "no state left")

    before = set(harness.descendants())
    r = interrupt(h.rt_argv(*run), signal.SIGKILL)
    check_eq(os.listdir(containers), ["big"], "SIGKILL leaves the container's directory")
    # At once: rootless, the import's child may still hold the directory's flock
    # (an inherited fd) until its own parent-death SIGKILL lands; the next run
    # waits for that rather than say the name is taken.
    r = h.rt(*run)
    check_eq(r.rc, 0, f"the next run of that name\n{r!r}")
    check_eq(os.listdir(containers), [], "removed it (not moved aside)")

    def children_gone():
        harness.reap()  # (an orphan comes to us: a subreaper)
        return set(harness.descendants()) <= before
    check(harness.wait_until(children_gone, 5), "the killed run's children exit")


def test_a_name_being_made_is_taken(h):
    """While another run holds a name's directory (still making the container: no state
    yet), a run of that name says the name is taken, after at most a second's grace (a
    killed run's children may hold the directory that long); once it is let go, the
    directory is dead and the run takes it."""
    import fcntl
    import time
    archive = os.path.join(h.tmp, "img.tar")
    harness.make_oci_archive(h, archive, "img")
    run = ["run", "--rm", "--network", "none", "--store", _store(h), "--image", archive, "same", "/bin/echo", "ok"]
    check_eq(h.rt(*run).out, "ok\n", "a first run (it makes the store's containers/)")
    containers = os.path.join(_store(h), "containers")
    held = os.path.join(containers, "same")
    os.mkdir(held, 0o700)
    owner = os.stat(containers)
    os.chown(held, owner.st_uid, owner.st_gid)
    fd = os.open(held, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as the run making it holds it
        started = time.monotonic()
        r = h.rt(*run)
        waited = time.monotonic() - started
        check(r.rc != 0, f"a run of a name being made must fail\n{r!r}")
        check_in("already exists", r.err, "says the name is taken")
        check(0.9 <= waited < 10, f"after the grace (waited {waited:.2f} s)")
        check(os.path.isdir(held), "the other's directory is left alone")
    finally:
        os.close(fd)
    r = h.rt(*run)
    check_eq((r.rc, r.out), (0, "ok\n"), f"let go without state, it is dead: the run takes it\n{r!r}")

def test_names_vouch_only_for_their_own_content(h):
    """A name with a digest ("app@sha256:...") stands for what a registry verified: an
    archive (its RepoTags, its ref.name annotation) or --name may give one only to the
    manifest of that digest, else `run --image app@DIGEST` would run other content.  A
    repeated name is kept once; an index entry that is no manifest is refused."""
    fake = "sha256:" + "c" * 64
    docker = os.path.join(h.tmp, "docker.tar")
    harness.make_docker_archive(h, docker, [f"docker.io/library/alpine@{fake}"])
    r = _image(h, "load", "-i", docker)
    check(r.rc != 0, f"a docker archive cannot name its image by a digest\n{r!r}")
    check_in("RepoTags[0]", r.err, "names the entry")
    check_in("no manifest digest", r.err, "says why")
    oci = os.path.join(h.tmp, "oci.tar")
    harness.make_oci_archive(h, oci, f"docker.io/library/alpine@{fake}")
    r = _image(h, "load", "-i", oci)
    check(r.rc != 0, f"an OCI archive cannot name its image by another digest\n{r!r}")
    check_in("is not the loaded image's", r.err, "says why")
    check_eq(json.loads(_image(h, "ls", "--format", "json").out), [], "nothing stored")

    seen = {}

    def entry_digest(layout, descs):
        with open(os.path.join(layout, "index.json")) as f:
            seen["digest"] = json.load(f)["manifests"][0]["digest"]
    harness.make_oci_archive(h, oci, "qa/ok:1", tamper=entry_digest)
    r = _image(h, "load", "-i", oci, "--name", f"qa/x@{fake}")
    check(r.rc != 0 and "--name" in r.err, f"--name with another digest\n{r!r}")
    check_eq(_image(h, "load", "-i", oci, "--name", f"qa/x@{seen['digest']}").rc, 0, "--name with its own digest")
    r = h.rt("run", "--rm", "--network", "none", "--store", _store(h), "--image", f"qa/x@{seen['digest']}",
             h.new_id("dg"), "/bin/echo", "ok")
    check_eq((r.rc, r.out), (0, "ok\n"), f"runs by that digest\n{r!r}")

    harness.make_docker_archive(h, docker, ["qa/a:1", "qa/b:2", "qa/a:1"])
    r = _image(h, "load", "-i", docker)
    check_eq(r.rc, 0, f"load\n{r!r}")
    names = [i["names"] for i in json.loads(_image(h, "ls", "--format", "json").out) if "qa/b:2" in i["names"]][0]
    check_eq(sorted(n for n in names if n.startswith("qa/a")), ["qa/a:1"], f"each name once: {names}")

    def weird(layout, descs):
        path = os.path.join(layout, "index.json")
        with open(path) as f:
            index = json.load(f)
        index["manifests"][0]["mediaType"] = "application/x-weird"
        with open(path, "w") as f:
            json.dump(index, f)
    harness.make_oci_archive(h, oci, "qa/weird:1", tamper=weird)
    r = _image(h, "load", "-i", oci)
    check(r.rc != 0, f"an index entry of an unknown media type\n{r!r}")
    check_in("application/x-weird", r.err, "names the media type")


def test_a_failed_import_keeps_no_layer(h):
    """A load whose second layer is corrupt removes the first, which it had
    stored and verified: nothing of a failed import stays in the store."""
    archive = os.path.join(h.tmp, "half.tar")

    def corrupt_second(layout, descs):
        blob = os.path.join(layout, "blobs", "sha256", descs[1]["digest"].split(":")[1])
        os.chmod(blob, 0o644)
        with open(blob, "r+b") as f:
            f.seek(600)
            f.write(b"corrupt")
    harness.make_oci_archive(h, archive, "half", layers=[_entries(("a", "file", "first")), _entries(("b", "file", "second"))],
                             tamper=corrupt_second)
    r = _image(h, "load", archive)
    check(r.rc != 0, f"a load with a corrupt second layer must fail\n{r!r}")
    check_in("digest", r.err, "the error names the check")
    check_eq(_layer_dirs(h), [], "the verified first layer went with the failed import")
    check_eq(os.listdir(os.path.join(_store(h), "tmp")), [], "no work left")


def test_a_bad_middle_layer_of_five_cancels_the_others(h):
    """Layers unpacked at once: the corrupt middle one fails the load, naming
    that layer (not one of the others it cancelled), and neither the layers
    stored before the failure nor the ones being unpacked stay."""
    archive = os.path.join(h.tmp, "five-bad.tar")
    layers = [_entries(("d", "dir", ""), *[(f"d/{k}-{i}", "file", os.urandom(1 << 19).hex()) for i in range(8)])
              for k in range(5)]

    bad = []

    def corrupt_middle(layout, descs):
        bad.append(descs[2]["digest"])
        blob = os.path.join(layout, "blobs", "sha256", descs[2]["digest"].split(":")[1])
        os.chmod(blob, 0o644)
        with open(blob, "r+b") as f:
            f.seek(descs[2]["size"] // 2)
            f.write(b"\xff" * 4096)
    harness.make_oci_archive(h, archive, "five-bad", compress=True, layers=layers, tamper=corrupt_middle)
    r = _image(h, "load", archive)
    check(r.rc != 0, f"a load with a corrupt middle layer must fail\n{r!r}")
    check_in(f"layer {bad[0]}", r.err, "the error names the bad layer")
    check("cancelled" not in r.err, f"the error is the bad layer's, not a cancelled one's: {r.err!r}")
    check_eq(_layer_dirs(h), [], "no layer of the failed import stays")
    check_eq(os.listdir(os.path.join(_store(h), "tmp")), [], "no work left")


def test_progress_on_a_terminal(h):
    archive = os.path.join(h.tmp, "prog.tar")
    cfg = harness.make_oci_archive(h, archive, "p", compress=True)
    diff = cfg["rootfs"]["diff_ids"][0][:19]
    argv = h.rt_argv("image", "load", "--store", _store(h), archive, root=False)
    rc, out = harness.on_a_terminal(argv)
    check_eq(rc, 0, f"load on a terminal: {out!r}")
    check_in(f"{diff}  done, ", out, "a finished line per layer")
    check_in("Loaded image", out, "the summary")
    rc, out = harness.on_a_terminal(argv)
    check_in(f"{diff}  already present", out, "second load: nothing to unpack")
    rc, out = harness.on_a_terminal(h.rt_argv("image", "load", "--store", _store(h), "-q", archive, root=False))
    check(diff not in out, f"--quiet prints no progress: {out!r}")


def test_oci_layout_directory(h):
    layout = os.path.join(h.tmp, "layout") + "/"
    os.makedirs(layout)
    harness.make_oci_archive(h, layout, "v1")
    r = _image(h, "load", "--format", "json", f"oci:{layout.rstrip('/')}:v1")
    check_eq(r.rc, 0, f"oci: layout\n{r!r}")


def test_owners_and_modes_survive(h):
    """uid 1001 stays uid 1001 (root) or the matching subordinate id (rootless, imported
    inside a user namespace with the same mapping a rootless container gets)."""
    archive = os.path.join(h.tmp, "own.tar")
    harness.make_oci_archive(h, archive, "own", layers=[
        _entries(("app", "dir", ""), ("app/data", "owned", "x"), ("bin", "dir", ""), ("bin/tool", "suid", "y"))])
    r = _image(h, "load", "--format", "json", archive)
    check_eq(r.rc, 0, f"load\n{r!r}")
    top = os.path.join(_store(h), "layers", r.json()["layers"][0].split(":")[1], "diff")
    if h.rootless:
        if not h.subuid:
            check_eq(r.json()["owners"], "caller", "without subordinate ids the files are the caller's")
            return
        want_uid = h.subuid[0] + 1000  # container uid 1 is the first subordinate id
        check_eq(r.json()["owners"], "image", "owners kept through the user namespace")
        check_eq(os.lstat(os.path.join(top, "app", "data")).st_uid, want_uid,
                 "uid 1001 of the layer is the matching subordinate uid")
    else:
        check_eq(os.lstat(os.path.join(top, "app", "data")).st_uid, 1001, "uid 1001 kept")
    check_eq(os.lstat(os.path.join(top, "bin", "tool")).st_mode & 0o7777, 0o4755, "setuid mode kept")
    r = h.rt("image", "rm", "--store", _store(h), r.json()["id"], root=False)
    check_eq(r.rc, 0, f"rm of mapped-owner layers\n{r!r}")
    check_eq(_layer_dirs(h), [], "layers removed")


def _refused(h, archive, expect, *flags):
    r = _image(h, "load", *flags, archive)
    check(r.rc != 0, f"load must fail\n{r!r}")
    check_in(expect, r.err, "error names what is wrong")
    check_eq(_layer_dirs(h), [], "no layer kept")
    check_eq(os.listdir(os.path.join(_store(h), "tmp")), [], "no work left in tmp/")
    check_eq(json.loads(_image(h, "ls", "--format", "json").out), [], "no image kept")
    return r


def test_hostile_and_corrupt_archives(h):
    bad = os.path.join(h.tmp, "bad.tar")
    harness.make_oci_archive(h, bad, "x", layers=[_entries(("../escape", "file", "x"))])
    _refused(h, bad, "path leaves the layer")
    harness.make_oci_archive(h, bad, "x", layers=[_entries(("link", "symlink", "/tmp"), ("link/escape", "file", "x"))])
    _refused(h, bad, "is a symbolic link")
    harness.make_oci_archive(h, bad, "x", layers=[_entries(("shadow", "link", "/etc/shadow"))])
    _refused(h, bad, "hard link target")

    def wrong_digest(layout, descs):
        blob = os.path.join(layout, "blobs", "sha256", descs[0]["digest"].split(":")[1])
        with open(blob, "ab") as f:
            f.write(b"\0" * 512)
    harness.make_oci_archive(h, bad, "x", tamper=wrong_digest)
    _refused(h, bad, "digest mismatch")

    def truncate(layout, descs):
        blob = os.path.join(layout, "blobs", "sha256", descs[0]["digest"].split(":")[1])
        os.truncate(blob, descs[0]["size"] // 2)
    harness.make_oci_archive(h, bad, "x", compress=True, tamper=truncate)
    _refused(h, bad, "truncated gzip stream")

    def duplicate_key(layout, descs):
        with open(os.path.join(layout, "index.json")) as f:
            text = f.read()
        with open(os.path.join(layout, "index.json"), "w") as f:
            f.write(text[:-1] + ', "schemaVersion": 2}')
    harness.make_oci_archive(h, bad, "x", tamper=duplicate_key)
    _refused(h, bad, "duplicate key")

    def layer_media_type(mt):
        def tamper(layout, descs):
            import hashlib
            with open(os.path.join(layout, "index.json")) as f:
                index = json.load(f)
            old = os.path.join(layout, "blobs", "sha256", index["manifests"][0]["digest"].split(":")[1])
            with open(old) as f:
                manifest = json.load(f)
            os.unlink(old)
            manifest["layers"][0]["mediaType"] = mt
            data = json.dumps(manifest).encode()
            digest = hashlib.sha256(data).hexdigest()
            with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
                f.write(data)
            index["manifests"][0].update(digest="sha256:" + digest, size=len(data))
            with open(os.path.join(layout, "index.json"), "w") as f:
                json.dump(index, f)
        return tamper
    harness.make_oci_archive(h, bad, "x", tamper=layer_media_type("application/x-foo"))
    _refused(h, bad, "unsupported layer media type `application/x-foo`")
    harness.make_oci_archive(h, bad, "x", tamper=layer_media_type("application/vnd.oci.image.layer.v1.tar+gzip+encrypted"))
    _refused(h, bad, "encrypted layers are not supported")

    bomb = [(f"f{i}", "file", "x") for i in range(50)]
    harness.make_oci_archive(h, bad, "x", layers=[_entries(*bomb)])
    _refused(h, bad, "more than 20 entries", "--max-entries", "20")
    harness.make_oci_archive(h, bad, "x", layers=[_entries(("big", "file", "x" * 4096))])
    _refused(h, bad, "larger than 1024 bytes", "--max-layer-size", "1k")

    # Decompression bombs: a layer of zeros (ratio ~1000 past the first 256 MiB),
    # and gigabytes of zeros after the tar's end (only there to be hashed).
    harness.make_oci_archive(h, bad, "x", compress=True, layers=[_entries(("zeros", "file", "\0" * (300 << 20)))])
    _refused(h, bad, "decompresses to more than 200 times")

    def trailing_zeros(layout, descs):
        import gzip
        blob = os.path.join(layout, "blobs", "sha256", descs[0]["digest"].split(":")[1])
        with open(blob, "ab") as f:
            f.write(gzip.compress(b"\0" * (2 << 20)))
    harness.make_oci_archive(h, bad, "x", compress=True, tamper=trailing_zeros)
    _refused(h, bad, "after the end of the tar archive")


def test_archives_read_in_place_or_unpacked_when_compressed(h):
    """An uncompressed archive is read in place; one gzip'd whole (`docker save
    | gzip`) is unpacked first; both give the same image.  An archive cut short
    inside a blob, or with an entry outside it, is refused by name."""
    import gzip
    import shutil
    archive = os.path.join(h.tmp, "plain.tar")
    harness.make_oci_archive(h, archive, "1", compress=True, layers=[_entries(("a", "file", "A")), _entries(("b", "file", "B"))])
    with open(archive, "rb") as src, gzip.open(archive + ".gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    ids = []
    for path, how in ((archive, "an uncompressed archive, read in place"),
                      (archive + ".gz", "a compressed archive, unpacked into tmp/ first")):
        r = h.rt("--debug", "image", "load", "--store", _store(h), "--format", "json",
                 "--name", "x:" + os.path.basename(path).replace(".", "-"), path, root=False)
        check_eq(r.rc, 0, f"load {path}\n{r!r}")
        check_in(how, r.err, "the debug log says how the archive was read")
        ids.append(json.loads(r.out.splitlines()[-1])["id"])
        check_eq(os.listdir(os.path.join(_store(h), "tmp")), [], "no work left in tmp/")
    check_eq(ids[0], ids[1], "the same image either way")
    for layer in _layer_dirs(h):
        check_eq(sorted(os.listdir(os.path.join(_store(h), "layers", layer, "diff"))) in (["a"], ["b"]), True,
                 "each layer holds its own file")
    check_eq(_image(h, "rm", "x:plain-tar").rc, 0, "rm (the image, with both names)")

    bad = os.path.join(h.tmp, "cut.tar")
    with open(archive, "rb") as f:
        whole = f.read()
    with tarfile.open(archive) as t:
        biggest = max((m for m in t.getmembers() if m.isfile()), key=lambda m: m.size)
    with open(bad, "wb") as f:  # cut in the middle of the largest blob
        f.write(whole[:biggest.offset_data + biggest.size // 2])
    _refused(h, bad, "its data runs past the end of the archive")

    with tarfile.open(archive) as t, tarfile.open(bad, "w") as out:
        for m in t.getmembers():
            out.addfile(m, t.extractfile(m) if m.isfile() else None)
        ti = tarfile.TarInfo("blobs/../../escape")
        out.addfile(ti)
    _refused(h, bad, "path leaves the archive")
    # Compressed, the archive is unpacked first: the same words, the archive named once.
    r = _refused(h, _gzipped(h, bad), "entry `blobs/../../escape`: path leaves the archive")
    check_eq(r.err.count(os.path.basename(bad)), 1, f"the archive named once\n{r!r}")


def _gzipped(h, path):
    import gzip
    out = path + ".gz"
    with open(path, "rb") as f, gzip.open(out, "wb") as g:
        g.write(f.read())
    return out


def test_archive_blobs_are_read_safely(h):
    """An archive's blobs and documents are opened beneath it, following a
    symlink only inside it, regular files only: a blob that is a symlink to a host file or to
    /dev/zero, or a FIFO, is refused by name (never read, never hanging the
    store lock); a docker-archive Config path with ".." is refused like a layer's."""
    bad = os.path.join(h.tmp, "bad.tar")

    def blob_to(target):
        def tamper(layout, descs):
            blob = os.path.join(layout, "blobs", "sha256", descs[0]["digest"].split(":")[1])
            os.unlink(blob)
            os.symlink(target, blob)
        return tamper
    for target in ("/etc/shadow", "/dev/zero"):
        harness.make_oci_archive(h, bad, "x", tamper=blob_to(target))
        _refused(h, bad, "leads out of the archive")
        r = _refused(h, _gzipped(h, bad), "leads out of the archive")  # unpacked first, then opened beneath it
        check("cross-device" not in r.err, f"no errno of how it was found\n{r!r}")

    def fifo_layer(layout, descs):
        blob = os.path.join(layout, "blobs", "sha256", descs[0]["digest"].split(":")[1])
        os.unlink(blob)
        os.mkfifo(blob)
    harness.make_oci_archive(h, bad, "x", tamper=fifo_layer)
    _refused(h, bad, "not a regular file")

    def index_to_shadow(layout, descs):
        os.unlink(os.path.join(layout, "index.json"))
        os.symlink("/etc/shadow", os.path.join(layout, "index.json"))
    harness.make_oci_archive(h, bad, "x", tamper=index_to_shadow)
    _refused(h, bad, "neither an OCI layout")  # a symlinked index.json is not taken as one
    # The same rules for a layout directory given as it is (oci:DIR).
    layout = os.path.join(h.mkdtemp("layout"), "l") + "/"
    harness.make_oci_archive(h, layout, "x", tamper=blob_to("/etc/shadow"))
    _refused(h, "oci:" + layout.rstrip("/"), "leads out of the archive")

    harness.make_docker_archive(h, bad, "x:1")
    d = h.mkdtemp("docker")
    with tarfile.open(bad) as t:
        t.extractall(d)
    with open(os.path.join(d, "manifest.json")) as f:
        m = json.load(f)
    m[0]["Config"] = "../../../../../../etc/passwd"
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(m, f)
    with tarfile.open(bad, "w") as t:
        t.add(d, arcname=".")
    _refused(h, bad, "config path")
    check_eq(json.loads(_image(h, "ls", "--format", "json").out), [], "nothing stored")
    # Only a whole ".." component leaves: "v1..2/layer.tar" is an archive's own name.
    m[0]["Config"] = next(n for n in os.listdir(d) if n.endswith(".json") and n != "manifest.json")
    os.rename(os.path.join(d, "l0"), os.path.join(d, "v1..2"))
    m[0]["Layers"] = ["v1..2/layer.tar"]
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(m, f)
    with tarfile.open(bad, "w") as t:
        t.add(d, arcname=".")
    r = _image(h, "load", "docker-archive:" + bad)
    check_eq(r.rc, 0, f"a path with '..' inside a component loads\n{r!r}")


def _link(h, name):
    """The name index's link of `name` (image/store.hpp): its target, or None."""
    import hashlib
    p = os.path.join(_store(h), "names", hashlib.sha256(name.encode()).hexdigest())
    return os.readlink(p) if os.path.islink(p) else None


def test_name_index_follows_names_rm_and_repairs(h):
    ids = {}
    for n in "abc":
        archive = os.path.join(h.tmp, f"{n}.tar")
        harness.make_oci_archive(h, archive, n, config={"Labels": {"n": n}, "Cmd": ["sh"]})
        r = _image(h, "load", "-q", "--name", "app:1", archive)
        check_eq(r.rc, 0, f"image load\n{r!r}")
        ids[n] = r.out.strip()
        check_eq(_link(h, "app:1"), "../images/" + ids[n][7:], f"app:1 links to image {n}")
        check_eq(json.loads(_image(h, "inspect", "app:1").out)["config"]["Labels"]["n"], n, f"app:1 is image {n}")
    names = {i["id"]: i["names"] for i in json.loads(_image(h, "ls", "--format", "json").out)}
    check_eq(names, {ids["a"]: [], ids["b"]: [], ids["c"]: ["app:1"]}, "the name moved to the last image")
    check(os.path.exists(os.path.join(_store(h), "names", "complete")), "the index is complete")

    # A link to the wrong image, or garbage: read around, and rebuilt by prune.
    import hashlib
    link = os.path.join(_store(h), "names", hashlib.sha256(b"app:1").hexdigest())
    os.unlink(link)
    os.symlink("../images/" + ids["a"][7:], link)
    check_eq(json.loads(_image(h, "inspect", "app:1").out)["config"]["Labels"]["n"], "c", "a stale link is read around")
    os.unlink(link)
    with open(link, "w") as f:
        f.write("garbage")
    check_eq(json.loads(_image(h, "inspect", "app:1").out)["config"]["Labels"]["n"], "c", "a corrupt entry is read around")
    check_eq(_image(h, "prune").rc, 0, "prune")
    check_eq(_link(h, "app:1"), "../images/" + ids["c"][7:], "prune rebuilt the link")
    check_eq(sorted(i["id"] for i in json.loads(_image(h, "ls", "--format", "json").out)), [ids["c"]],
             "prune removed the nameless images")

    # A store of an older crun-lite (no index): read by a scan, indexed by the next load.
    harness.make_oci_archive(h, os.path.join(h.tmp, "d.tar"), "d", config={"Labels": {"n": "d"}})
    for f in os.listdir(os.path.join(_store(h), "names")):
        os.unlink(os.path.join(_store(h), "names", f))
    check_eq(json.loads(_image(h, "inspect", "app:1").out)["config"]["Labels"]["n"], "c", "no index: a scan")
    check_eq(_image(h, "load", "-q", "--name", "db", os.path.join(h.tmp, "d.tar")).rc, 0, "load d")
    check(os.path.exists(os.path.join(_store(h), "names", "complete")), "the load indexed the store")
    check_eq(_link(h, "app:1"), "../images/" + ids["c"][7:], "the old name indexed")
    check(_link(h, "db:latest") is not None, "the new name indexed")

    # rm takes the image's links with it.
    r = h.rt("image", "rm", "--store", _store(h), "app:1", root=False)
    check_eq(r.rc, 0, f"image rm\n{r!r}")
    check_eq(_link(h, "app:1"), None, "rm removed the link")
    r = _image(h, "inspect", "app:1")
    check(r.rc != 0 and "is not in the store" in r.err, f"app:1 is gone\n{r!r}")
    check_eq(os.listdir(os.path.join(_store(h), "tmp")), [], "nothing left in tmp/")


def test_concurrent_loads_of_one_name(h):
    archives = []
    for i in range(4):
        a = os.path.join(h.tmp, f"n{i}.tar")
        harness.make_oci_archive(h, a, "n", config={"Labels": {"n": str(i)}})
        archives.append(a)
    procs = [h.spawn(h.rt_argv("image", "load", "-q", "--store", _store(h), "--name", "same", a, root=False))
             for a in archives]
    for p in procs:
        r = h.finish(p)
        check_eq(r.rc, 0, f"concurrent load\n{r!r}")
    owners = [i["id"] for i in json.loads(_image(h, "ls", "--format", "json").out) if "same:latest" in i["names"]]
    check_eq(len(owners), 1, "one image has the name")
    check_eq(_link(h, "same:latest"), "../images/" + owners[0][7:], "and the index agrees")


if __name__ == "__main__":
    harness.main(globals())
