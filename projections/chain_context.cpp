#include "projections/chain_context.hpp"

#include "events/json_safe.hpp"
#include "events/json_text.hpp"

#include <cstdio>

namespace riposte::projections {

using json = nlohmann::json;

std::vector<const json*> chain_items(const chain_ptr& leaf) {
  std::vector<const chain_segment*> segments;
  for (auto* s = leaf.get(); s != nullptr; s = s->parent.get())
    segments.push_back(s);
  std::vector<const json*> out;
  for (auto it = segments.rbegin(); it != segments.rend(); ++it)
    for (const auto& item : (*it)->items)
      out.push_back(&item);
  return out;
}

std::string fingerprint_of(const json& instructions) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : events::dump_json(instructions)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::int64_t cacheable_prefix(const response_state& view) {
  if (!view.usage.is_object())
    return 0;
  auto prompt = view.usage.value("input_tokens", std::int64_t{0});
  bool reasoned = false;
  for (const auto& item : view.output)
    reasoned = reasoned || item.value("type", "") == "reasoning";
  return reasoned ? prompt : prompt + view.usage.value("output_tokens", std::int64_t{0});
}

std::string to_chain_snapshot(const chain_segment& seg, bool checkpoint,
                              const std::string& parent_id) {
  namespace text = events::json_text;
  std::string out = "{";
  text::put_int(out, "depth", seg.depth);
  text::put_string(out, "model", seg.model);
  text::put_string(out, "instructions_fp", seg.instructions_fp);
  text::put_int(out, "prefix_tokens", seg.prefix_tokens);
  if (!checkpoint)
    text::put_string(out, "parent", parent_id);
  out += ",\"items\":[";
  bool first = true;
  auto put = [&](const json& item) {
    if (!first)
      out += ',';
    first = false;
    text::put_json(out, item);
  };
  if (checkpoint) {
    // The segment's own items come last: its ancestors' first, oldest first.
    std::vector<const chain_segment*> segments;
    for (auto* s = seg.parent.get(); s != nullptr; s = s->parent.get())
      segments.push_back(s);
    for (auto it = segments.rbegin(); it != segments.rend(); ++it)
      for (const auto& item : (*it)->items)
        put(item);
  }
  for (const auto& item : seg.items)
    put(item);
  out += "]}";
  return out;
}

stored_chain from_chain_snapshot(const std::string& payload) {
  stored_chain out;
  auto j = events::parse_stored(payload);
  if (!j.is_object() || !j.value("items", json()).is_array() ||
      !j.value("depth", json()).is_number_integer())
    return out; // not a segment this build wrote: rebuilt from the log instead
  try {
    chain_segment seg{nullptr, j["items"], j["depth"].get<std::int64_t>()};
    seg.model = j.value("model", "");
    seg.instructions_fp = j.value("instructions_fp", "");
    seg.prefix_tokens = j.value("prefix_tokens", std::int64_t{0});
    out.segment = std::make_shared<const chain_segment>(std::move(seg));
    if (j.contains("parent") && j["parent"].is_string())
      out.parent_id = j["parent"].get<std::string>();
  } catch (const json::exception&) {
    out = {}; // a field of the wrong type
  }
  return out;
}

} // namespace riposte::projections
