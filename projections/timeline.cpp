#include "projections/timeline.hpp"

#include "events/event.hpp"
#include "events/json_safe.hpp"
#include "projections/response_view.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string_view>

namespace riposte::projections {

namespace {

using json = nlohmann::json;
namespace ev = events;

const std::set<std::string_view> delta_types{ev::output_text_delta::type, ev::reasoning_delta::type,
                                             ev::function_call_arguments_delta::type,
                                             ev::custom_tool_call_input_delta::type};

// Text a model or a client wrote, safe to print on a terminal: excerpted,
// C0 controls escaped (by excerpt), and C1 controls (U+0080–U+009F, which
// some terminals obey as escape sequences) escaped too.
std::string shown(std::string_view text, std::size_t max = 60) {
  auto cut = ev::excerpt(text, max);
  std::string out;
  out.reserve(cut.size());
  for (std::size_t i = 0; i < cut.size(); ++i) {
    auto c = static_cast<unsigned char>(cut[i]);
    auto next = i + 1 < cut.size() ? static_cast<unsigned char>(cut[i + 1]) : 0;
    if (c == 0xC2 && next >= 0x80 && next <= 0x9F) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04X", next);
      out += escaped;
      ++i;
      continue;
    }
    out += cut[i];
  }
  return out;
}

// A run of deltas keeps this much of its text, well past what shown() prints.
constexpr std::size_t run_head_max = 256;

std::string str(const json& data, const char* key) {
  return ev::string_or(data, key);
}

// What a row says of its event, for people.
std::string detail_of(std::string_view type, const json& data, bool& alert) {
  if (type == ev::response_created::type)
    return "model " + shown(str(data, "model"));
  if (type == ev::output_item_added::type || type == ev::output_item_done::type) {
    const auto& item = data.contains("item") ? data["item"] : json();
    auto text = shown(str(item, "type")) + " " + shown(str(item, "id"));
    if (auto name = str(item, "name"); !name.empty())
      text += " " + shown(name);
    return text;
  }
  if (type == ev::output_text_done::type)
    return std::to_string(str(data, "text").size()) + " bytes";
  if (type == ev::function_call_arguments_done::type)
    return shown(str(data, "name")) + "(" + shown(str(data, "arguments")) + ")";
  if (type == ev::response_failed::type) {
    alert = true;
    return shown(str(data, "code")) + ": " + shown(str(data, "message"), 200);
  }
  if (type == ev::response_cancelled::type || type == ev::response_incomplete::type) {
    alert = true;
    return shown(str(data, "reason"));
  }
  if (type == ev::conversation_items_added::type) {
    auto n = data.contains("items") && data["items"].is_array() ? data["items"].size() : 0;
    auto response = str(data, "response_id");
    return std::to_string(n) + " items" + (response.empty() ? "" : " from " + shown(response));
  }
  if (type == ev::conversation_turn_began::type || type == ev::conversation_turn_ended::type)
    return shown(str(data, "response_id"));
  return "";
}

std::string status_after(std::string_view type, const std::string& status) {
  if (type == ev::response_queued::type)
    return "queued";
  if (type == ev::response_created::type || type == ev::response_in_progress::type)
    return "in_progress";
  if (auto ended = ending_status(type); !ended.empty())
    return std::string{ended};
  return status;
}

std::string millis(std::int64_t us) {
  char out[32];
  std::snprintf(out, sizeof out, "%.3f ms", static_cast<double>(us) / 1000.0);
  return out;
}

} // namespace

