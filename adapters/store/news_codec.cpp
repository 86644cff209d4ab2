// NOTIFY payloads: {"o": origin, "n": [["a", stream, seq] | ["c", id, tenant] |
// ["j", lease holder, 0], ...]}.
#include "adapters/store/news_codec.hpp"

#include "adapters/store/stream_name.hpp"
#include "events/json_safe.hpp"

#include <algorithm>
#include <map>

namespace riposte::adapters::store {

namespace {

using json = nlohmann::json;
using events::log_news;

// Ids and tenant names hold no control characters, so an entry stays small
// as JSON (at most twice its bytes) and always fits a payload.
constexpr std::size_t max_news_tenant = 1024;

bool plain(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

json entry(const log_news& n) {
  switch (n.what) {
    case log_news::kind::appended: return json::array({"a", n.stream, n.seq});
    case log_news::kind::cancel: return json::array({"c", n.stream, n.tenant});
    case log_news::kind::admitted: return json::array({"j", n.stream, n.seq});
    case log_news::kind::missed: break;
  }
  return nullptr;
}

} // namespace

std::vector<std::string> encode_news(std::string_view origin, const std::vector<log_news>& news) {
  // Appends to one stream: the last seq says it all.
  std::map<std::string, std::uint64_t> appended;
  std::vector<json> entries;
  for (const auto& n : news) {
    if (n.what == log_news::kind::appended) {
      auto& seq = appended[n.stream];
      seq = std::max(seq, n.seq);
    } else if (auto e = entry(n); !e.is_null()) {
      entries.push_back(std::move(e));
    }
  }
  for (const auto& [stream, seq] : appended)
    entries.push_back(json::array({"a", stream, seq}));

  std::vector<std::string> out;
  std::string head = "{\"o\":" + events::dump_json(json(std::string{origin})) + ",\"n\":[";
  std::string payload;
  for (const auto& e : entries) {
    auto text = events::dump_json(e);
    if (head.size() + text.size() + 2 > max_news_payload)
      continue;
    if (!payload.empty() && payload.size() + text.size() + 3 > max_news_payload) {
      out.push_back(payload + "]}");
      payload.clear();
    }
    payload += payload.empty() ? head : ",";
    payload += text;
  }
  if (!payload.empty())
    out.push_back(payload + "]}");
  return out;
}

std::string hello_news(std::string_view origin) {
  return "{\"o\":" + events::dump_json(json(std::string{origin})) + ",\"n\":[]}";
}

std::vector<log_news> decode_news(std::string_view payload, std::string_view own_origin,
                                  bool* from_peer) {
  std::vector<log_news> out;
  if (from_peer)
    *from_peer = false;
  if (payload.size() > 8000)
    return out;
  auto j = events::parse_untrusted(payload);
  if (!j.is_object())
    return out;
  auto origin = j.find("o");
  auto list = j.find("n");
  if (origin == j.end() || !origin->is_string() ||
      origin->get_ref<const std::string&>() == own_origin || list == j.end() || !list->is_array())
    return out;
  if (from_peer)
    *from_peer = true;
  for (const auto& e : *list) {
    if (!e.is_array() || e.size() != 3 || !e[0].is_string() || !e[1].is_string())
      continue;
    const auto& kind = e[0].get_ref<const std::string&>();
    log_news n;
    n.stream = e[1].get<std::string>();
    if (kind == "j") { // names a lease holder ("id/epoch"), not a stream
      if (n.stream.empty() || n.stream.size() > max_news_tenant || !plain(n.stream))
        continue;
      n.what = log_news::kind::admitted;
      if (e[2].is_number_unsigned())
        n.seq = e[2].get<std::uint64_t>();
      out.push_back(std::move(n));
      continue;
    }
    if (!check_stream_name(n.stream) || !plain(n.stream))
      continue;
    if (kind == "a" && e[2].is_number_unsigned()) {
      n.what = log_news::kind::appended;
      n.seq = e[2].get<std::uint64_t>();
    } else if (kind == "c" && e[2].is_string()) {
      n.what = log_news::kind::cancel;
      n.tenant = e[2].get<std::string>();
      if (n.tenant.size() > max_news_tenant || !plain(n.tenant))
        continue;
    } else {
      continue;
    }
    out.push_back(std::move(n));
  }
  return out;
}

} // namespace riposte::adapters::store
