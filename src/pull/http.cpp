#include "http.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <exception>
#include <memory>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::pull {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr size_t kMaxHeaders = 256;

// What one transfer collects; libcurl's callbacks get a pointer to it.
struct Transfer {
    size_t limit = 0;
    std::string what;
    const Sink* sink = nullptr;
    long status = 0;  // of the response being received (redirects included)
    Response response;
    std::exception_ptr error;  // thrown by the sink or a cap; rethrown after curl returns
};

bool success(long status) { return status >= 200 && status < 300; }

size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 100)
        t->response.headers.clear();
        t->response.www_authenticate.clear();
        size_t sp = line.find(' ');
        t->status = sp == std::string_view::npos ? 0 : std::strtol(std::string(line.substr(sp + 1, 3)).c_str(), nullptr, 10);
        return size * n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return size * n;
    if (t->response.headers.size() >= kMaxHeaders) return size * n;
    std::string name = ascii_lower(std::string(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    if (name == "www-authenticate" && t->response.www_authenticate.size() < 16) t->response.www_authenticate.push_back(value);
    t->response.headers[name] = value;
    // A body announced larger than the limit fails now, not after a stall waiting for it.
    if (name == "content-length" && success(t->status)) {
        char* end = nullptr;
        errno = 0;
        unsigned long long announced = std::strtoull(value.c_str(), &end, 10);
        size_t had = t->response.streamed + t->response.body.size();
        if (end != value.c_str() && *end == '\0' &&
            (errno == ERANGE || announced > t->limit - std::min(t->limit, had))) {
            t->error = std::make_exception_ptr(Error(EFBIG, t->what + ": larger than " + std::to_string(t->limit) +
                                                                " bytes (Content-Length " + value + ")"));
            return 0;  // aborts the transfer
        }
    }
    return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t len = size * n;
    try {
        if (!success(t->status)) {  // an error body: keep its start for the message
            if (t->response.body.size() < kMaxErrorBody)
                t->response.body.append(data, std::min(len, kMaxErrorBody - t->response.body.size()));
            return len;
        }
        if (t->response.streamed + t->response.body.size() + len > t->limit)
            throw Error(EFBIG, t->what + ": larger than " + std::to_string(t->limit) + " bytes");
        if (t->sink && *t->sink) {
            (*t->sink)(data, len, t->status);
            t->response.streamed += len;
        } else {
            t->response.body.append(data, len);
        }
        return len;
    } catch (...) {
        t->error = std::current_exception();
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
}

// errno for a libcurl failure, so callers branch on codes, not text.
int errno_of(CURLcode c) {
    switch (c) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: return EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT: return ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT: return ETIMEDOUT;
        case CURLE_TOO_MANY_REDIRECTS: return ELOOP;
        case CURLE_UNSUPPORTED_PROTOCOL: return EPROTONOSUPPORT;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR: return EPROTO;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE: return ECONNRESET;
        default: return EIO;
    }
}

void set(CURL* c, CURLoption o, long v) { curl_easy_setopt(c, o, v); }

}  // namespace

Http::Http(const HttpOptions& options) : curl_(curl_easy_init()), options_(options) {
    if (!curl_) throw Error(ENOMEM, "curl_easy_init");
    set(curl_, CURLOPT_NOSIGNAL, 1L);
    set(curl_, CURLOPT_FOLLOWLOCATION, 1L);
    set(curl_, CURLOPT_MAXREDIRS, options.max_redirects);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    // A handshake that stalls is a stall too (a plain-HTTP registry that waits for a request).
    set(curl_, CURLOPT_CONNECTTIMEOUT, std::min(30L, options.stall_timeout));
    set(curl_, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    set(curl_, CURLOPT_LOW_SPEED_TIME, options.stall_timeout);
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "crun-lite-pull");
    // Blobs are compressed already; a Content-Encoding would only hide their digests.
    set(curl_, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    set(curl_, CURLOPT_SSL_VERIFYPEER, options.tls_verify ? 1L : 0L);
    set(curl_, CURLOPT_SSL_VERIFYHOST, options.tls_verify ? 2L : 0L);
    if (!options.ca_pem.empty()) {
        curl_blob blob{const_cast<char*>(options_.ca_pem.data()), options_.ca_pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(curl_, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (!options.client_cert.empty()) {
        curl_blob cert{const_cast<char*>(options_.client_cert.data()), options_.client_cert.size(), CURL_BLOB_COPY};
        curl_blob key{const_cast<char*>(options_.client_key.data()), options_.client_key.size(), CURL_BLOB_COPY};
        curl_easy_setopt(curl_, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(curl_, CURLOPT_SSLKEY_BLOB, &key);
    }
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_body);
}

Http::~Http() { curl_easy_cleanup(curl_); }

Response Http::get(const std::string& url, const std::vector<std::string>& headers, size_t limit,
                   const std::string& what, const Sink& sink) {
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> list(nullptr, curl_slist_free_all);
    for (const auto& h : headers) {
        curl_slist* next = curl_slist_append(list.get(), h.c_str());
        if (!next) throw Error(ENOMEM, "curl_slist_append");
        (void)list.release();
        list.reset(next);
    }
    Transfer t;
    t.limit = limit;
    t.what = what;
    t.sink = &sink;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(curl_);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
    if (t.error) std::rethrow_exception(t.error);
    if (rc != CURLE_OK) {
        std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        if (rc == CURLE_OPERATION_TIMEDOUT && detail.find("too slow") != std::string::npos)
            detail = "the transfer stalled (under 1 KiB/s for " + std::to_string(options_.stall_timeout) +
                     " s; see --stall-timeout): " + detail;
        else if (rc == CURLE_TOO_MANY_REDIRECTS)
            detail = "more than " + std::to_string(options_.max_redirects) + " redirects: " + detail;
        else if (errno_of(rc) == EPROTO)
            detail = "TLS: " + detail;
        throw Error(errno_of(rc), what + ": " + detail);
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &t.response.status);
    return std::move(t.response);
}

}  // namespace crunlite::pull
