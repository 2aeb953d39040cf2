#!/usr/bin/env python3
"""`crun-lite image pull docker://...` and `run --image docker://...`: images pushed with skopeo
to Debian's docker-registry (distribution 2.8) on 127.0.0.1, over TLS with a CA made here,
anonymous, with basic auth (htpasswd) and with token auth (a token server in this file), a
multi-platform index; and small misbehaving registries (a Python server in this file) that
send wrong digests and sizes, oversized manifests, endless redirects, 401/403/404/429 and
trickles, or a certificate for another name.  Every failure names the registry, repository
and digest concerned and leaves nothing in the store."""

import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.parse
import warnings

import harness
from harness import check, check_eq, check_in, skip

TOOLS = ("docker-registry", "skopeo", "openssl")
USER, PASSWORD = "crltest", "s3cret:with colon"


def _need_tools():
    missing = [t for t in TOOLS if not shutil.which(t, path=harness.SYSTEM_PATH)]
    if missing:
        skip(f"{', '.join(missing)} not installed (contrib/setup-deps.sh --registry)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _store(h):
    if getattr(h, "_store_for", None) != h.history:
        h._store_for, h._store = h.history, h.mkdtemp("store")
    return h._store


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise harness.Failure(f"openssl {' '.join(args)}: {r.stderr}")


def _pki(h):
    """A CA, a server certificate for 127.0.0.1 and localhost, one for another name only, and a
    token-signing certificate; made once per test file run.  Returns the directory."""
    d = getattr(h, "_pki_dir", None)
    if d:
        return d
    d = h.mkdtemp("pki")
    os.chmod(d, 0o755)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=crltest CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, san, usage in (("server", "IP:127.0.0.1,DNS:localhost", "serverAuth"),
                             ("wrong", "DNS:wrong.example", "serverAuth"), ("client", "DNS:client", "clientAuth")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                    f"extendedKeyUsage={usage}\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                 "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext", cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "token.key", "-out", "token.crt",
             "-days", "2", "-subj", "/CN=crltest token", "-addext", "keyUsage=digitalSignature,keyCertSign", cwd=d)
    certs = os.path.join(d, "certs.d")  # what --cert-dir gets: the CA only
    os.mkdir(certs)
    shutil.copy(os.path.join(d, "ca.crt"), certs)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o755 if os.path.isdir(os.path.join(d, f)) else 0o644)
    h._pki_dir = d
    return d


def _certs(h):
    return os.path.join(_pki(h), "certs.d")


