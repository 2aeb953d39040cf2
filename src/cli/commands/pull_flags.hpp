// The pull options `image pull` and `run|create --image docker://...` share,
// as podman's: --platform, --creds, --authfile, --cert-dir, --tls-verify, and
// --stall-timeout.
#pragma once

#include "../command.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/pull.hpp"

namespace crunlite::cli {

struct PullFlags {
    std::string platform, creds, authfile, cert_dir, tls_verify;
    int stall_timeout = 30;
};

inline void add_pull_options(po::options_description& opts, PullFlags& f) {
    opts.add_options()
        ("platform", po::value(&f.platform), "OS/ARCH[/VARIANT] to pick from a multi-platform image (default: this machine's)")
        ("creds", po::value(&f.creds), "USER[:PASSWORD] for the registry (default: the auth files)")
        ("authfile", po::value(&f.authfile),
         "auth.json to read credentials from (default: $XDG_RUNTIME_DIR/containers/auth.json, "
         "~/.config/containers/auth.json, ~/.docker/config.json)")
        ("cert-dir", po::value(&f.cert_dir),
         "registry certificates: *.crt CAs, NAME.cert+NAME.key client (default /etc/containers/certs.d/HOST:PORT)")
        ("tls-verify", po::value(&f.tls_verify)->implicit_value("true"),
         "verify the registry's certificate (default true, unless registries.conf says insecure); "
         "false also allows plain http")
        ("stall-timeout", po::value(&f.stall_timeout), "abandon a transfer below 1 KiB/s for this many seconds (default 30)");
}

inline image::PullOptions pull_options(const PullFlags& f, const std::string& verb) {
    image::PullOptions o;
    if (!f.platform.empty()) o.platform = with_context(verb, [&] { return image::parse_platform(f.platform); });
    if (!f.creds.empty()) o.creds = with_context(verb, [&] { return image::parse_creds(f.creds); });
    o.authfile = f.authfile;
    o.cert_dir = f.cert_dir;
    o.tls_verify_set = !f.tls_verify.empty();
    if (f.tls_verify.empty() || f.tls_verify == "true" || f.tls_verify == "1") o.tls_verify = true;
    else if (f.tls_verify == "false" || f.tls_verify == "0") o.tls_verify = false;
    else throw Error(EINVAL, verb + ": --tls-verify: want true or false, got " + quote(f.tls_verify));
    if (f.stall_timeout < 1 || f.stall_timeout > 3600)
        throw Error(EINVAL, verb + ": --stall-timeout: want 1 to 3600 seconds, got " + std::to_string(f.stall_timeout));
    o.stall_timeout = f.stall_timeout;
    return o;
}

}  // namespace crunlite::cli
