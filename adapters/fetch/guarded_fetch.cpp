// libcurl, one easy handle per hop, CURLOPT_RESOLVE pinning the checked
// address; getaddrinfo for the check.
#include "adapters/fetch/guarded_fetch.hpp"

#include "events/json_safe.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace riposte::adapters::fetch {

namespace {

namespace ev = events;
using ev::riposte_errc;

// An address as 16 bytes (IPv4 mapped into ::ffff:0:0/96).
using addr16 = std::array<unsigned char, 16>;

addr16 from_v4(const unsigned char* b) {
  addr16 a{};
  a[10] = a[11] = 0xff;
  std::memcpy(a.data() + 12, b, 4);
  return a;
}

struct cidr {
  addr16 base{};
  int bits = 0; // of the 128
};

bool parse_cidr(const std::string& text, cidr& out) {
  auto slash = text.find('/');
  auto host = text.substr(0, slash);
  unsigned char buf[16];
  int max_bits = 0;
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) {
    out.base = from_v4(buf);
    max_bits = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    std::memcpy(out.base.data(), buf, 16);
    max_bits = 128;
  } else {
    return false;
  }
  int bits = max_bits;
  if (slash != std::string::npos) {
    auto n = text.substr(slash + 1);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos)
      return false;
    bits = std::stoi(n);
    if (bits > max_bits)
      return false;
  }
  out.bits = bits + (max_bits == 32 ? 96 : 0);
  return true;
}

bool in(const addr16& a, const cidr& c) {
  for (int i = 0; i < c.bits; ++i) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((a[byte] >> bit) & 1) != ((c.base[byte] >> bit) & 1))
      return false;
  }
  return true;
}

// Why an address is off limits ("" when it is a public one).
std::string forbidden(const addr16& a) {
  static const std::vector<std::pair<cidr, const char*>> ranges = [] {
    std::vector<std::pair<cidr, const char*>> r;
    for (auto [text, why] : std::vector<std::pair<const char*, const char*>>{
             {"0.0.0.0/8", "an unspecified address"},
             {"10.0.0.0/8", "a private address"},
             {"100.64.0.0/10", "a carrier-grade NAT address"},
             {"127.0.0.0/8", "a loopback address"},
             {"169.254.0.0/16", "a link-local address"},
             {"172.16.0.0/12", "a private address"},
             {"192.168.0.0/16", "a private address"},
             {"224.0.0.0/4", "a multicast address"},
             {"240.0.0.0/4", "a reserved address"},
             {"::/128", "an unspecified address"},
             {"::1/128", "a loopback address"},
             {"fc00::/7", "a unique-local address"},
             {"fe80::/10", "a link-local address"},
             {"ff00::/8", "a multicast address"}}) {
      cidr c;
      parse_cidr(text, c);
      r.emplace_back(c, why);
    }
    return r;
  }();
  for (const auto& [range, why] : ranges)
    if (in(a, range))
      return why;
  return {};
}

std::string show(const addr16& a) {
  char buf[INET6_ADDRSTRLEN];
  bool v4 = std::all_of(a.begin(), a.begin() + 10, [](unsigned char b) { return b == 0; }) &&
            a[10] == 0xff && a[11] == 0xff;
  if (v4)
    inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  return buf;
}

ev::error_info refused(std::string why) {
  return ev::make_error(riposte_errc::invalid_value, "riposte will not fetch this URL: " + why);
}

struct url_parts {
  std::string scheme, host, port;
};

ev::result<url_parts> split(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u{curl_url(), &curl_url_cleanup};
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
    return refused("'" + ev::excerpt(url) + "' is not a URL");
  auto get = [&](CURLUPart part, unsigned flags) {
    char* v = nullptr;
    std::string out;
    if (curl_url_get(u.get(), part, &v, flags) == CURLUE_OK && v)
      out = v;
    curl_free(v);
    return out;
  };
  url_parts p{get(CURLUPART_SCHEME, 0), get(CURLUPART_HOST, 0),
              get(CURLUPART_PORT, CURLU_DEFAULT_PORT)};
  if (p.scheme != "http" && p.scheme != "https")
    return refused("only http and https URLs are fetched");
  if (!p.host.empty() && p.host.front() == '[')
    p.host = p.host.substr(1, p.host.size() - 2);
  return p;
}

