// News between replicas as PostgreSQL NOTIFY payloads (see
// event_log::subscribe_news): who sent it, then a list of entries, each a
// position or an id, never an event's payload. A payload stays under
// PostgreSQL's limit (8000 bytes), so a batch may take several.
#pragma once

#include "events/event_log.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace riposte::adapters::store {

inline constexpr std::size_t max_news_payload = 7000;

// `news` as payloads from `origin`, each at most max_news_payload bytes
// (an entry too long for one alone is left out); appends to one stream are
// told once, at their last seq.
std::vector<std::string> encode_news(std::string_view origin,
                                     const std::vector<events::log_news>& news);

// A payload that only says `origin` is there (sent as a replica starts, so
// the others tell it their appends at once).
std::string hello_news(std::string_view origin);

// The entries of a payload another process sent; nothing for one of
// `own_origin`, or for bytes that are not news (anyone may NOTIFY).
// `from_peer`, if given, says whether it was news from another process.
std::vector<events::log_news> decode_news(std::string_view payload, std::string_view own_origin,
                                          bool* from_peer = nullptr);

} // namespace riposte::adapters::store