def _wait_port(port, proc=None, timeout=10):
    def up():
        if proc is not None and proc.poll() is not None:
            raise harness.Failure(f"server on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return False
    check(harness.wait_until(up, timeout), f"nothing listens on 127.0.0.1:{port}")


class Registry:
    """docker-registry on 127.0.0.1 (TLS), optionally with htpasswd or token auth; a context
    manager that stops it (our own child, by pid)."""

    def __init__(self, h, auth=None, token_port=None, cert="server", client_certs=False):
        self.h, self.port = h, _free_port()
        self.host = f"127.0.0.1:{self.port}"
        d = h.mkdtemp("registry")
        pki = _pki(h)
        cfg = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
               "storage:", f"  filesystem:", f"    rootdirectory: {d}/data",
               "http:", f"  addr: 127.0.0.1:{self.port}", "  tls:",
               f"    certificate: {pki}/{cert}.crt", f"    key: {pki}/{cert}.key"]
        if client_certs:  # TLS client authentication against our CA
            cfg += ["    clientcas:", f"      - {pki}/ca.crt"]
        if auth == "basic":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    import crypt  # bcrypt through libxcrypt, as docker-registry's htpasswd wants
                except ImportError:
                    skip("python3 has no crypt module to write a bcrypt htpasswd")
            # Cost 4 (16 rounds): the registry checks the password on every request.
            hashed = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
            with open(os.path.join(d, "htpasswd"), "w") as f:
                f.write(f"{USER}:{hashed}\n")
            cfg += ["auth:", "  htpasswd:", "    realm: crltest", f"    path: {d}/htpasswd"]
        elif auth == "token":
            cfg += ["auth:", "  token:", f"    realm: https://127.0.0.1:{token_port}/token",
                    "    service: crltest-registry", "    issuer: crltest-issuer",
                    f"    rootcertbundle: {pki}/token.crt"]
        with open(os.path.join(d, "config.yml"), "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.proc = h.spawn(["docker-registry", "serve", os.path.join(d, "config.yml")])
        try:
            _wait_port(self.port, self.proc)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        r = self.h.finish(self.proc)
        if self.h.verbose:
            harness.log(r.err)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def push(self, layout, ref, name, creds=None, all_platforms=False):
        argv = ["skopeo", "--insecure-policy", "copy", "-q", "--dest-cert-dir", _certs(self.h)]
        if creds:
            argv += ["--dest-creds", creds]
        if all_platforms:
            argv += ["--all"]
        r = self.h.cmd(argv + [f"oci:{layout}:{ref}", f"docker://{self.host}/{name}"], timeout=120)
        check_eq(r.rc, 0, f"skopeo push\n{r!r}")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A token server (Docker's token spec) over TLS: checks basic credentials when it has them,
    grants what the scope asks for, signs an RS256 JWT with the token certificate (x5c) that
    docker-registry trusts (rootcertbundle).  Signed with openssl(1)."""

    def __init__(self, h, creds=None):
        self.h, self.port, self.creds, self.requests = h, _free_port(), creds, []
        pki = _pki(h)
        with open(os.path.join(pki, "token.crt")) as f:
            pem = f.read()
        der = base64.b64decode("".join(l for l in pem.splitlines() if "-----" not in l))
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                server.requests.append((q, self.headers.get("Authorization")))
                if server.creds:
                    want = "Basic " + base64.b64encode(server.creds.encode()).decode()
                    if self.headers.get("Authorization") != want:
                        return self._send(401, b'{"details":"bad credentials"}')
                access = []
                for scope in q.get("scope", []):
                    typ, name, actions = scope.split(":")
                    access.append({"type": typ, "name": name, "actions": actions.split(",")})
                now = int(time.time())
                head = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
                claims = {"iss": "crltest-issuer", "sub": USER, "aud": "crltest-registry", "exp": now + 600,
                          "nbf": now - 10, "iat": now, "jti": str(now) + str(len(server.requests)),
                          "access": access}
                signing = (_b64url(json.dumps(head).encode()) + "." + _b64url(json.dumps(claims).encode())).encode()
                sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(pki, "token.key")],
                                     input=signing, capture_output=True, check=True).stdout
                token = signing.decode() + "." + _b64url(sig)
                self._send(200, json.dumps({"token": token, "expires_in": 600}).encode())

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _tls_server(h, self.port, Handler)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _tls_server(h, port, handler, cert="server"):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(_pki(h), cert + ".crt"), os.path.join(_pki(h), cert + ".key"))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _layout(h, ref="1", layers=None, config=None):
    """An OCI layout directory holding one image tagged `ref` (busybox + probe by default)."""
    d = h.mkdtemp("layout")
    cfg = harness.make_oci_archive(h, d + "/", ref, layers=layers, config=config, compress=True)
    return d, cfg


def _files(*specs):
    def add(t):
        import io
        for name, data in specs:
            raw = data.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(raw), 0o644
            t.addfile(ti, io.BytesIO(raw))
    return add


def _pull(h, ref, *args, **kw):
    return h.rt("image", "pull", "--store", _store(h), "--format", "json", *args, ref, root=False, **kw)


def _ls(h):
    r = h.rt("image", "ls", "--store", _store(h), "--format", "json", root=False)
    check_eq(r.rc, 0, f"image ls\n{r!r}")
    return r.json()


def _nothing_left(h, what):
    """No image, no layer, nothing in tmp/: a failed pull leaves the store as it was."""
    check_eq(_ls(h), [], f"{what}: no image in the store")
    for sub in ("layers", "tmp"):
        d = os.path.join(_store(h), sub)
        check_eq(sorted(os.listdir(d)) if os.path.isdir(d) else [], [], f"{what}: nothing in {sub}/")


def _layer_file(h, img, layer_index, path):
    hexid = img["layers"][layer_index].split(":")[1]
    with open(os.path.join(_store(h), "layers", hexid, "diff", path)) as f:
        return f.read()


# ---- a real registry ---------------------------------------------------------------------


def test_pull_anonymous_over_tls(h):
    _need_tools()
    layout, cfg = _layout(h, layers=[harness.busybox_layer(h), _files(("hello.txt", "from the registry\n"))])
    with Registry(h) as reg:
        reg.push(layout, "1", "app:1")
        ref = f"docker://{reg.host}/app:1"
        # Without our CA the registry's certificate is not trusted.
        r = _pull(h, ref)
        check(r.rc != 0, f"an unknown CA is refused\n{r!r}")
        check_in(f"registry {reg.host}", r.err, "the error names the registry")
        check_in("TLS", r.err, "and says it is TLS")
        _nothing_left(h, "untrusted certificate")
        r = _pull(h, ref, "--cert-dir", _certs(h))
        check_eq(r.rc, 0, f"pull\n{r!r}")
        img = r.json()
        check_eq(img["names"], [f"{reg.host}/app:1"], "named after the reference")
        check_eq(len(img["layers"]), 2, "two layers")
        if h.rootless and h.subuid:
            check_eq(img["owners"], "image", "rootless: unpacked in the user namespace of the subordinate ids")
        check_eq(_layer_file(h, img, 1, "hello.txt"), "from the registry\n", "the layer's file, unpacked")
        conf = json.loads(h.rt_ok("image", "inspect", "--store", _store(h), f"{reg.host}/app:1", root=False).out)
        check_eq(conf["rootfs"]["diff_ids"], cfg["rootfs"]["diff_ids"], "the config as pushed")
        # A second pull fetches no layer: the store's layers are untouched.
        layer_dir = os.path.join(_store(h), "layers", img["layers"][0].split(":")[1])
        before = os.stat(layer_dir).st_mtime_ns
        r = _pull(h, ref, "--cert-dir", _certs(h))
        check_eq(r.rc, 0, f"second pull\n{r!r}")
        check_eq(r.json()["id"], img["id"], "same image")
        check_eq(os.stat(layer_dir).st_mtime_ns, before, "layers not fetched again")
        # By digest, and --tls-verify=false without the CA.
        manifest = json.load(open(os.path.join(layout, "index.json")))["manifests"][0]["digest"]
        r = _pull(h, f"docker://{reg.host}/app@{manifest}", "--tls-verify=false")
        check_eq(r.rc, 0, f"pull by digest with --tls-verify=false\n{r!r}")
        check_eq(r.json()["id"], img["id"], "by digest: the same image")
        check_in(f"{reg.host}/app@{manifest}", r.json()["names"], "named by its digest too")
        # Unknown tag, unknown repository.
        r = _pull(h, f"docker://{reg.host}/app:nope", "--cert-dir", _certs(h))
        check(r.rc != 0, f"unknown tag\n{r!r}")
        check_in(f"registry {reg.host}: repository app: manifest nope: not found", r.err, "names what is missing")


def test_client_certificate(h):
    """A registry that wants a client certificate: refused without one, pulled with NAME.cert
    and NAME.key in --cert-dir.  As root the key is root's alone, read before the helper
    becomes nobody."""
    _need_tools()
    layout, _ = _layout(h)
    pki = _pki(h)
    certs = h.mkdtemp("client-certs")
    os.chmod(certs, 0o755)
    shutil.copy(os.path.join(pki, "ca.crt"), certs)
    shutil.copy(os.path.join(pki, "client.crt"), os.path.join(certs, "me.cert"))
    shutil.copy(os.path.join(pki, "client.key"), os.path.join(certs, "me.key"))
    for f in os.listdir(certs):
        os.chmod(os.path.join(certs, f), 0o600 if h.mode == "root" and f == "me.key" else 0o644)
    with Registry(h, client_certs=True) as reg:
        r = h.cmd(["skopeo", "--insecure-policy", "copy", "-q", "--dest-cert-dir", certs, f"oci:{layout}:1",
                   f"docker://{reg.host}/app:1"], timeout=120)
        check_eq(r.rc, 0, f"skopeo push with the client certificate\n{r!r}")
        r = _pull(h, f"docker://{reg.host}/app:1", "--cert-dir", _certs(h))
        check(r.rc != 0, f"without a client certificate\n{r!r}")
        check_in(f"registry {reg.host}", r.err, "names the registry")
        _nothing_left(h, "no client certificate")
        r = _pull(h, f"docker://{reg.host}/app:1", "--cert-dir", certs)
        check_eq(r.rc, 0, f"with the client certificate\n{r!r}")
        check_eq(r.json()["names"], [f"{reg.host}/app:1"], "the image")


def test_pull_basic_auth(h):
    _need_tools()
    layout, _ = _layout(h)
    with Registry(h, auth="basic") as reg:
        reg.push(layout, "1", "secret/app:1", creds=f"{USER}:{PASSWORD}")
        ref = f"docker://{reg.host}/secret/app:1"
        r = _pull(h, ref, "--cert-dir", _certs(h))
        check(r.rc != 0, f"anonymous pull of a protected image\n{r!r}")
        check_in("give --creds or log in", r.err, "says what to do")
        check_in(f"registry {reg.host}: repository secret/app", r.err, "names registry and repository")
        r = _pull(h, ref, "--cert-dir", _certs(h), "--creds", f"{USER}:wrong")
        check(r.rc != 0 and "refused the credentials" in r.err, f"wrong password\n{r!r}")
        _nothing_left(h, "refused credentials")
        r = _pull(h, ref, "--cert-dir", _certs(h), "--creds", f"{USER}:{PASSWORD}")
        check_eq(r.rc, 0, f"pull with --creds\n{r!r}")
        h.rt_ok("image", "rm", "--store", _store(h), f"{reg.host}/secret/app:1", root=False)
        # From an auth.json as podman login writes it (--authfile), and from the default places.
        auth = {"auths": {reg.host: {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}
        path = os.path.join(h.tmp, "auth.json")
        with open(path, "w") as f:
            json.dump(auth, f)
        r = _pull(h, ref, "--cert-dir", _certs(h), "--authfile", path)
        check_eq(r.rc, 0, f"pull with --authfile\n{r!r}")
        h.rt_ok("image", "rm", "--store", _store(h), f"{reg.host}/secret/app:1", root=False)
        home = h.mkdtemp("home")
        os.makedirs(os.path.join(home, ".docker"))
        with open(os.path.join(home, ".docker", "config.json"), "w") as f:
            json.dump({"auths": {f"https://{reg.host}/v1/": auth["auths"][reg.host]}}, f)
        env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=h.mkdtemp("xdg"))
        r = _pull(h, ref, "--cert-dir", _certs(h), env=env)
        check_eq(r.rc, 0, f"pull with ~/.docker/config.json\n{r!r}")
        xdg = h.mkdtemp("xdg")
        os.makedirs(os.path.join(xdg, "containers"))
        with open(os.path.join(xdg, "containers", "auth.json"), "w") as f:
            json.dump({"auths": {reg.host: {"auth": base64.b64encode(b"crltest:bad").decode()}}}, f)
        r = _pull(h, ref, "--cert-dir", _certs(h), env=dict(env, XDG_RUNTIME_DIR=xdg))
        check(r.rc != 0 and "refused the credentials" in r.err,
              f"$XDG_RUNTIME_DIR/containers/auth.json comes before ~/.docker/config.json\n{r!r}")
        r = _pull(h, ref, "--authfile", os.path.join(h.tmp, "missing.json"))
        check(r.rc != 0 and "missing.json" in r.err, f"a missing --authfile is an error\n{r!r}")


def test_pull_token_auth(h):
    _need_tools()
    layout, _ = _layout(h)
    with TokenServer(h, creds=f"{USER}:{PASSWORD}") as tokens, \
            Registry(h, auth="token", token_port=tokens.port) as reg:
        reg.push(layout, "1", "team/app:1", creds=f"{USER}:{PASSWORD}")
        ref = f"docker://{reg.host}/team/app:1"
        tokens.requests.clear()
        r = _pull(h, ref, "--cert-dir", _certs(h))
        check(r.rc != 0, f"the token server refuses anonymous requests\n{r!r}")
        check_in(f"token server https://127.0.0.1:{tokens.port}/token", r.err, "names the token server")
        r = _pull(h, ref, "--cert-dir", _certs(h), "--creds", f"{USER}:{PASSWORD}")
        check_eq(r.rc, 0, f"pull with a token\n{r!r}")
        scopes = [q.get("scope") for q, _ in tokens.requests]
        check_in(["repository:team/app:pull"], scopes, "asked for a pull scope")
        check_eq({tuple(q.get("service", [])) for q, _ in tokens.requests}, {("crltest-registry",)}, "service")
    # An anonymous token server (as Docker Hub's for public images).
    with TokenServer(h) as tokens, Registry(h, auth="token", token_port=tokens.port) as reg:
        reg.push(layout, "1", "pub:1")
        r = _pull(h, f"docker://{reg.host}/pub:1", "--cert-dir", _certs(h))
        check_eq(r.rc, 0, f"anonymous token\n{r!r}")
        check(all(a is None for _, a in tokens.requests), "no credentials sent when there are none")


def test_login_and_logout(h):
    """image login checks the credentials with the registry (basic, and a token server) and
    writes auth.json as podman login does; pulls then need no --creds; logout removes them."""
    _need_tools()
    layout, _ = _layout(h)
    authfile = os.path.join(h.mkdtemp("auth"), "containers", "auth.json")
    with TokenServer(h, creds=f"{USER}:{PASSWORD}") as tokens, \
            Registry(h, auth="token", token_port=tokens.port) as treg, Registry(h, auth="basic") as breg:
        for reg in (treg, breg):
            reg.push(layout, "1", "app:1", creds=f"{USER}:{PASSWORD}")
            login = ("image", "login", "--authfile", authfile, "--cert-dir", _certs(h), "-u", USER)
            r = h.rt(*login, "--password-stdin", reg.host, root=False, input="wrong\n")
            check(r.rc != 0 and "refused" in r.err and reg.host in r.err, f"a wrong password is refused\n{r!r}")
            check(not os.path.exists(authfile) or reg.host not in open(authfile).read(), "and not recorded")
            r = h.rt(*login, "--password-stdin", reg.host, root=False, input=PASSWORD + "\n")
            check_eq(r.rc, 0, f"login\n{r!r}")
            check_in("Login Succeeded", r.out, "says so")
            check_eq(os.stat(authfile).st_mode & 0o777, 0o600, "auth.json is private")
            entry = json.load(open(authfile))["auths"][reg.host]["auth"]
            check_eq(base64.b64decode(entry).decode(), f"{USER}:{PASSWORD}", "podman's format")
            r = _pull(h, f"docker://{reg.host}/app:1", "--cert-dir", _certs(h), "--authfile", authfile)
            check_eq(r.rc, 0, f"a pull with the recorded credentials\n{r!r}")
        r = h.rt("image", "logout", "--authfile", authfile, breg.host, root=False)
        check_eq(r.rc, 0, f"logout\n{r!r}")
        check(breg.host not in json.load(open(authfile))["auths"] and treg.host in json.load(open(authfile))["auths"],
              "only that entry is removed")
        r = h.rt("image", "logout", "--authfile", authfile, breg.host, root=False)
        check(r.rc != 0 and "not logged in" in r.err, f"a second logout\n{r!r}")
        h._store_for = None
        r = _pull(h, f"docker://{breg.host}/app:1", "--cert-dir", _certs(h), "--authfile", authfile)
        check(r.rc != 0 and "give --creds or log in" in r.err, f"logged out: authentication required\n{r!r}")
        # podman's: https://HOST/ is HOST; another scheme is no registry.
        r = h.rt("image", "login", "--authfile", authfile, "--cert-dir", _certs(h), "-u", USER, "-p", PASSWORD,
                 f"https://{breg.host}/", root=False)
        check_eq(r.rc, 0, f"login https://HOST/\n{r!r}")
        check(breg.host in json.load(open(authfile))["auths"], "recorded under HOST")
        r = h.rt("image", "login", "--authfile", authfile, "-u", USER, "-p", "x", "ftp://x.example", root=False)
        check(r.rc != 0 and "HOST[:PORT]" in r.err, f"an ftp URL is not a registry\n{r!r}")


def _multi_layout(h):
    """An OCI layout whose tag "multi" is an index of linux/amd64 and linux/arm64 images."""
    d = h.mkdtemp("multi")
    images = {}
    for arch, text in (("amd64", "amd64 image\n"), ("arm64", "arm64 image\n")):
        sub = h.mkdtemp("plat")
        cfg = harness.make_oci_archive(h, sub + "/", "x", compress=True,
                                       layers=[harness.busybox_layer(h), _files(("arch.txt", text))])
        cfg["architecture"] = arch
        images[arch] = (sub, cfg)
    os.makedirs(os.path.join(d, "blobs", "sha256"))
    manifests = []
    for arch, (sub, cfg) in images.items():
        for b in os.listdir(os.path.join(sub, "blobs", "sha256")):
            shutil.copy(os.path.join(sub, "blobs", "sha256", b), os.path.join(d, "blobs", "sha256", b))
        # Rewrite the config with its architecture, and the manifest with the new config.
        idx = json.load(open(os.path.join(sub, "index.json")))["manifests"][0]
        manifest = json.load(open(os.path.join(sub, "blobs", "sha256", idx["digest"].split(":")[1])))
        data = json.dumps(cfg).encode()
        digest = hashlib.sha256(data).hexdigest()
        open(os.path.join(d, "blobs", "sha256", digest), "wb").write(data)
        manifest["config"].update(digest="sha256:" + digest, size=len(data))
        mdata = json.dumps(manifest).encode()
        mdigest = hashlib.sha256(mdata).hexdigest()
        open(os.path.join(d, "blobs", "sha256", mdigest), "wb").write(mdata)
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + mdigest,
                          "size": len(mdata), "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": manifests}).encode()
    idigest = hashlib.sha256(index).hexdigest()
    open(os.path.join(d, "blobs", "sha256", idigest), "wb").write(index)
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                                                      "digest": "sha256:" + idigest, "size": len(index),
                                                      "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}, f)
    with open(os.path.join(d, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return d


def test_pull_multi_platform_index(h):
    _need_tools()
    layout = _multi_layout(h)
    host_arch = "amd64" if os.uname().machine == "x86_64" else "arm64"
    other = "arm64" if host_arch == "amd64" else "amd64"
    with Registry(h) as reg:
        reg.push(layout, "multi", "multi:1", all_platforms=True)
        ref = f"docker://{reg.host}/multi:1"
        r = _pull(h, ref, "--cert-dir", _certs(h))
        check_eq(r.rc, 0, f"pull the host's platform\n{r!r}")
        check_eq(_layer_file(h, r.json(), 1, "arch.txt"), f"{host_arch} image\n", "the host's image")
        # run --platform with the host's image stored under the name: that one is not for it,
        # so the other is pulled (as podman), or refused with --pull never.
        cid = h.new_id("plat")
        run = ("run", "--rm", "--image", ref, "--store", _store(h), "--network", "none", "--cert-dir", _certs(h))
        r = h.rt(*run, "--pull", "never", "--platform", f"linux/{other}", cid, "cat", "/arch.txt")
        check(r.rc != 0 and f"is for linux/{host_arch}, not linux/{other} (--pull never)" in r.err,
              f"--pull never with another platform stored\n{r!r}")
        r = h.rt(*run, "--platform", f"linux/{other}", cid, "cat", "/arch.txt")
        check_eq((r.rc, r.out), (0, f"{other} image\n"), f"run --platform linux/{other} pulls its image\n{r!r}")
        r = _pull(h, ref, "--cert-dir", _certs(h), "--platform", f"linux/{other}")
        check_eq(r.rc, 0, f"pull --platform linux/{other}\n{r!r}")
        check_eq(_layer_file(h, r.json(), 1, "arch.txt"), f"{other} image\n", "the other platform's image")
        uname_arch = "aarch64" if other == "arm64" else "x86_64"  # uname's name, as podman takes it
        r = _pull(h, ref, "--cert-dir", _certs(h), "--platform", f"linux/{uname_arch}")
        check_eq(_layer_file(h, r.json(), 1, "arch.txt"), f"{other} image\n", f"--platform linux/{uname_arch}")
        h.rt_ok("image", "rm", "--store", _store(h), f"{reg.host}/multi:1", root=False)
        h.rt_ok("image", "prune", "--store", _store(h), root=False)
        r = _pull(h, ref, "--cert-dir", _certs(h), "--platform", "linux/s390x")
        check(r.rc != 0, f"no such platform\n{r!r}")
        check_in("no image for linux/s390x", r.err, "names the platform asked for")
        check_in("linux/amd64, linux/arm64", r.err, "lists the platforms the index has")
        check_in(f"registry {reg.host}: repository multi", r.err, "names registry and repository")
        _nothing_left(h, "no platform")
        r = _pull(h, ref, "--platform", "linux")
        check(r.rc != 0 and "OS/ARCH" in r.err, f"a malformed --platform\n{r!r}")
        # A single-platform image is pulled whatever --platform says, with podman's warning.
        reg.push(_layout(h)[0], "1", "single:1")
        r = _pull(h, f"docker://{reg.host}/single:1", "--cert-dir", _certs(h), "--platform", f"linux/{other}")
        check_eq(r.rc, 0, f"pull --platform of a single-platform image\n{r!r}")
        check_in(f"is for linux/{host_arch}, not the linux/{other} asked for", r.err, "the warning")


def test_run_image_from_registry(h):
    _need_tools()
    layout, _ = _layout(h, config={"Env": ["PATH=/bin"], "Cmd": ["sh", "-c", "cat /hello.txt"],
                                   "Healthcheck": {"Test": ["CMD-SHELL", "test -f /hello.txt"],
                                                   "Interval": 200000000, "Retries": 3}},
                        layers=[harness.busybox_layer(h), _files(("hello.txt", "run from a registry\n"))])
    cid = h.new_id("reg")
    with Registry(h) as reg:
        reg.push(layout, "1", "app:1")
        ref = f"docker://{reg.host}/app:1"
        r = h.rt("run", "--rm", "--image", ref, "--store", _store(h), "--network", "none", "--pull", "never", cid)
        check(r.rc != 0 and "--pull never" in r.err, f"--pull never and nothing stored\n{r!r}")
        r = h.rt("run", "--rm", "--image", ref, "--store", _store(h), "--network", "none", "--cert-dir", _certs(h), cid)
        check_eq(r.rc, 0, f"run --image docker://\n{r!r}")
        check_eq(r.out, "run from a registry\n", "the image's command ran")
        # Detached, waited for until healthy (the image's own healthcheck).
        r = h.rt("run", "-d", "--image", ref, "--store", _store(h), "--network", "none",
                 "--cert-dir", _certs(h), "--wait-healthy=30s", cid, "sleep", "60")
        check_eq(r.rc, 0, f"run -d --image docker:// --wait-healthy\n{r!r}")
        check_eq(h.rt_ok("inspect", cid).json()["State"]["Health"]["Status"], "healthy", "healthy")
        h.wait_status(cid, "running")
        h.rt_ok("kill", cid, "KILL")
        h.wait_status(cid, "stopped")
        h.rt_ok("delete", cid)
    # The registry is gone: --pull missing uses the stored image, --pull always must ask.
    r = h.rt("run", "--rm", "--image", ref, "--store", _store(h), "--network", "none", cid)
    check_eq(r.rc, 0, f"--pull missing with the image stored needs no registry\n{r!r}")
    r = h.rt("run", "--rm", "--image", ref, "--store", _store(h), "--network", "none", "--pull", "always",
             "--cert-dir", _certs(h), cid)
    check(r.rc != 0 and f"registry {reg.host}" in r.err, f"--pull always asks the registry\n{r!r}")
    r = h.rt("run", "--rm", "--image", ref, "--store", _store(h), "--pull", "sometimes", cid)
    check(r.rc != 0 and "--pull" in r.err, f"a bad --pull\n{r!r}")
    r = h.rt("run", "--rm", "--image", "docker://127.0.0.1:1/UPPER:1", "--store", _store(h), cid)
    check(r.rc != 0 and "invalid name component" in r.err, f"a malformed reference\n{r!r}")


def test_registries_conf(h):
    """Short names through unqualified-search-registries and aliases (ambiguity is an error
    listing the candidates), mirrors tried first, blocked and insecure registries; the files
    podman users have, here through $CONTAINERS_REGISTRIES_CONF."""
    _need_tools()
    layout, _ = _layout(h)

    def conf(text):
        path = os.path.join(h.mkdtemp("conf"), "registries.conf")
        with open(path, "w") as f:
            f.write(text)
        return dict(os.environ, CONTAINERS_REGISTRIES_CONF=path)
    certs = ("--cert-dir", _certs(h))
    with Registry(h) as reg, Registry(h) as other:
        reg.push(layout, "1", "team/app:1")
        env = conf(f'unqualified-search-registries = ["{reg.host}"]\n[aliases]\n"nick" = "{reg.host}/team/app"\n')
        r = _pull(h, "team/app:1", *certs, env=env)
        check_eq(r.rc, 0, f"a short name through the one search registry\n{r!r}")
        check_eq(r.json()["names"], [f"{reg.host}/team/app:1"], "named by the full name")
        image_id = r.json()["id"]
        r = _pull(h, "nick:1", *certs, env=env)
        check_eq(r.rc, 0, f"an alias\n{r!r}")
        check_eq(r.json()["id"], image_id, "the alias' image")
        # run --image with a short name the store lacks pulls it; stored, it is used as is.
        cid = h.new_id("short")
        h.rt_ok("image", "rm", "--store", _store(h), f"{reg.host}/team/app:1", root=False)
        r = h.rt("run", "--rm", "--image", "team/app:1", "--store", _store(h), "--network", "none", *certs, cid,
                 "echo", "short", env=env)
        check_eq((r.rc, r.out), (0, "short\n"), f"run --image SHORT pulls it\n{r!r}")
        h._store_for = None
        r = h.rt("run", "--rm", "--image", "team/app:1", "--store", _store(h), "--network", "none", cid, "true",
                 env=conf(""))
        check(r.rc != 0 and "is not in the store" in r.err and "no unqualified-search-registries" in r.err,
              f"a short name with nowhere to look\n{r!r}")

        env = conf(f'unqualified-search-registries = ["{reg.host}", "{other.host}"]\n')
        r = _pull(h, "team/app:1", *certs, env=env)
        check(r.rc != 0, f"two search registries: ambiguous\n{r!r}")
        check_in(f"is ambiguous: it could be {reg.host}/team/app:1, {other.host}/team/app:1", r.err, "the candidates")
        _nothing_left(h, "ambiguous")

        # Mirrors: tried first; one without the image is skipped for the next.
        env = conf(f'[[registry]]\nlocation = "primary.invalid"\n[[registry.mirror]]\nlocation = "{reg.host}"\n'
                   f'[[registry]]\nprefix = "fallback.invalid"\nlocation = "{reg.host}"\n'
                   f'[[registry.mirror]]\nlocation = "{other.host}"\n')
        r = _pull(h, "docker://primary.invalid/team/app:1", *certs, env=env)
        check_eq(r.rc, 0, f"through the mirror\n{r!r}")
        check_eq(r.json()["names"], ["primary.invalid/team/app:1"], "named as asked, not as mirrored")
        r = _pull(h, "docker://fallback.invalid/team/app:1", *certs, env=env)
        check_eq(r.rc, 0, f"a mirror without the image, then the registry's location\n{r!r}")

        h._store_for = None
        env = conf(f'[[registry]]\nlocation = "{reg.host}"\nblocked = true\n')
        r = _pull(h, f"docker://{reg.host}/team/app:1", *certs, env=env)
        check(r.rc != 0 and "blocked" in r.err and env["CONTAINERS_REGISTRIES_CONF"] in r.err,
              f"a blocked registry, naming the file\n{r!r}")
        _nothing_left(h, "blocked")

        env = conf(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
        r = _pull(h, f"docker://{reg.host}/team/app:1", "--tls-verify=true", env=env)
        check(r.rc != 0 and "TLS" in r.err, f"an explicit --tls-verify wins over insecure\n{r!r}")
        r = _pull(h, f"docker://{reg.host}/team/app:1", env=env)
        check_eq(r.rc, 0, f"insecure = true: no verification\n{r!r}")

        r = _pull(h, "team/app:1", env=conf("[registries.search]\nregistries = ['docker.io']\n"))
        check(r.rc != 0 and "version 1 format" in r.err, f"the old format is refused by name\n{r!r}")


def test_tls_name_mismatch(h):
    _need_tools()
    layout, _ = _layout(h)
    with Registry(h, cert="wrong") as reg:
        r = _pull(h, f"docker://{reg.host}/app:1", "--cert-dir", _certs(h))
        check(r.rc != 0, f"a certificate for another name\n{r!r}")
        check_in(f"registry {reg.host}", r.err, "names the registry")
        check_in("TLS", r.err, "a TLS error")
        check_in("127.0.0.1", r.err, "naming the host it does not match")
        _nothing_left(h, "name mismatch")


# ---- a misbehaving registry ----------------------------------------------------------------


class FakeRegistry:
    """Serves one image (repository "bad", tag "1") over TLS, misbehaving as `mode` says."""

    def __init__(self, h, mode, layout, tls=True):
        self.h, self.mode, self.port = h, mode, _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.hits, self.ranges = {}, []
        blobs = os.path.join(layout, "blobs", "sha256")
        self.blobs = {"sha256:" + b: open(os.path.join(blobs, b), "rb").read() for b in os.listdir(blobs)}
        self.manifest_digest = json.load(open(os.path.join(layout, "index.json")))["manifests"][0]["digest"]
        self.manifest = self.blobs[self.manifest_digest]
        m = json.loads(self.manifest)
        self.layer = m["layers"][-1]["digest"]
        self.layers = [layer["digest"] for layer in m["layers"]]
        self.inflight = self.max_inflight = self.served = 0
        self.lock = threading.Lock()
        self.config = m["config"]["digest"]
        if mode == "big-config":
            m["config"]["size"] = 9 << 20
            self.manifest = json.dumps(m).encode()
        if mode == "artifact":  # a Helm chart's manifest, say
            m["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
            self.manifest = json.dumps(m).encode()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle(self):
                # "silent-tls": plain HTTP that answers nothing to a TLS hello (0x16), as a proxy
                # waiting for a request line does.
                if mode == "silent-tls" and self.connection.recv(1, socket.MSG_PEEK) == b"\x16":
                    self.connection.settimeout(20)
                    try:
                        while self.connection.recv(4096):
                            pass
                    except OSError:
                        pass
                    return
                super().handle()

            def do_GET(self):
                path = urllib.parse.urlparse(self.path).path
                fake.hits[path] = fake.hits.get(path, 0) + 1
                n = fake.hits[path]
                mode = fake.mode
                bearer = {"WWW-Authenticate": f'Bearer realm="https://127.0.0.1:{fake.port}/token",service="fake"'}
                if path == "/token":
                    if mode == "token-loop":  # redirects to itself
                        return self.send(302, b"", headers={"Location": "/token?again=1"})
                    return self.send(200, json.dumps({"token": f"t{n}"}).encode())
                if mode in ("token-loop", "token-refused") and path.startswith("/v2/"):
                    return self.send(401, b"{}", headers=bearer)  # whatever token comes
                if path == "/v2/":
                    if mode == "401":
                        return self.send(401, b"{}", headers={"WWW-Authenticate": 'Basic realm="fake"'})
                    return self.send(200, b"{}")
                if path.startswith("/v2/bad/manifests/"):
                    if mode in ("403", "404"):
                        err = {"errors": [{"code": "DENIED" if mode == "403" else "MANIFEST_UNKNOWN",
                                           "message": "nope"}]}
                        return self.send(int(mode), json.dumps(err).encode())
                    if mode == "429-once" and n == 1:
                        return self.send(429, b"{}", headers={"Retry-After": "1"})
                    if mode == "429-always":
                        return self.send(429, b"{}", headers={"Retry-After": "1"})
                    if mode == "429-long":
                        return self.send(429, b"{}", headers={"Retry-After": "3600"})
                    if mode == "big-manifest":
                        return self.send(200, b" " * (5 << 20) + self.server_manifest())
                    if mode == "wrong-content-digest":
                        return self.send(200, self.server_manifest(),
                                         headers={"Docker-Content-Digest": "sha256:" + "0" * 64})
                    return self.send(200, self.server_manifest(), headers={
                        "Docker-Content-Digest": "sha256:" + hashlib.sha256(fake.manifest).hexdigest()})
                if path.startswith("/v2/bad/blobs/") or path.startswith("/storage/"):
                    digest = path.rsplit("/", 1)[1]
                    data = fake.blobs.get(digest)
                    if data is None:
                        return self.send(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')
                    if mode == "concurrent" and digest in fake.layers:
                        return self.send_when_three(data)
                    if mode == "bad-and-trickle" and digest == fake.layers[0]:
                        return self.trickle(data)
                    if digest != fake.layer:
                        return self.send(200, data)
                    if mode == "bad-and-trickle":
                        data = bytearray(data)
                        data[4] ^= 0xFF
                        return self.send(200, bytes(data))
                    if mode == "redirect-loop":
                        return self.send(302, b"", headers={"Location": path})
                    if mode == "redirect-ok" and path.startswith("/v2/"):
                        return self.send(307, b"", headers={"Location": f"https://localhost:{fake.port}/storage/{digest}"})
                    if mode == "wrong-digest":
                        data = bytearray(data)
                        data[4] ^= 0xFF  # the gzip header's mtime: still decompresses, to the same diff_id
                        return self.send(200, bytes(data))
                    if mode == "too-long":
                        return self.send(200, data + b"x" * 100)
                    if mode == "too-short":
                        return self.send(200, data[:-10])
                    if mode == "huge-length":  # announces 2^50 bytes, sends the blob, then waits
                        self.send_response(200)
                        self.send_header("Content-Length", str(1 << 50))
                        self.end_headers()
                        try:
                            self.wfile.write(data)
                            self.wfile.flush()
                            time.sleep(20)
                        except OSError:
                            pass
                        return
                    if mode.startswith("drop-once") and n == 1:  # half, then the connection drops
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[:len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    rng = self.headers.get("Range", "")
                    fake.ranges.append(rng)
                    if mode == "drop-once" and rng.startswith("bytes="):
                        start = int(rng[6:].rstrip("-"))
                        return self.send(206, data[start:], headers={
                            "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
                    if mode == "slow-once" and n == 1:
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        try:
                            for i in range(0, len(data), 65536):
                                self.wfile.write(data[i:i + 65536])
                                self.wfile.flush()
                                time.sleep(0.3)
                        except OSError:
                            pass
                        return
                    if mode == "trickle":
                        return self.trickle(data)
                    return self.send(200, data)
                self.send(404, b"{}")

            def trickle(self, data):  # 100 bytes, then a byte every half second for 30 s
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data[:100])
                    for i in range(60):
                        self.wfile.write(data[100 + i:101 + i])
                        self.wfile.flush()
                        time.sleep(0.5)
                except OSError:
                    pass

            def send_when_three(self, data):
                """Holds a blob until three (or all that are left) are asked for at once, or 5 s
                passed, noting the most in flight."""
                with fake.lock:
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                harness.wait_until(lambda: fake.inflight >= min(3, len(fake.layers) - fake.served), 5, 0.01)
                try:
                    self.send(200, data)
                finally:
                    with fake.lock:
                        fake.inflight -= 1
                        fake.served += 1

            def server_manifest(self):
                return fake.manifest

            def send(self, status, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if body:
                    try:
                        self.wfile.write(body)
                    except OSError:
                        pass

        if tls:
            self.httpd = _tls_server(h, self.port, Handler)
        else:
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
            self.httpd.daemon_threads = True
            threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_plain_http_only_with_tls_verify_false(h):
    layout, _ = _layout(h)
    with FakeRegistry(h, "good", layout, tls=False) as fake:
        r = _pull(h, f"docker://{fake.host}/bad:1")
        check(r.rc != 0, f"a plain-HTTP registry is refused by default\n{r!r}")
        check_in(f"registry {fake.host}", r.err, "names the registry")
        check_in("TLS", r.err, "a TLS error")
        check_in("a plain-HTTP registry? --tls-verify=false", r.err, "the hint")
        _nothing_left(h, "plain http")
        r = _pull(h, f"docker://{fake.host}/bad:1", "--tls-verify=false")
        check_eq(r.rc, 0, f"--tls-verify=false allows plain HTTP\n{r!r}")
    # One that answers a TLS hello with nothing: after --stall-timeout, plain HTTP.
    with FakeRegistry(h, "silent-tls", layout, tls=False) as fake:
        r = _pull(h, f"docker://{fake.host}/bad:1", "--tls-verify=false", "--stall-timeout", "2")
        check_eq(r.rc, 0, f"--tls-verify=false with a registry silent to TLS\n{r!r}")


def test_killed_pull_leaves_nothing_half_done(h):
    """kill -9 while a layer streams in: the helper dies with crun-lite, no half layer is
    visible, and the next pull completes the image."""
    import signal
    layout, _ = _layout(h, layers=[harness.busybox_layer(h), _bytes_file("random.bin", os.urandom(1 << 20))])
    with FakeRegistry(h, "slow-once", layout) as fake:
        argv = h.rt_argv("image", "pull", "--store", _store(h), "--cert-dir", _certs(h), f"docker://{fake.host}/bad:1",
                         root=False)
        p = h.spawn(argv)
        tmp = os.path.join(_store(h), "tmp")
        check(harness.wait_until(lambda: fake.hits.get(f"/v2/bad/blobs/{fake.layer}") and os.path.isdir(tmp) and
                                 os.listdir(tmp), 20, 0.01), "the slow layer is being unpacked")
        if h.mode == "root":  # the helper parses what the registry sends as nobody, not as root
            for pid in [q for q in harness.descendants() if "crun-lite-pull" in harness.proc_cmdline(q)]:
                with open(f"/proc/{pid}/status") as f:
                    ids = {line.split(":")[0]: line.split()[1:] for line in f if line.startswith(("Uid", "Gid", "Groups", "NoNewPrivs"))}
                check_eq(ids["Uid"], ["65534"] * 4, "the helper's uids")
                check_eq(ids["Gid"], ["65534"] * 4, "the helper's gids")
                check_eq(ids["Groups"], [], "no supplementary groups")
                check_eq(ids["NoNewPrivs"], ["1"], "no_new_privs")
        os.kill(p.pid, signal.SIGKILL)
        h.finish(p)
        helpers = [pid for pid in harness.descendants() if "crun-lite-pull" in harness.proc_cmdline(pid)]
        check(harness.wait_until(lambda: not [q for q in harness.descendants()
                                              if "crun-lite-pull" in harness.proc_cmdline(q)], 5),
              f"no helper outlives crun-lite: {helpers}")
        check_eq(_ls(h), [], "no image recorded")
        layer_hex = [d for d in os.listdir(os.path.join(_store(h), "layers"))]
        for d in layer_hex:
            check(os.path.exists(os.path.join(_store(h), "layers", d, "layer.json")), f"layer {d} is complete")
        r = _pull(h, f"docker://{fake.host}/bad:1", "--cert-dir", _certs(h))
        check_eq(r.rc, 0, f"the next pull\n{r!r}")
        with open(os.path.join(_store(h), "layers", r.json()["layers"][1].split(":")[1], "diff", "random.bin"), "rb") as f:
            check_eq(len(f.read()), 1 << 20, "the layer is whole")
        check_eq(h.rt("image", "prune", "--store", _store(h), root=False).rc, 0, "prune")
        check_eq(os.listdir(tmp), [], "prune removed the killed pull's work")


def test_a_slow_pull_holds_up_no_other_image_command(h):
    """The store's lock is not held while a pull's layers stream in: a load, an image rm and
    a prune of the same store finish meanwhile (prune leaving the pull's work alone), and
    the pull then completes."""
    layout, _ = _layout(h, layers=[harness.busybox_layer(h), _bytes_file("random.bin", os.urandom(1 << 20))])
    archive = os.path.join(h.tmp, "other.tar")
    harness.make_oci_archive(h, archive, "other", layers=[_files(("o", "o"))])
    with FakeRegistry(h, "slow-once", layout) as fake:
        p = h.spawn(h.rt_argv("image", "pull", "--store", _store(h), "--cert-dir", _certs(h), "--format", "json",
                              f"docker://{fake.host}/bad:1", root=False))
        check(harness.wait_until(lambda: fake.hits.get(f"/v2/bad/blobs/{fake.layer}"), 20, 0.01),
              "the slow layer is being fetched")
        r = h.rt("image", "load", "--store", _store(h), "--format", "json", archive, root=False, timeout=4)
        check_eq(r.rc, 0, f"image load during the pull\n{r!r}")
        for args in (["rm", r.json()["id"]], ["prune"]):
            r = h.rt("image", *args, "--store", _store(h), root=False, timeout=4)
            check_eq(r.rc, 0, f"image {args[0]} during the pull\n{r!r}")
        check(p.poll() is None, "all done while the pull still ran")
        r = h.finish(p)
        check_eq(r.rc, 0, f"the pull\n{r!r}")
        layer = os.path.join(_store(h), "layers", r.json()["layers"][1].split(":")[1])
        check_eq(os.path.getsize(os.path.join(layer, "diff", "random.bin")), 1 << 20, "the layer is whole")
        check_eq(os.listdir(os.path.join(_store(h), "tmp")), [], "no work left")


def _bytes_file(name, data):
    def add(t):
        import io
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode = len(data), 0o644
        t.addfile(ti, io.BytesIO(data))
    return add


def _fake_pull(h, mode, *extra, timeout=60):
    layout, _ = _layout(h, layers=[harness.busybox_layer(h), _files(("big.bin", "y" * 300000))])
    with FakeRegistry(h, mode, layout) as fake:
        t0 = time.monotonic()
        r = _pull(h, f"docker://{fake.host}/bad:1", "--cert-dir", _certs(h), *extra, timeout=timeout)
        r.elapsed = time.monotonic() - t0
        r.fake = fake
        return r


def _bad(h, mode, expect, *extra):
    h._store_for = None  # a store of its own
    r = _fake_pull(h, mode, *extra)
    check(r.rc != 0, f"{mode}: the pull must fail\n{r!r}")
    check_in(f"registry {r.fake.host}: repository bad", r.err, f"{mode}: names registry and repository")
    check_eq(r.err.count(f"registry {r.fake.host}:"), 1, f"{mode}: and names them once\n{r.err}")
    for e in expect:
        check_in(e, r.err, f"{mode}: the error")
    _nothing_left(h, mode)
    return r


def test_fake_registry_serves_a_good_image(h):
    r = _fake_pull(h, "good")
    check_eq(r.rc, 0, f"the fake registry's image pulls\n{r!r}")
    h._store_for = None  # a new store: the layers must be fetched again
    r2 = _fake_pull(h, "redirect-ok")
    check_eq(r2.rc, 0, f"a blob redirected to other storage\n{r2!r}")
    check_eq(r2.fake.hits.get(f"/storage/{r2.fake.layer}"), 1, "the redirect was followed")


def test_layers_download_in_parallel_bounded(h):
    """Five layers: three are fetched at once, never more."""
    layers = [harness.busybox_layer(h)] + [_files((f"f{i}", f"layer {i}\n" * 1000)) for i in range(4)]
    layout, _ = _layout(h, layers=layers)
    with FakeRegistry(h, "concurrent", layout) as fake:
        r = _pull(h, f"docker://{fake.host}/bad:1", "--cert-dir", _certs(h))
        check_eq(r.rc, 0, f"pull\n{r!r}")
        check_eq(fake.max_inflight, 3, "three blobs in flight at most, and at least")
        check_eq(len(r.json()["layers"]), 5, "every layer stored")
        check_eq(_layer_file(h, r.json(), 4, "f3"), "layer 3\n" * 1000, "the last layer is whole")


def test_a_failed_layer_stops_the_others(h):
    """The last layer's digest is wrong while the first trickles: the pull fails at once,
    naming the bad layer, without waiting for the slow one, and leaves nothing."""
    r = _bad(h, "bad-and-trickle", ["digest mismatch"])
    check_in(r.fake.layer, r.err, "names the bad layer")
    check(r.elapsed < 15, f"the trickling layer was abandoned ({r.elapsed:.1f}s)")
    check(harness.wait_until(lambda: not [q for q in harness.descendants()
                                          if "crun-lite-pull" in harness.proc_cmdline(q)], 5), "no helper left")


def test_progress_on_a_terminal(h):
    layout, cfg = _layout(h)
    diff = cfg["rootfs"]["diff_ids"][0][:19]

    with FakeRegistry(h, "good", layout) as fake:
        argv = h.rt_argv("image", "pull", "--store", _store(h), "--cert-dir", _certs(h), f"docker://{fake.host}/bad:1",
                         root=False)
        rc, out = harness.on_a_terminal(argv)
        check_eq(rc, 0, f"pull on a terminal: {out!r}")
        check_in(f"{diff}  done, ", out, "a line per layer")
        check_in(f"Pulled image {fake.host}/bad:1", out, "the summary")
        rc, out = harness.on_a_terminal(argv)
        check_in(f"{diff}  already present", out, "second pull: nothing fetched")
        rc, out = harness.on_a_terminal(argv[:-1] + ["-q", argv[-1]])
        check(diff not in out and out.strip().startswith("sha256:"), f"--quiet: the id only: {out!r}")


def test_dropped_connection_resumes(h):
    for mode in ("drop-once", "drop-once-norange"):
        h._store_for = None
        r = _fake_pull(h, mode)
        check_eq(r.rc, 0, f"{mode}: the blob is resumed after the dropped connection\n{r!r}")
        check_eq(r.fake.hits.get(f"/v2/bad/blobs/{r.fake.layer}"), 2, f"{mode}: asked twice")
        check(r.fake.ranges and r.fake.ranges[-1].startswith("bytes="), f"{mode}: with a Range: {r.fake.ranges}")
        check_eq(_layer_file(h, r.json(), 1, "big.bin"), "y" * 300000, f"{mode}: the layer is whole")


def test_wrong_digest_size_and_content_digest(h):
    r = _bad(h, "wrong-digest", ["digest mismatch"])
    check_in(r.fake.layer, r.err, "names the layer's digest")
    r = _bad(h, "too-long", ["larger than"])
    check_in(r.fake.layer, r.err, "names the blob")
    # A Content-Length above the blob's size fails at once, not after a stall waiting for the bytes.
    r = _bad(h, "huge-length", ["larger than", "(Content-Length 1125899906842624)"])
    check_in(r.fake.layer, r.err, "names the blob")
    check(r.elapsed < 10, f"at once, not after --stall-timeout ({r.elapsed:.1f} s)")
    r = _bad(h, "too-short", ["of the blob's"])
    check_in(r.fake.layer, r.err, "names the blob")
    _bad(h, "wrong-content-digest", ["Docker-Content-Digest", "does not match"])


def test_an_artifact_is_not_an_image(h):
    _bad(h, "artifact", ["config media type `application/vnd.cncf.helm.config.v1+json` is not a container image's"])


def test_oversized_documents(h):
    _bad(h, "big-manifest", ["manifest 1", "larger than 4194304 bytes"])
    r = _bad(h, "big-config", ["more than the 8 MiB"])
    check_in(r.fake.config, r.err, "names the config's digest")


def test_endless_redirects(h):
    r = _bad(h, "redirect-loop", ["redirects"])
    check_in(r.fake.layer, r.err, "names the blob")
    check(r.fake.hits.get(f"/v2/bad/blobs/{r.fake.layer}", 0) <= 12, "bounded")


def test_looping_token_server(h):
    r = _bad(h, "token-loop", ["token server", "redirects"])
    check(r.fake.hits.get("/token", 0) <= 12, f"bounded: {r.fake.hits}")
    r = _bad(h, "token-refused", ["HTTP 401"])
    check(r.fake.hits.get("/token", 0) <= 3, f"a token the registry keeps refusing is asked for again once: {r.fake.hits}")


def test_status_errors(h):
    _bad(h, "401", ["authentication", "--creds"])
    _bad(h, "403", ["access denied", "DENIED"])
    _bad(h, "404", ["manifest 1: not found", "MANIFEST_UNKNOWN"])


def test_too_many_requests(h):
    r = _fake_pull(h, "429-once")
    check_eq(r.rc, 0, f"a 429 with Retry-After: 1 is waited out\n{r!r}")
    check(r.elapsed >= 1, "after waiting")
    r = _bad(h, "429-always", ["HTTP 429", "after 3 retries"])
    check(r.elapsed < 20, "bounded")
    r = _bad(h, "429-long", ["retry after 3600 s", "giving up"])
    check(r.elapsed < 10, "a long Retry-After is not waited for")


def test_trickling_server(h):
    r = _bad(h, "trickle", ["stalled", "--stall-timeout"], "--stall-timeout", "2")
    check_in(r.fake.layer, r.err, "names the blob")
    check(r.elapsed < 30, f"abandoned after the stall timeout, not at the end ({r.elapsed:.1f}s)")


def test_interrupting_a_stalled_pull(h):
    """SIGINT or SIGTERM sent to the pull alone (not its process group, as Ctrl-C is) ends a
    transfer that stalls at once, not at --stall-timeout, saying so; nothing is kept."""
    import signal
    h._store_for = None
    layout, _ = _layout(h, layers=[harness.busybox_layer(h), _files(("big.bin", "y" * 300000))])
    for sig in (signal.SIGINT, signal.SIGTERM):
        with FakeRegistry(h, "trickle", layout) as fake:
            p = h.spawn(h.rt_argv("image", "pull", "--store", _store(h), "--cert-dir", _certs(h), "--stall-timeout",
                                  "60", f"docker://{fake.host}/bad:1", root=False))
            check(harness.wait_until(lambda: fake.hits.get(f"/v2/bad/blobs/{fake.layer}"), 20, 0.05),
                  "the blob is being fetched")
            t0 = time.monotonic()
            os.kill(p.pid, sig)
            r = h.finish(p, timeout=30)
            elapsed = time.monotonic() - t0
        check_eq(r.rc, -sig, f"ended by {sig.name}\n{r!r}")
        check_in(f"interrupted by {sig.name}", r.err, "the error says why")
        check(elapsed < 10, f"at once, not at the stall timeout ({elapsed:.1f}s)")
    _nothing_left(h, "interrupted pulls")


def test_bad_references_and_options(h):
    empty = os.path.join(h.tmp, "empty-registries.conf")
    open(empty, "w").close()
    env = dict(os.environ, CONTAINERS_REGISTRIES_CONF=empty)
    for ref, want in (("docker://", "no image name"), ("docker://Host:99999/a", "invalid registry"),
                      ("docker://127.0.0.1:5000/a@sha256:12", "digest"),
                      ("app:1", "short name `app:1`: no unqualified-search-registries"),
                      ("docker://127.0.0.1:5000/a:-bad", "invalid tag"), ("Bad/Name", "invalid"),
                      ("", "invalid image reference ``: no image name"),
                      (":v1", "invalid image reference `:v1`: no image name")):
        r = h.rt("image", "pull", "--store", _store(h), ref, root=False, env=env)
        check(r.rc != 0, f"{ref}: refused\n{r!r}")
        check_in(want, r.err, f"{ref}: the error")
        check("registry.invalid" not in r.err, f"{ref}: no placeholder registry shown\n{r!r}")
    r = h.rt("image", "pull", "--store", _store(h), "--tls-verify=maybe", "docker://127.0.0.1:1/a", root=False)
    check(r.rc != 0 and "--tls-verify" in r.err, f"a bad --tls-verify\n{r!r}")
    r = h.rt("image", "pull", "--store", _store(h), "--creds", ":x", "docker://127.0.0.1:1/a", root=False)
    check(r.rc != 0 and "--creds" in r.err, f"a bad --creds\n{r!r}")
    r = h.rt("image", "pull", "--store", _store(h), "docker://127.0.0.1:1/a:1", root=False)
    check(r.rc != 0 and "registry 127.0.0.1:1" in r.err, f"nothing listening\n{r!r}")
    _nothing_left(h, "bad references")


if __name__ == "__main__":
    harness.main(globals())
