// Items as chat backends read them.
#include "adapters/backends/history.hpp"

#include "events/json_safe.hpp"

#include <algorithm>

namespace riposte::adapters::backends {

using json = nlohmann::json;

void append_paragraph(std::string& text, const std::string& paragraph) {
  text += (text.empty() ? "" : "\n\n") + paragraph;
}

bool merge_system(const json& item, std::string& system) {
  if (!item.is_object() || events::string_or(item, "type", "message") != "message")
    return false;
  auto role = events::string_or(item, "role");
  if (role != "system" && role != "developer")
    return false;
  append_paragraph(system, content_text(item.value("content", json())));
  return true;
}

std::string content_text(const json& content) {
  if (content.is_string())
    return content.get<std::string>();
  std::string text;
  if (!content.is_array())
    return text;
  for (const auto& part : content) {
    if (!part.is_object())
      continue;
    auto type = events::string_or(part, "type", "");
    if (type == "input_text" || type == "output_text" || type == "text")
      text += events::string_or(part, "text", "");
    else if (type == "refusal")
      text += events::string_or(part, "refusal", "");
  }
  return text;
}

std::vector<std::string> content_image_urls(const json& content) {
  std::vector<std::string> urls;
  if (!content.is_array())
    return urls;
  for (const auto& part : content) {
    if (!part.is_object() || events::string_or(part, "type", "") != "input_image")
      continue;
    auto url = part.value("image_url", json());
    if (url.is_string() && !url.get_ref<const std::string&>().empty())
      urls.push_back(url.get<std::string>());
  }
  return urls;
}

std::string data_url_payload(const std::string& url) {
  auto comma = url.find(',');
  if (url.rfind("data:", 0) != 0 || comma == std::string::npos)
    return {};
  return url.substr(comma + 1);
}

std::string reasoning_text(const json& item) {
  std::string text;
  for (const auto& part : item.value("content", json::array()))
    if (part.is_object())
      text += events::string_or(part, "text", "");
  if (text.empty())
    for (const auto& part : item.value("summary", json::array()))
      if (part.is_object())
        text += events::string_or(part, "text", "");
  return text;
}

bool is_compaction(const json& item) {
  return item.is_object() && events::string_or(item, "type", "") == "compaction";
}

std::vector<const json*> after_compaction(std::vector<const json*> items) {
  std::size_t last = items.size();
  for (std::size_t i = 0; i < items.size(); ++i)
    if (is_compaction(*items[i]))
      last = i;
  if (last == items.size())
    return items;
  std::vector<const json*> kept;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = *items[i];
    bool user = item.is_object() && events::string_or(item, "type", "message") == "message" &&
                events::string_or(item, "role", "") == "user";
    if (i >= last || user)
      kept.push_back(items[i]);
  }
  return kept;
}

bool drop_filter::skip(const json& item) {
  if (seen >= dropped)
    return false;
  auto role = item.is_object() ? events::string_or(item, "role", "") : std::string{};
  if (item.is_object() && events::string_or(item, "type", "message") == "message" &&
      (role == "system" || role == "developer"))
    return false;
  ++seen;
  return true;
}

std::vector<const json*> turn_items(const actors::generation_request& req) {
  std::vector<const projections::chain_segment*> segments;
  for (auto* s = req.history.get(); s != nullptr; s = s->parent.get())
    segments.push_back(s);
  std::reverse(segments.begin(), segments.end());
  drop_filter drop{req.dropped_items};
  std::vector<const json*> all;
  for (const auto* seg : segments)
    for (const auto& item : seg->items)
      if (!drop.skip(item))
        all.push_back(&item);
  for (const auto& item : req.items)
    all.push_back(&item);
  return after_compaction(std::move(all));
}

std::string compaction_summary(const json& item) {
  auto summary = content_text(item.value("content", json()));
  return summary.empty() ? summary
                         : "Summary of the earlier conversation (compacted):\n\n" + summary;
}

} // namespace riposte::adapters::backends