ev::result<timeline> make_timeline(const std::vector<ev::envelope>& stream) {
  timeline t;
  if (stream.empty())
    return t;
  t.stream = stream.front().stream;
  auto start = stream.front().recorded_at;
  std::vector<std::int64_t> gaps;
  std::optional<std::int64_t> last_delta;
  std::string run_item;      // the item of the run of deltas the last row is
  std::size_t run_bytes = 0; // what that run said so far: its size,
  std::string run_head;      // and its first bytes (enough for an excerpt)
  auto run_detail = [&](const std::string& delta) {
    run_bytes += delta.size();
    if (run_head.size() < run_head_max)
      run_head += delta.substr(0, run_head_max - run_head.size());
    return std::to_string(run_bytes) + " bytes \"" + shown(run_head) + "\"";
  };
  for (const auto& env : stream) {
    auto decoded = ev::decode(env);
    if (!decoded)
      return ev::make_error(ev::riposte_errc::corrupt_event, "stream '" + env.stream + "' event " +
                                                                 std::to_string(env.seq) + ": " +
                                                                 decoded.error().message);
    auto data = ev::data_of(*decoded);
    auto type = std::string{ev::type_of(*decoded)};
    auto at = static_cast<std::int64_t>(env.recorded_at) - static_cast<std::int64_t>(start);
    t.totals.duration_us = std::max(t.totals.duration_us, at);
    if (delta_types.count(type) != 0) {
      ++t.totals.deltas;
      if (!t.totals.first_token_us)
        t.totals.first_token_us = at;
      if (last_delta)
        gaps.push_back(at - *last_delta);
      last_delta = at;
      auto item = str(data, "item_id");
      if (!t.rows.empty() && t.rows.back().type == type && run_item == item) {
        auto& row = t.rows.back();
        ++row.count;
        row.until_us = at;
        row.detail = run_detail(str(data, "delta"));
        continue;
      }
      run_item = item;
      run_bytes = 0;
      run_head.clear();
      t.rows.push_back({at, at, type, 1, run_detail(str(data, "delta")), false});
      continue;
    }
    bool alert = false;
    auto detail = detail_of(type, data, alert);
    if (type == ev::output_item_added::type && data.contains("item") &&
        str(data["item"], "type").find("call") != std::string::npos)
      ++t.totals.tool_calls;
    if (data.contains("usage") && data["usage"].is_object())
      t.totals.usage = data["usage"];
    t.totals.status = status_after(type, t.totals.status);
    t.rows.push_back({at, at, type, 1, std::move(detail), alert});
    run_item.clear();
  }
  if (!gaps.empty()) {
    std::sort(gaps.begin(), gaps.end());
    t.totals.gap_p50_us = gaps[gaps.size() / 2];
    t.totals.gap_max_us = gaps.back();
  }
  return t;
}

std::string timeline_text(const timeline& t) {
  std::string out = t.stream + (t.totals.status.empty() ? "" : "  " + t.totals.status) + "\n";
  for (const auto& row : t.rows) {
    char offset[48];
    std::snprintf(offset, sizeof offset, "%12s  ", ("+" + millis(row.at_us)).c_str());
    out += offset;
    out += row.alert ? "!! " : "   ";
    out += row.type;
    if (row.count > 1)
      out += " x" + std::to_string(row.count) + " (until +" + millis(row.until_us) + ")";
    if (!row.detail.empty())
      out += "  " + row.detail;
    out += '\n';
  }
  const auto& s = t.totals;
  out += "duration " + millis(s.duration_us);
  if (s.first_token_us)
    out += ", first token +" + millis(*s.first_token_us);
  out += ", " + std::to_string(s.deltas) + " deltas";
  if (s.deltas > 1)
    out += ", gaps p50 " + millis(s.gap_p50_us) + " max " + millis(s.gap_max_us);
  out += ", " + std::to_string(s.tool_calls) + " tool calls";
  if (s.usage.is_object())
    out += ", tokens in " + std::to_string(s.usage.value("input_tokens", 0)) + " out " +
           std::to_string(s.usage.value("output_tokens", 0));
  out += '\n';
  return out;
}

json timeline_json(const timeline& t) {
  auto ms = [](std::int64_t us) { return static_cast<double>(us) / 1000.0; };
  json rows = json::array();
  for (const auto& row : t.rows)
    rows.push_back({{"at_ms", ms(row.at_us)},
                    {"until_ms", ms(row.until_us)},
                    {"type", row.type},
                    {"count", row.count},
                    {"detail", row.detail},
                    {"alert", row.alert}});
  const auto& s = t.totals;
  return {{"object", "response.timeline"},
          {"id", t.stream},
          {"rows", rows},
          {"totals",
           {{"status", s.status.empty() ? json() : json(s.status)},
            {"duration_ms", ms(s.duration_us)},
            {"time_to_first_token_ms", s.first_token_us ? json(ms(*s.first_token_us)) : json()},
            {"deltas", s.deltas},
            {"gap_p50_ms", ms(s.gap_p50_us)},
            {"gap_max_ms", ms(s.gap_max_us)},
            {"tool_calls", s.tool_calls},
            {"usage", s.usage}}}};
}

} // namespace riposte::projections
