#include "projections/response_index.hpp"

#include "events/json_safe.hpp"
#include "events/response_events.hpp"

#include <algorithm>
#include <string_view>

namespace riposte::projections {

namespace {

using json = nlohmann::json;
namespace ev = events;

// The segment format this build writes; a manifest of another is rebuilt
// from the feed.
constexpr int format_version = 1;

std::int64_t int_or(const json& obj, const char* key, std::int64_t fallback) {
  if (!obj.is_object())
    return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

bool is_delta(std::string_view type) {
  return type == ev::output_text_delta::type || type == ev::reasoning_delta::type ||
         type == ev::function_call_arguments_delta::type ||
         type == ev::custom_tool_call_input_delta::type;
}

void take_usage(index_row& row, const json& data) {
  auto it = data.find("usage");
  if (it == data.end() || !it->is_object())
    return;
  row.input_tokens = int_or(*it, "input_tokens", 0);
  row.output_tokens = int_or(*it, "output_tokens", 0);
}

// A row in a segment: a fixed-order array (the field names once, here).
json row_array(const index_row& r) {
  return json::array({r.id, r.tenant, r.model, r.mode, r.status, r.created_at, r.created_us,
                      r.ended_us, r.first_token_us, r.error_code, r.reason, r.input_tokens,
                      r.output_tokens, r.previous_response_id, r.conversation, r.deleted, r.seq,
                      r.position});
}

constexpr std::size_t row_fields = 18;

bool row_from(const json& a, index_row& r) {
  if (!a.is_array() || a.size() != row_fields)
    return false;
  auto s = [&](std::size_t i, std::string& out) {
    if (!a[i].is_string())
      return false;
    out = a[i].get<std::string>();
    return true;
  };
  auto n = [&](std::size_t i, std::int64_t& out) {
    if (!a[i].is_number_integer())
      return false;
    out = a[i].get<std::int64_t>();
    return true;
  };
  auto u = [&](std::size_t i, std::uint64_t& out) {
    if (!a[i].is_number_unsigned())
      return false;
    out = a[i].get<std::uint64_t>();
    return true;
  };
  if (!a[15].is_boolean())
    return false;
  r.deleted = a[15].get<bool>();
  return s(0, r.id) && s(1, r.tenant) && s(2, r.model) && s(3, r.mode) && s(4, r.status) &&
         n(5, r.created_at) && n(6, r.created_us) && n(7, r.ended_us) && n(8, r.first_token_us) &&
         s(9, r.error_code) && s(10, r.reason) && n(11, r.input_tokens) && n(12, r.output_tokens) &&
         s(13, r.previous_response_id) && s(14, r.conversation) && u(16, r.seq) &&
         u(17, r.position) && !r.id.empty();
}

json ms(std::optional<std::int64_t> us) {
  if (!us)
    return nullptr;
  return static_cast<double>(*us) / 1000.0;
}

json or_null(const std::string& s) {
  return s.empty() ? json() : json(s);
}

} // namespace

std::optional<std::int64_t> index_row::duration_us() const {
  if (!ended())
    return std::nullopt;
  return std::max<std::int64_t>(0, ended_us - created_us);
}

std::optional<std::int64_t> index_row::time_to_first_token_us() const {
  if (first_token_us == 0)
    return std::nullopt;
  return std::max<std::int64_t>(0, first_token_us - created_us);
}

std::optional<std::int64_t> index_row::total_tokens() const {
  if (input_tokens < 0)
    return std::nullopt;
  return input_tokens + std::max<std::int64_t>(0, output_tokens);
}

const index_row* response_index::find(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &rows_[it->second];
}

bool response_index::needs_data(std::string_view type) {
  return type == ev::response_created::type || type == ev::response_completed::type ||
         type == ev::response_incomplete::type || type == ev::response_failed::type ||
         type == ev::response_cancelled::type;
}

json response_index::digest(std::string_view type, const json& data) {
  if (!data.is_object())
    return nullptr;
  json out = json::object();
  auto copy = [&](const json& from, json& to, const char* key) {
    if (auto it = from.find(key); it != from.end())
      to[key] = *it;
  };
  if (type == ev::response_created::type) {
    for (const char* key : {"model", "mode", "created_at"})
      copy(data, out, key);
    if (auto p = data.find("params"); p != data.end() && p->is_object()) {
      json params = json::object();
      for (const char* key : {"background", "previous_response_id", "conversation"})
        copy(*p, params, key);
      out["params"] = std::move(params);
    }
  } else {
    for (const char* key : {"usage", "reason", "code"})
      copy(data, out, key);
  }
  return out;
}

void response_index::apply(const ev::envelope& env) {
  position_ = std::max(position_, env.global_position);
  std::string_view type = env.type;
  if (type == ev::response_created::type) {
    if (env.seq != 0 || by_id_.count(env.stream))
      return;
    const auto& d = env.data;
    index_row r;
    r.id = env.stream;
    r.tenant = env.tenant;
    r.model = ev::string_or(d, "model");
    r.mode = ev::string_or(d, "mode");
    const json params = d.is_object() && d.contains("params") ? d["params"] : json::object();
    bool background = params.is_object() && params.value("background", json(false)) == true;
    if (r.mode.empty() && background)
      r.mode = "background";
    r.status = background ? "queued" : "in_progress";
    r.created_at = int_or(d, "created_at", 0);
    r.created_us = env.recorded_at;
    r.previous_response_id = ev::string_or(params, "previous_response_id");
    if (params.is_object())
      if (auto c = params.find("conversation"); c != params.end())
        r.conversation = c->is_object()   ? ev::string_or(*c, "id")
                         : c->is_string() ? c->get<std::string>()
                                          : std::string{};
    r.seq = 0;
    r.position = env.global_position;
    by_id_.emplace(r.id, rows_.size());
    dirty_.insert(rows_.size() / segment_rows);
    rows_.push_back(std::move(r));
    return;
  }
  auto it = by_id_.find(env.stream);
  if (it == by_id_.end())
    return; // not a response, or one whose creation this index never saw
  auto& r = rows_[it->second];
  if (env.seq <= r.seq)
    return;
  r.seq = env.seq;
  dirty_.insert(it->second / segment_rows);
  const auto& d = env.data;
  if (type == ev::response_queued::type) {
    r.status = "queued";
  } else if (type == ev::response_in_progress::type) {
    r.status = "in_progress";
  } else if (is_delta(type)) {
    if (r.first_token_us == 0)
      r.first_token_us = env.recorded_at;
  } else if (type == ev::response_completed::type) {
    r.status = "completed";
    r.ended_us = env.recorded_at;
    take_usage(r, d);
  } else if (type == ev::response_incomplete::type) {
    r.status = "incomplete";
    r.ended_us = env.recorded_at;
    r.reason = ev::string_or(d, "reason");
    take_usage(r, d);
  } else if (type == ev::response_failed::type) {
    r.status = "failed";
    r.ended_us = env.recorded_at;
    r.error_code = ev::string_or(d, "code", "server_error");
    take_usage(r, d);
  } else if (type == ev::response_cancelled::type) {
    r.status = "cancelled";
    r.ended_us = env.recorded_at;
    r.reason = ev::string_or(d, "reason");
  } else if (type == ev::response_deleted::type) {
    r.deleted = true;
  }
}

bool response_index::matches(const index_row& r, const index_filter& f) {
  auto within = [](std::optional<std::int64_t> v, std::optional<std::int64_t> lo,
                   std::optional<std::int64_t> hi, std::int64_t scale) {
    if (!lo && !hi)
      return true;
    if (!v)
      return false;
    return (!lo || *v >= *lo * scale) && (!hi || *v <= *hi * scale);
  };
  return (f.include_deleted || !r.deleted) && (f.tenant.empty() || r.tenant == f.tenant) &&
         (f.status.empty() || r.status == f.status) && (f.model.empty() || r.model == f.model) &&
         (f.mode.empty() || r.mode == f.mode) &&
         (f.error_code.empty() || r.error_code == f.error_code) &&
         (f.conversation.empty() || r.conversation == f.conversation) &&
         (f.previous_response_id.empty() || r.previous_response_id == f.previous_response_id) &&
         (!f.created_after || r.created_at >= *f.created_after) &&
         (!f.created_before || r.created_at < *f.created_before) &&
         within(r.total_tokens(), f.min_tokens, f.max_tokens, 1) &&
         within(r.duration_us(), f.min_duration_ms, f.max_duration_ms, 1000) &&
         within(r.time_to_first_token_us(), f.min_first_token_ms, f.max_first_token_ms, 1000);
}

ev::result<index_page> response_index::query(const index_filter& f) const {
  std::size_t n = rows_.size();
  // Positions in the order asked for: 0 .. n-1 over rows_ forwards or back.
  std::size_t start = 0;
  if (!f.after.empty()) {
    auto it = by_id_.find(f.after);
    if (it == by_id_.end() || (!f.tenant.empty() && rows_[it->second].tenant != f.tenant))
      return ev::make_error(ev::riposte_errc::invalid_value,
                            "Invalid value for 'after': no response '" + ev::excerpt(f.after) +
                                "' is in the index.",
                            "after");
    start = (f.ascending ? it->second : n - 1 - it->second) + 1;
  }
  index_page page;
  for (std::size_t k = start; k < n; ++k) {
    const auto& r = rows_[f.ascending ? k : n - 1 - k];
    if (!matches(r, f))
      continue;
    if (page.rows.size() == f.limit) {
      page.has_more = true;
      break;
    }
    page.rows.push_back(r);
  }
  return page;
}

std::vector<std::pair<std::size_t, std::string>> response_index::take_dirty_segments() {
  std::vector<std::pair<std::size_t, std::string>> out;
  for (auto seg : dirty_) {
    json rows = json::array();
    auto end = std::min(rows_.size(), (seg + 1) * segment_rows);
    for (auto i = seg * segment_rows; i < end; ++i)
      rows.push_back(row_array(rows_[i]));
    out.emplace_back(seg, ev::dump_json(json{{"format", format_version}, {"rows", rows}}));
  }
  dirty_.clear();
  return out;
}

std::string response_index::manifest() const {
  return ev::dump_json(json{{"format", format_version},
                            {"position", position_},
                            {"rows", rows_.size()},
                            {"segments", (rows_.size() + segment_rows - 1) / segment_rows}});
}

ev::result<response_index::manifest_info>
response_index::read_manifest(const std::string& payload) {
  auto m = ev::parse_stored(payload);
  if (!m.is_object() || m.value("format", json()) != format_version ||
      !m.value("position", json()).is_number_unsigned() ||
      !m.value("segments", json()).is_number_unsigned())
    return ev::make_error(ev::riposte_errc::corrupt_event,
                          "the response index's manifest is not one this build wrote");
  return manifest_info{m["position"].get<std::uint64_t>(), m["segments"].get<std::size_t>()};
}

ev::status response_index::load_segment(const std::string& payload) {
  auto seg = ev::parse_stored(payload);
  if (!seg.is_object() || seg.value("format", json()) != format_version ||
      !seg.value("rows", json()).is_array())
    return ev::make_error(ev::riposte_errc::corrupt_event,
                          "a segment of the response index is not one this build wrote");
  for (const auto& a : seg["rows"]) {
    index_row r;
    if (!row_from(a, r))
      return ev::make_error(ev::riposte_errc::corrupt_event,
                            "a row of the response index is malformed");
    if (by_id_.count(r.id))
      continue;
    by_id_.emplace(r.id, rows_.size());
    rows_.push_back(std::move(r));
  }
  return ev::ok();
}

json response_index::to_json(const index_row& r) {
  json usage = nullptr;
  if (auto total = r.total_tokens())
    usage = {{"input_tokens", r.input_tokens},
             {"output_tokens", std::max<std::int64_t>(0, r.output_tokens)},
             {"total_tokens", *total}};
  return {{"id", r.id},
          {"object", "response.index_entry"},
          {"tenant", r.tenant},
          {"model", r.model},
          {"mode", or_null(r.mode)},
          {"status", r.status},
          {"created_at", r.created_at},
          {"duration_ms", ms(r.duration_us())},
          {"time_to_first_token_ms", ms(r.time_to_first_token_us())},
          {"error_code", or_null(r.error_code)},
          {"reason", or_null(r.reason)},
          {"usage", usage},
          {"previous_response_id", or_null(r.previous_response_id)},
          {"conversation", or_null(r.conversation)},
          {"deleted", r.deleted},
          {"events", r.seq + 1}};
}

} // namespace riposte::projections