// The first address of `host` that policy lets us reach, or why none.
ev::result<std::string> pick_address(const std::string& host, const std::vector<cidr>& allow) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr)
    return refused("the host '" + host + "' does not resolve");
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard{res, &freeaddrinfo};
  std::string why;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    addr16 a{};
    if (ai->ai_family == AF_INET)
      a = from_v4(reinterpret_cast<const unsigned char*>(
          &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr));
    else if (ai->ai_family == AF_INET6)
      std::memcpy(a.data(), &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
    else
      continue;
    bool allowed = std::any_of(allow.begin(), allow.end(), [&](const cidr& c) { return in(a, c); });
    auto bad = forbidden(a);
    if (allowed || bad.empty())
      return show(a);
    why = show(a) + " is " + bad + " (allow it with --fetch-allow)";
  }
  return refused(why.empty() ? "the host '" + host + "' has no usable address" : why);
}

struct transfer {
  std::string body;
  std::uint64_t max = 0;
  bool too_big = false;
};

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<transfer*>(user);
  if (t->body.size() + size * n > t->max) {
    t->too_big = true;
    return 0;
  }
  t->body.append(data, size * n);
  return size * n;
}

} // namespace

bool valid_cidr(const std::string& text) {
  cidr c;
  return parse_cidr(text, c);
}

ev::result<url_target> parse_fetch_url(const std::string& url) {
  auto p = split(url);
  if (!p)
    return p.error();
  return url_target{p->scheme, p->host, p->port};
}

ev::result<std::string> check_address(const std::string& literal,
                                      const std::vector<std::string>& allow_text) {
  unsigned char buf[16];
  addr16 a{};
  if (inet_pton(AF_INET, literal.c_str(), buf) == 1)
    a = from_v4(buf);
  else if (inet_pton(AF_INET6, literal.c_str(), buf) == 1)
    std::memcpy(a.data(), buf, 16);
  else
    return refused("'" + ev::excerpt(literal) + "' is not an address");
  for (const auto& text : allow_text) {
    cidr c;
    if (parse_cidr(text, c) && in(a, c))
      return show(a);
  }
  if (auto bad = forbidden(a); !bad.empty())
    return refused(show(a) + " is " + bad);
  return show(a);
}

ev::result<fetched> guarded_fetch(const std::string& start_url, const fetch_policy& policy) {
  std::vector<cidr> allow;
  for (const auto& text : policy.allow) {
    cidr c;
    if (parse_cidr(text, c))
      allow.push_back(c);
  }
  auto deadline = std::chrono::steady_clock::now() + policy.timeout;
  std::string url = start_url;
  for (int hop = 0; hop <= policy.max_redirects; ++hop) {
    auto parts = split(url);
    if (!parts)
      return parts.error();
    auto address = pick_address(parts->host, allow);
    if (!address)
      return address.error();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return refused("it did not answer within " + std::to_string(policy.timeout.count()) + " ms");

    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl{curl_easy_init(), &curl_easy_cleanup};
    // Connect to the address just checked, whatever DNS says next.
    auto pin = parts->host + ":" + parts->port + ":" +
               (address->find(':') != std::string::npos ? "[" + *address + "]" : *address);
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> resolve{
        curl_slist_append(nullptr, pin.c_str()), &curl_slist_free_all};
    transfer t;
    t.max = policy.max_bytes;
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_RESOLVE, resolve.get());
    curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(policy.max_bytes));
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &on_data);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &t);
    auto rc = curl_easy_perform(curl.get());
    if (t.too_big || rc == CURLE_FILESIZE_EXCEEDED)
      return refused("it is larger than " + std::to_string(policy.max_bytes) + " bytes");
    if (rc == CURLE_OPERATION_TIMEDOUT)
      return refused("it did not answer within " + std::to_string(policy.timeout.count()) + " ms");
    if (rc != CURLE_OK)
      return refused(std::string{"fetching it failed: "} + curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status >= 300 && status < 400) {
      char* next = nullptr;
      curl_easy_getinfo(curl.get(), CURLINFO_REDIRECT_URL, &next);
      if (next == nullptr)
        return refused("it redirects without a Location");
      url = next; // checked again on the next hop
      continue;
    }
    if (status != 200)
      return refused("it answered HTTP " + std::to_string(status));
    char* type = nullptr;
    curl_easy_getinfo(curl.get(), CURLINFO_CONTENT_TYPE, &type);
    return fetched{std::move(t.body), type ? type : "", url};
  }
  return refused("more than " + std::to_string(policy.max_redirects) + " redirects");
}

} // namespace riposte::adapters::fetch
