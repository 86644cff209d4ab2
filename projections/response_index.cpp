#include "projections/response_index.hpp"

#include "events/conversation_events.hpp"
#include "events/json_safe.hpp"
#include "events/json_text.hpp"
#include "events/response_events.hpp"

#include <algorithm>
#include <charconv>
#include <concepts>
#include <string_view>

namespace riposte::projections {

namespace {

using json = nlohmann::json;
namespace ev = events;

// The segment format this build writes; a manifest of another is rebuilt
// from the feed (1 had no conversations).
constexpr int format_version = 2;

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

// A row in a segment: a fixed-order array (the field names once, in
// put_row), written straight as text, the bytes dump() would write for it:
// a segment of 1,024 rows is written again whole whenever one of them
// changes, and a tree of them cost more to build, copy and free.
void put_field(std::string& out, const std::string& s) {
  ev::json_text::put_quoted(out, s);
}
void put_field(std::string& out, bool b) {
  out += b ? "true" : "false";
}
template <class Integer>
requires std::integral<Integer>
void put_field(std::string& out, Integer n) {
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
}

template <class... Fields>
void put_fields(std::string& out, const Fields&... fields) {
  char separator = '[';
  ((out += separator, put_field(out, fields), separator = ','), ...);
  out += ']';
}

void put_row(std::string& out, const index_row& r) {
  put_fields(out, r.id, r.tenant, r.model, r.mode, r.status, r.created_at, r.created_us, r.ended_us,
             r.first_token_us, r.error_code, r.reason, r.input_tokens, r.output_tokens,
             r.previous_response_id, r.conversation, r.deleted, r.seq, r.position);
}

void put_row(std::string& out, const conversation_row& c) {
  put_fields(out, c.id, c.tenant, c.created_at, c.created_us, c.active_us, c.items, c.responses,
             c.last_response_id, c.deleted, c.seq, c.position);
}

// Reads a segment's row array field by field: each read says whether the
// field is there and of its type.
struct row_reader {
  const json& a;
  bool get(std::size_t i, std::string& out) const {
    if (!a[i].is_string())
      return false;
    out = a[i].get<std::string>();
    return true;
  }
  bool get(std::size_t i, std::int64_t& out) const {
    if (!a[i].is_number_integer())
      return false;
    out = a[i].get<std::int64_t>();
    return true;
  }
  bool get(std::size_t i, std::uint64_t& out) const {
    if (!a[i].is_number_unsigned())
      return false;
    out = a[i].get<std::uint64_t>();
    return true;
  }
  bool get(std::size_t i, bool& out) const {
    if (!a[i].is_boolean())
      return false;
    out = a[i].get<bool>();
    return true;
  }
  template <class... Fields>
  bool all(Fields&... fields) const {
    if (!a.is_array() || a.size() != sizeof...(Fields))
      return false;
    std::size_t i = 0;
    return (get(i++, fields) && ...);
  }
};

bool row_from(const json& a, index_row& r) {
  return row_reader{a}.all(r.id, r.tenant, r.model, r.mode, r.status, r.created_at, r.created_us,
                           r.ended_us, r.first_token_us, r.error_code, r.reason, r.input_tokens,
                           r.output_tokens, r.previous_response_id, r.conversation, r.deleted,
                           r.seq, r.position) &&
         !r.id.empty();
}

bool row_from(const json& a, conversation_row& c) {
  return row_reader{a}.all(c.id, c.tenant, c.created_at, c.created_us, c.active_us, c.items,
                           c.responses, c.last_response_id, c.deleted, c.seq, c.position) &&
         !c.id.empty() && c.items >= 0 && c.responses >= 0; // counts the fold only adds to
}

// How many items a batch added: the digest's count, or the stored items.
std::int64_t added_count(const json& d) {
  if (!d.is_object())
    return 0;
  if (auto n = d.find("item_count"); n != d.end() && n->is_number_integer())
    return std::max<std::int64_t>(0, n->get<std::int64_t>());
  auto items = d.find("items");
  return items != d.end() && items->is_array() ? static_cast<std::int64_t>(items->size()) : 0;
}

// A page of the rows `keep` selects, in the order asked for, after the
// cursor (which must name a row the filter's tenant may see).
template <class Row, class Filter, class Keep>
ev::result<page_of<Row>> page_rows(const std::vector<Row>& rows,
                                   const std::unordered_map<std::string, std::size_t>& by_id,
                                   const Filter& f, const char* what, Keep keep) {
  std::size_t n = rows.size();
  // Positions in the order asked for: 0 .. n-1 over rows forwards or back.
  std::size_t start = 0;
  if (!f.after.empty()) {
    auto it = by_id.find(f.after);
    if (it == by_id.end() || (!f.tenant.empty() && rows[it->second].tenant != f.tenant))
      return ev::make_error(ev::riposte_errc::invalid_value,
                            "Invalid value for 'after': no " + std::string{what} + " '" +
                                ev::excerpt(f.after) + "' is in the index.",
                            "after");
    start = (f.ascending ? it->second : n - 1 - it->second) + 1;
  }
  page_of<Row> page;
  for (std::size_t k = start; k < n; ++k) {
    const auto& r = rows[f.ascending ? k : n - 1 - k];
    if (!keep(r, f))
      continue;
    if (page.rows.size() == f.limit) {
      page.has_more = true;
      break;
    }
    page.rows.push_back(r);
  }
  return page;
}

// Whether v lies in [lo, hi] (scaled); with neither bound, anything does.
bool within(std::optional<std::int64_t> v, std::optional<std::int64_t> lo,
            std::optional<std::int64_t> hi, std::int64_t scale) {
  if (!lo && !hi)
    return true;
  if (!v)
    return false;
  return (!lo || *v >= *lo * scale) && (!hi || *v <= *hi * scale);
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

const conversation_row* response_index::find_conversation(const std::string& id) const {
  auto it = conversation_by_id_.find(id);
  return it == conversation_by_id_.end() ? nullptr : &conversations_[it->second];
}

bool response_index::needs_data(std::string_view type) {
  return type == ev::response_created::type || type == ev::response_completed::type ||
         type == ev::response_incomplete::type || type == ev::response_failed::type ||
         type == ev::response_cancelled::type || type == ev::conversation_created::type ||
         type == ev::conversation_items_added::type;
}

json response_index::digest(std::string_view type, const json& data) {
  if (!data.is_object())
    return nullptr;
  json out = json::object();
  auto copy = [&](const json& from, json& to, const char* key) {
    if (auto it = from.find(key); it != from.end())
      to[key] = *it;
  };
  if (type == ev::conversation_created::type) {
    copy(data, out, "created_at");
  } else if (type == ev::conversation_items_added::type) {
    out["item_count"] = added_count(data);
    copy(data, out, "response_id");
  } else if (type == ev::response_created::type) {
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

void response_index::touch(std::size_t conversation) {
  dirty_.insert({segment_kind::conversations, conversation / segment_rows});
}

void response_index::apply_conversation(const ev::envelope& env) {
  std::string_view type = env.type;
  if (type == ev::conversation_created::type) {
    if (env.seq != 0 || conversation_by_id_.count(env.stream))
      return;
    conversation_row c;
    c.id = env.stream;
    c.tenant = env.tenant;
    c.created_at = int_or(env.data, "created_at", 0);
    c.created_us = c.active_us = env.recorded_at;
    c.position = env.global_position;
    conversation_by_id_.emplace(c.id, conversations_.size());
    touch(conversations_.size());
    conversations_.push_back(std::move(c));
    return;
  }
  auto it = conversation_by_id_.find(env.stream);
  if (it == conversation_by_id_.end())
    return;
  auto& c = conversations_[it->second];
  if (env.seq <= c.seq)
    return;
  c.seq = env.seq;
  c.active_us = std::max(c.active_us, env.recorded_at);
  touch(it->second);
  if (type == ev::conversation_items_added::type)
    c.items += added_count(env.data);
  else if (type == ev::conversation_item_deleted::type)
    c.items = std::max<std::int64_t>(0, c.items - 1);
  else if (type == ev::conversation_deleted::type)
    c.deleted = true;
}

void response_index::apply(const ev::envelope& env) {
  position_ = std::max(position_, env.global_position);
  std::string_view type = env.type;
  if (type.starts_with("conversation_"))
    return apply_conversation(env);
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
    if (auto c = conversation_by_id_.find(r.conversation); c != conversation_by_id_.end()) {
      auto& conv = conversations_[c->second];
      ++conv.responses;
      conv.last_response_id = r.id;
      conv.active_us = std::max(conv.active_us, env.recorded_at);
      touch(c->second);
    }
    by_id_.emplace(r.id, rows_.size());
    dirty_.insert({segment_kind::responses, rows_.size() / segment_rows});
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
  dirty_.insert({segment_kind::responses, it->second / segment_rows});
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
  return page_rows(rows_, by_id_, f, "response",
                   [](const index_row& r, const index_filter& fl) { return matches(r, fl); });
}

bool response_index::matches(const conversation_row& c, const conversation_filter& f) {
  auto in = [](std::int64_t v, std::optional<std::int64_t> after,
               std::optional<std::int64_t> before) {
    return (!after || v >= *after) && (!before || v < *before);
  };
  return (f.include_deleted || !c.deleted) && (f.tenant.empty() || c.tenant == f.tenant) &&
         in(c.created_at, f.created_after, f.created_before) &&
         in(c.active_at(), f.active_after, f.active_before) &&
         within(c.items, f.min_items, f.max_items, 1) &&
         within(c.responses, f.min_responses, f.max_responses, 1);
}

ev::result<conversation_page> response_index::query(const conversation_filter& f) const {
  return page_rows(
      conversations_, conversation_by_id_, f, "conversation",
      [](const conversation_row& c, const conversation_filter& fl) { return matches(c, fl); });
}

void response_index::mark_all_dirty() {
  for (std::size_t n = 0; n * segment_rows < rows_.size(); ++n)
    dirty_.insert({segment_kind::responses, n});
  for (std::size_t n = 0; n * segment_rows < conversations_.size(); ++n)
    dirty_.insert({segment_kind::conversations, n});
}

std::vector<std::pair<segment_ref, std::string>> response_index::take_dirty_segments() {
  std::vector<std::pair<segment_ref, std::string>> out;
  // {"format":N,"rows":[...]}, as dump() writes the object holding them.
  auto segment_of = [](const auto& all, std::size_t seg) {
    std::string text = "{\"format\":" + std::to_string(format_version) + ",\"rows\":[";
    auto end = std::min(all.size(), (seg + 1) * segment_rows);
    for (auto i = seg * segment_rows; i < end; ++i) {
      if (i != seg * segment_rows)
        text += ',';
      put_row(text, all[i]);
    }
    text += "]}";
    return text;
  };
  for (auto seg : dirty_)
    out.emplace_back(seg, seg.kind == segment_kind::responses ? segment_of(rows_, seg.n)
                                                              : segment_of(conversations_, seg.n));
  dirty_.clear();
  return out;
}

std::string response_index::manifest() const {
  return ev::dump_json(
      json{{"format", format_version},
           {"position", position_},
           {"rows", rows_.size()},
           {"segments", (rows_.size() + segment_rows - 1) / segment_rows},
           {"conversations", conversations_.size()},
           {"conversation_segments", (conversations_.size() + segment_rows - 1) / segment_rows}});
}

ev::result<response_index::manifest_info>
response_index::read_manifest(const std::string& payload) {
  auto m = ev::parse_stored(payload);
  if (!m.is_object() || m.value("format", json()) != format_version ||
      !m.value("position", json()).is_number_unsigned() ||
      !m.value("segments", json()).is_number_unsigned() ||
      !m.value("conversation_segments", json()).is_number_unsigned())
    return ev::make_error(ev::riposte_errc::corrupt_event,
                          "the response index's manifest is not one this build wrote");
  return manifest_info{m["position"].get<std::uint64_t>(), m["segments"].get<std::size_t>(),
                       m["conversation_segments"].get<std::size_t>()};
}

ev::status response_index::load_segment(const std::string& payload, segment_kind kind) {
  auto seg = ev::parse_stored(payload);
  if (!seg.is_object() || seg.value("format", json()) != format_version ||
      !seg.value("rows", json()).is_array())
    return ev::make_error(ev::riposte_errc::corrupt_event,
                          "a segment of the response index is not one this build wrote");
  auto load = [&](auto& rows, auto& by_id) -> ev::status {
    for (const auto& a : seg["rows"]) {
      typename std::decay_t<decltype(rows)>::value_type r;
      if (!row_from(a, r))
        return ev::make_error(ev::riposte_errc::corrupt_event,
                              "a row of the response index is malformed");
      if (by_id.count(r.id))
        continue;
      by_id.emplace(r.id, rows.size());
      rows.push_back(std::move(r));
    }
    return ev::ok();
  };
  return kind == segment_kind::responses ? load(rows_, by_id_)
                                         : load(conversations_, conversation_by_id_);
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

json response_index::to_json(const conversation_row& c) {
  return {{"id", c.id},
          {"object", "conversation.index_entry"},
          {"tenant", c.tenant},
          {"created_at", c.created_at},
          {"last_active_at", c.active_at()},
          {"items", c.items},
          {"responses", c.responses},
          {"last_response_id", or_null(c.last_response_id)},
          {"deleted", c.deleted},
          {"events", c.seq + 1}};
}

} // namespace riposte::projections
