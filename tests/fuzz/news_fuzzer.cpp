// Fuzz target: news between replicas (NOTIFY payloads anyone connected to
// the database may send). Whatever decodes must encode again and decode to
// the same news: cancels and admissions in order, appends merged per stream
// at their last seq; nothing decodes from this process's own origin.
#include "adapters/store/news_codec.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace {

using riposte::events::log_news;

struct digest {
  std::vector<std::pair<std::string, std::string>> ordered; // cancels and admissions, in order
  std::map<std::string, std::uint64_t> appended;
  bool operator==(const digest&) const = default;
};

digest digest_of(const std::vector<log_news>& news) {
  digest d;
  for (const auto& n : news) {
    if (n.what == log_news::kind::cancel)
      d.ordered.emplace_back(n.stream, n.tenant);
    else if (n.what == log_news::kind::admitted)
      d.ordered.emplace_back("admitted " + n.stream, std::to_string(n.seq));
    else if (n.what == log_news::kind::appended)
      d.appended[n.stream] = std::max(d.appended[n.stream], n.seq);
    else
      __builtin_trap(); // "missed" is never sent
  }
  return d;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace store = riposte::adapters::store;
  std::string_view payload{reinterpret_cast<const char*>(data), size};
  auto news = store::decode_news(payload, "me/1");
  if (news.empty())
    return 0;
  auto payloads = store::encode_news("other/2", news);
  std::vector<log_news> again;
  for (const auto& p : payloads) {
    if (p.size() > store::max_news_payload)
      __builtin_trap();
    if (!store::decode_news(p, "other/2").empty())
      __builtin_trap();
    for (auto& n : store::decode_news(p, "me/1"))
      again.push_back(std::move(n));
  }
  auto before = digest_of(news);
  auto after = digest_of(again);
  if (!(before == after))
    __builtin_trap();
  return 0;
}
