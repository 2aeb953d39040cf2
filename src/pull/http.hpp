// crun-lite-pull's HTTP client: libcurl's easy interface, one handle reused
// (keep-alive, TLS sessions) for every request of a pull.  Everything it
// receives is hostile: bodies are capped by the caller, redirects bounded and
// kept to http(s), a transfer below 1 KiB/s for the stall timeout is
// abandoned, and an Authorization header never follows a redirect to another
// host (libcurl's rule for custom headers since 7.58).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <curl/curl.h>

namespace crunlite::pull {

struct HttpOptions {
    bool tls_verify = true;
    std::string ca_pem;                   // extra CAs (PEM), added to the system store
    std::string client_cert, client_key;  // their contents (PEM), read before privileges are dropped
    long stall_timeout = 30;              // seconds below 1 KiB/s
    long max_redirects = 10;
};

// Receives a 2xx body as it arrives, with the response's status (206 for a range).
using Sink = std::function<void(const char* data, size_t len, long status)>;

struct Response {
    long status = 0;
    std::map<std::string, std::string> headers;  // the final response's, names in lower case
    std::vector<std::string> www_authenticate;   // every such header of the final response
    std::string body;                            // non-streamed bodies; error bodies (first 64 KiB)
    size_t streamed = 0;                         // bytes handed to the sink
};

class Http {
public:
    explicit Http(const HttpOptions& options);
    ~Http();
    Http(const Http&) = delete;
    Http& operator=(const Http&) = delete;

    // GET `url` with extra `headers` ("Name: value").  A 2xx body goes to
    // `sink` when given (which may throw to abort), else into `body`, at most
    // `limit` bytes (more throws Error(EFBIG) "`what`: larger than N bytes").
    // Transport failures throw Error naming `what` (ECONNREFUSED, ETIMEDOUT,
    // ELOOP for endless redirects, EPROTO for TLS, ...).
    Response get(const std::string& url, const std::vector<std::string>& headers, size_t limit,
                 const std::string& what, const Sink& sink = {});

private:
    CURL* curl_;
    HttpOptions options_;
};

}  // namespace crunlite::pull
