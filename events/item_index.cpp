#include "events/item_index.hpp"

#include <algorithm>
#include <cstdio>

namespace riposte::events {

namespace {

// The item's id first: ids sort by time (events/ids.hpp), so entries are
// appended at the end of the store's markers whatever the tenant, and
// "id" sorts before the markers that come and go ("inflight", "readyz"),
// so a flushed table of them overlaps no older entries.
std::string namespace_of(std::string_view tenant, std::string_view item_id) {
  std::string ns = "id\x1f";
  ns.append(item_id);
  ns += '\x1f';
  ns.append(tenant);
  return ns;
}

// Where entries were written before (tenant first), still read.
std::string old_namespace_of(std::string_view tenant, std::string_view item_id) {
  std::string ns = "items\x1f";
  ns.append(tenant);
  ns += '\x1f';
  ns.append(item_id);
  return ns;
}

} // namespace

bool indexable_item_id(std::string_view id) {
  if (id.empty() || id.size() > 256)
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}

marker_ref item_marker(std::string_view tenant, std::string_view item_id, std::int64_t stored_us,
                       std::string_view holder) {
  char when[24];
  std::snprintf(when, sizeof when, "%020lld",
                static_cast<long long>(std::max<std::int64_t>(0, stored_us)));
  std::string key = when;
  key += '\x1f';
  key.append(holder);
  return {namespace_of(tenant, item_id), std::move(key)};
}

result<std::vector<std::string>> item_holders(event_log& log, std::string_view tenant,
                                              std::string_view item_id) {
  if (!indexable_item_id(item_id))
    return std::vector<std::string>{};
  auto keys = log.list_markers(namespace_of(tenant, item_id));
  if (!keys)
    return keys.error();
  auto old = log.list_markers(old_namespace_of(tenant, item_id));
  if (!old)
    return old.error();
  keys->insert(keys->end(), old->begin(), old->end());
  std::sort(keys->begin(), keys->end(), std::greater<>());
  std::vector<std::string> out;
  for (const auto& key : *keys) {
    auto sep = key.find('\x1f');
    if (sep == std::string::npos)
      continue;
    auto holder = key.substr(sep + 1);
    if (std::find(out.begin(), out.end(), holder) == out.end())
      out.push_back(std::move(holder));
  }
  return out;
}

} // namespace riposte::events
