// crun-lite-health: the http probe of a healthcheck (include/crunlite/app/health.hpp).
//
//   crun-lite-health URL TIMEOUT_MS
//
// crun-lite starts it in the container's network namespace (never its mount
// namespace), already without privileges: nobody with no groups, or without
// capabilities, and no_new_privs (src/app/health_probe.cpp).  It GETs URL once
// with libcurl and prints one line for the healthcheck's log:
//   "HTTP 204", exit 0: a 2xx or 3xx answer (a redirect is not followed);
//   "HTTP 503", exit 1: any other status;
//   "connect: Connection refused", "timed out after 2000 ms", ..., exit 1:
//     no answer;
//   a usage or URL error, exit 2.
// The URL is parsed again here, by libcurl's own parser, which the transfer
// then uses: http or https, host localhost, 127.0.0.1 or [::1], no user
// name, password or zone id; anything else is refused (crun-lite checked the
// same rules, app::check_probe_url).  localhost is resolved by libcurl itself
// (7.78+: 127.0.0.1 and ::1, no resolver).  No proxy, no redirects, no
// cookies, no netrc; TLS certificates are not verified (the peer is the
// container's own loopback, whose certificate is usually self-signed: the
// probe checks that it answers, as Kubernetes' HTTPS probes do).  The body is
// never read: the transfer stops at its first byte.
//
// Linked dynamically, with libcurl and libc only (docs/design.md, "HTTP
// healthchecks"); none of crun-lite's code.
#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr long kMaxTimeoutMs = 24L * 3600 * 1000;

int usage_error(const std::string& message) {
    std::fprintf(stderr, "crun-lite-health: %s\n", message.c_str());
    return 2;
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// A part of `u`, or "" when it has none.
std::string part(CURLU* u, CURLUPart which) {
    char* text = nullptr;
    if (curl_url_get(u, which, &text, 0) != CURLUE_OK || !text) return "";
    std::string out = text;
    curl_free(text);
    return out;
}

// Why libcurl's reading of `url` is no probe of the container itself, or "".
std::string url_problem(CURLU* u, const char* url) {
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) return std::string("invalid URL: ") + curl_url_strerror(rc);
    std::string scheme = lower(part(u, CURLUPART_SCHEME)), host = lower(part(u, CURLUPART_HOST));
    if (scheme != "http" && scheme != "https") return "the scheme must be http or https";
    if (host != "localhost" && host != "127.0.0.1" && host != "[::1]")
        return "the host must be localhost, 127.0.0.1 or [::1], not `" + host + "`";
    if (!part(u, CURLUPART_USER).empty() || !part(u, CURLUPART_PASSWORD).empty() ||
        !part(u, CURLUPART_OPTIONS).empty() || !part(u, CURLUPART_ZONEID).empty())
        return "no user name, password, login options or zone id";
    return "";
}

// Ends the transfer at the first byte of the body: only the status matters.
size_t stop_at_body(char*, size_t, size_t, void* reached) {
    *static_cast<bool*>(reached) = true;
    return 0;
}

// One GET; the line to print and the exit code.
int probe(CURLU* u, long timeout_ms) {
    CURL* curl = curl_easy_init();
    if (!curl) return usage_error("curl_easy_init failed");
    char error[CURL_ERROR_SIZE] = "";
    bool body = false;
    curl_easy_setopt(curl, CURLOPT_CURLU, u);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");  // "": no proxy, whatever the environment says
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "crun-lite-health");
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, stop_at_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0, os_errno = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_cleanup(curl);
    if ((rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && body)) && status > 0) {
        std::printf("HTTP %ld", status);
        return status >= 200 && status < 400 ? 0 : 1;
    }
    if (rc == CURLE_COULDNT_CONNECT && os_errno)
        std::printf("connect: %s", std::strerror(static_cast<int>(os_errno)));
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        std::printf("timed out after %ld ms", timeout_ms);
    else
        std::printf("%s%s%s", curl_easy_strerror(rc), *error ? ": " : "", error);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) return usage_error("usage: crun-lite-health URL TIMEOUT_MS");
    char* end = nullptr;
    errno = 0;
    long timeout_ms = std::strtol(argv[2], &end, 10);
    if (errno || end == argv[2] || *end || timeout_ms < 1 || timeout_ms > kMaxTimeoutMs)
        return usage_error(std::string("TIMEOUT_MS: want 1-") + std::to_string(kMaxTimeoutMs) + ", got `" + argv[2] + "`");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return usage_error("curl_global_init failed");
    CURLU* u = curl_url();
    if (!u) return usage_error("curl_url failed");
    std::string why = url_problem(u, argv[1]);
    int code = why.empty() ? probe(u, timeout_ms) : usage_error(std::string("`") + argv[1] + "`: " + why);
    curl_url_cleanup(u);
    curl_global_cleanup();
    std::fflush(stdout);
    return code;
}
