#include "adapters/tools/web_search.hpp"

#include "adapters/tools/reply_body.hpp"
#include "events/json_safe.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace riposte::adapters::tools {

namespace {

namespace ev = events;
using json = nlohmann::json;
using actors::search_result;

std::vector<search_result> results_of(const json& list) {
  std::vector<search_result> out;
  if (!list.is_array())
    return out;
  for (const auto& r : list) {
    if (!r.is_object() || !r.value("url", json()).is_string())
      continue;
    out.push_back({r["url"].get<std::string>(),
                   r.value("title", json()).is_string() ? r["title"].get<std::string>() : "",
                   r.value("content", json()).is_string() ? r["content"].get<std::string>() : ""});
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A fixed result set: the results mentioning a word of the query, else all.
class static_search final : public actors::web_search_provider {
public:
  explicit static_search(std::vector<search_result> all)
    : all_(std::move(all)) {}

  ev::result<std::vector<search_result>> search(const std::string& query) const override {
    std::vector<std::string> words;
    std::istringstream in{lower(query)};
    for (std::string w; in >> w;)
      if (w.size() > 2)
        words.push_back(w);
    std::vector<search_result> hits;
    for (const auto& r : all_) {
      auto text = lower(r.title + " " + r.snippet + " " + r.url);
      if (std::any_of(words.begin(), words.end(),
                      [&](const std::string& w) { return text.find(w) != std::string::npos; }))
        hits.push_back(r);
    }
    return hits.empty() ? all_ : hits;
  }

private:
  std::vector<search_result> all_;
};

// SearXNG's JSON API: GET /search?q=...&format=json.
class searxng_search final : public actors::web_search_provider {
public:
  searxng_search(std::string base, long timeout_ms)
    : base_(std::move(base))
    , timeout_ms_(timeout_ms) {}

  ev::result<std::vector<search_result>> search(const std::string& query) const override {
    CURL* curl = curl_easy_init();
    if (curl == nullptr)
      return ev::make_error(ev::riposte_errc::internal, "could not start an HTTP request");
    char* escaped = curl_easy_escape(curl, query.c_str(), static_cast<int>(query.size()));
    auto url = base_ + "/search?format=json&q=" + (escaped ? escaped : "");
    curl_free(escaped);
    std::string body;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_reply);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms_, 5'000L));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(8 << 20));
    auto code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (code != CURLE_OK)
      return ev::make_error(
          code == CURLE_OPERATION_TIMEDOUT ? ev::riposte_errc::backend_timeout
                                           : ev::riposte_errc::backend_unavailable,
          std::string{"the search provider did not answer: "} + curl_easy_strerror(code));
    if (status != 200)
      return ev::make_error(ev::riposte_errc::backend_unavailable,
                            "the search provider answered HTTP " + std::to_string(status));
    auto j = events::parse_untrusted(body);
    if (!j.is_object() || !j.contains("results"))
      return ev::make_error(ev::riposte_errc::backend_unavailable,
                            "the search provider's answer is not SearXNG JSON");
    return results_of(j["results"]);
  }

private:
  std::string base_;
  long timeout_ms_;
};

} // namespace

ev::result<std::shared_ptr<const actors::web_search_provider>>
make_web_search(const std::string& spec, long timeout_ms) {
  auto colon = spec.find(':');
  auto kind = spec.substr(0, colon);
  auto rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "searxng" && (rest.rfind("http://", 0) == 0 || rest.rfind("https://", 0) == 0)) {
    while (!rest.empty() && rest.back() == '/')
      rest.pop_back();
    return std::shared_ptr<const actors::web_search_provider>{
        std::make_shared<searxng_search>(rest, timeout_ms)};
  }
  if (kind == "static" && !rest.empty()) {
    std::ifstream in{rest};
    std::stringstream text;
    text << in.rdbuf();
    auto j = events::parse_untrusted(text.str());
    if (!in || !j.is_object() || !j.contains("results"))
      return ev::make_error(ev::riposte_errc::invalid_value,
                            "--web-search static: " + rest +
                                " is not a JSON file with a \"results\" list");
    return std::shared_ptr<const actors::web_search_provider>{
        std::make_shared<static_search>(results_of(j["results"]))};
  }
  return ev::make_error(ev::riposte_errc::invalid_value,
                        "--web-search must be searxng:http(s)://HOST[:PORT] or static:PATH, not '" +
                            spec + "'");
}

} // namespace riposte::adapters::tools
