// The Response view: one case per event, no I/O, no clock (time comes from
// the events).
#include "projections/response_view.hpp"

#include "events/ids.hpp"
#include "events/json_safe.hpp"
#include "events/json_text.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

namespace riposte::projections {

namespace ev = events;
using json = nlohmann::json;

namespace {

// A response that stops (cancelled, failed) leaves no item in progress: what
// was being written ends incomplete, a hosted call that did not finish
// failed (its type has no incomplete).
void close_open_items(response_state& s) {
  for (auto& item : s.output) {
    if (!item.is_object())
      continue;
    auto text = [&](const char* key) {
      auto it = item.find(key);
      return it != item.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    auto status = text("status");
    if (status.empty() || status == "completed" || status == "incomplete" || status == "failed")
      continue;
    auto type = text("type");
    item["status"] =
        type == "web_search_call" || type == "image_generation_call" ? "failed" : "incomplete";
  }
}

json& item_at(response_state& s, std::int64_t index) {
  auto i = static_cast<std::size_t>(index < 0 ? 0 : index);
  while (s.output.size() <= i)
    s.output.push_back(json::object());
  return s.output[i];
}

json& part_at(json& item, std::int64_t index) {
  auto& content = item["content"];
  if (!content.is_array())
    content = json::array();
  auto i = static_cast<std::size_t>(index < 0 ? 0 : index);
  while (content.size() <= i)
    content.push_back(json::object());
  return content[i];
}

// Appends in place: a long answer is not copied once per token.
void append_to(json& object, const char* key, const std::string& delta) {
  auto& field = object[key];
  if (!field.is_string())
    field = "";
  field.get_ref<std::string&>() += delta;
}

void append_text(json& part, const std::string& delta) {
  append_to(part, "text", delta);
}

json param(const response_state& s, const char* name, json fallback = nullptr) {
  auto it = s.params.find(name);
  return it == s.params.end() ? fallback : *it;
}

// A field of the event being folded: moved out of an event the caller gave
// up (an rvalue), copied from one it keeps.
template <bool Move, typename T>
decltype(auto) take(T& field) {
  if constexpr (Move)
    return std::move(field);
  else
    return static_cast<const T&>(field);
}

// One fold for both: `Event` is `const ev::event&` or `ev::event&&`.
template <bool Move, typename Event>
void fold(response_state& s, Event& event, std::int64_t seq, const std::string& tenant) {
  std::visit(
      [&](auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ev::response_created>) {
          s.status = e.params.value("background", false) ? "queued" : "in_progress";
          s.id = take<Move>(e.response_id);
          s.tenant = tenant;
          s.model = take<Move>(e.model);
          s.created_at = e.created_at;
          s.params = take<Move>(e.params);
          s.input = take<Move>(e.input);
        } else if constexpr (std::is_same_v<T, ev::response_queued>) {
          s.status = "queued";
        } else if constexpr (std::is_same_v<T, ev::response_in_progress>) {
          s.status = "in_progress";
        } else if constexpr (std::is_same_v<T, ev::output_item_added> ||
                             std::is_same_v<T, ev::output_item_done>) {
          item_at(s, e.output_index) = take<Move>(e.item);
        } else if constexpr (std::is_same_v<T, ev::content_part_added> ||
                             std::is_same_v<T, ev::content_part_done>) {
          part_at(item_at(s, e.output_index), e.content_index) = take<Move>(e.part);
        } else if constexpr (std::is_same_v<T, ev::output_text_delta>) {
          auto& part = part_at(item_at(s, e.output_index), e.content_index);
          append_text(part, e.delta);
          if (!e.logprobs.empty()) {
            if (!part.contains("logprobs") || !part["logprobs"].is_array())
              part["logprobs"] = json::array();
            for (const auto& lp : e.logprobs)
              part["logprobs"].push_back(lp);
          }
        } else if constexpr (std::is_same_v<T, ev::output_text_done> ||
                             std::is_same_v<T, ev::reasoning_done>) {
          part_at(item_at(s, e.output_index), e.content_index)["text"] = take<Move>(e.text);
        } else if constexpr (std::is_same_v<T, ev::reasoning_delta>) {
          append_text(part_at(item_at(s, e.output_index), e.content_index), e.delta);
        } else if constexpr (std::is_same_v<T, ev::function_call_arguments_delta>) {
          append_to(item_at(s, e.output_index), "arguments", e.delta);
        } else if constexpr (std::is_same_v<T, ev::function_call_arguments_done>) {
          item_at(s, e.output_index)["arguments"] = take<Move>(e.arguments);
        } else if constexpr (std::is_same_v<T, ev::custom_tool_call_input_delta>) {
          append_to(item_at(s, e.output_index), "input", e.delta);
        } else if constexpr (std::is_same_v<T, ev::custom_tool_call_input_done>) {
          item_at(s, e.output_index)["input"] = take<Move>(e.input);
        } else if constexpr (std::is_same_v<T, ev::response_completed>) {
          s.status = "completed";
          s.completed_at = e.completed_at;
          s.usage = take<Move>(e.usage);
        } else if constexpr (std::is_same_v<T, ev::response_incomplete>) {
          s.status = "incomplete";
          s.incomplete_details = {{"reason", e.reason}};
          s.usage = take<Move>(e.usage);
        } else if constexpr (std::is_same_v<T, ev::response_failed>) {
          s.status = "failed";
          s.error = {{"code", e.code}, {"message", e.message}};
          s.failure = e.code;
          s.usage = take<Move>(e.usage);
          close_open_items(s);
        } else if constexpr (std::is_same_v<T, ev::hosted_tool_progressed>) {
          // The call's item says where it is until its output_item_done.
          if (e.output_index >= 0 && static_cast<std::size_t>(e.output_index) < s.output.size() &&
              e.phase != "completed")
            s.output[static_cast<std::size_t>(e.output_index)]["status"] = e.phase;
        } else if constexpr (std::is_same_v<T, ev::response_cancelled>) {
          s.status = "cancelled";
          close_open_items(s);
        } else if constexpr (std::is_same_v<T, ev::response_deleted>) {
          s.deleted = true;
        }
      },
      event);
  s.version = seq;
}

} // namespace

response_state apply(response_state s, const ev::event& event, std::int64_t seq,
                     const std::string& tenant) {
  apply_in_place(s, event, seq, tenant);
  return s;
}

void apply_in_place(response_state& s, const ev::event& event, std::int64_t seq,
                    const std::string& tenant) {
  fold<false>(s, event, seq, tenant);
}

void apply_in_place(response_state& s, ev::event&& event, std::int64_t seq,
                    const std::string& tenant) {
  fold<true>(s, event, seq, tenant);
}

std::string_view ending_status(std::string_view type) {
  if (type == ev::response_completed::type)
    return "completed";
  if (type == ev::response_incomplete::type)
    return "incomplete";
  if (type == ev::response_failed::type)
    return "failed";
  if (type == ev::response_cancelled::type)
    return "cancelled";
  return "";
}

events::result<response_state> apply(response_state state, const ev::envelope& env) {
  auto decoded = ev::decode(env);
  if (!decoded)
    return decoded.error();
  return apply(std::move(state), *decoded, static_cast<std::int64_t>(env.seq), env.tenant);
}

const json& response_defaults() {
  static const json defaults{
      {"background", false},
      {"frequency_penalty", 0.0},
      {"instructions", nullptr},
      {"max_output_tokens", nullptr},
      {"max_tool_calls", nullptr},
      {"metadata", json::object()},
      {"parallel_tool_calls", true},
      {"previous_response_id", nullptr},
      {"presence_penalty", 0.0},
      {"prompt_cache_key", nullptr},
      {"reasoning", {{"effort", nullptr}, {"summary", nullptr}}},
      {"safety_identifier", nullptr},
      {"service_tier", "default"},
      {"store", true},
      {"temperature", 1.0},
      {"text", {{"format", {{"type", "text"}}}, {"verbosity", "medium"}}},
      {"tool_choice", "auto"},
      {"tools", json::array()},
      {"top_logprobs", 0},
      {"top_p", 1.0},
      {"truncation", "disabled"},
      {"user", nullptr},
  };
  return defaults;
}

const std::vector<std::string>& sampling_fields() {
  static const std::vector<std::string> fields{"temperature", "top_p", "presence_penalty",
                                               "frequency_penalty"};
  return fields;
}

namespace {

// render()'s members: the state's own, the parameters with their defaults,
// and the parameters echoed only when set.
enum class member_kind : std::uint8_t {
  id, object, created_at, status, completed_at, error, incomplete_details, model, output, usage,
  access_programs, parameter, parameter_if_set
};

struct member {
  std::string name;
  member_kind kind;
  const json* fallback = nullptr; // a parameter's default
};

// Every member once, in a json object's order (by name); a name listed
// twice keeps its later listing (a parameter over the state's own).
const std::vector<member>& member_order() {
  static const std::vector<member> order = [] {
    std::vector<member> all{{"id", member_kind::id},
                            {"object", member_kind::object},
                            {"created_at", member_kind::created_at},
                            {"status", member_kind::status},
                            {"completed_at", member_kind::completed_at},
                            {"error", member_kind::error},
                            {"incomplete_details", member_kind::incomplete_details},
                            {"model", member_kind::model},
                            {"output", member_kind::output},
                            {"usage", member_kind::usage},
                            {"access_programs", member_kind::access_programs}};
    const auto& defaults = response_defaults();
    for (auto d = defaults.begin(); d != defaults.end(); ++d)
      all.push_back({d.key(), member_kind::parameter, &d.value()});
    for (const char* name : {"truncation_details", "prompt", "conversation"})
      all.push_back({name, member_kind::parameter_if_set});
    std::stable_sort(all.begin(), all.end(),
                     [](const member& a, const member& b) { return a.name < b.name; });
    std::vector<member> kept;
    for (std::size_t i = 0; i < all.size(); ++i)
      if (i + 1 == all.size() || all[i + 1].name != all[i].name)
        kept.push_back(all[i]);
    return kept;
  }();
  return order;
}

// The state's own member of this kind: a field of the state, or a value
// made in `scratch`.
const json& own_member(const response_state& s, member_kind kind, json& scratch) {
  switch (kind) {
    case member_kind::id: return scratch = s.id;
    case member_kind::object: return scratch = "response";
    case member_kind::created_at: return scratch = s.created_at;
    case member_kind::status: return scratch = s.status;
    case member_kind::completed_at:
      return scratch = s.completed_at ? json(*s.completed_at) : json();
    case member_kind::error: return s.error;
    case member_kind::incomplete_details: return s.incomplete_details;
    case member_kind::model: return scratch = s.model;
    case member_kind::output: return s.output;
    case member_kind::usage: return s.usage;
    case member_kind::access_programs: // the effective Cyber program: riposte runs none
    case member_kind::parameter:
    case member_kind::parameter_if_set: break;
  }
  return scratch = nullptr;
}

// The Response's members in key order, each told to `put(name, value)`.
template <typename Put>
void for_each_member(const response_state& s, Put&& put) {
  // The parameters are sorted as the members are: one walk through both.
  static const json::object_t no_params;
  const auto& params = s.params.is_object() ? s.params.get_ref<const json::object_t&>() : no_params;
  auto param = params.begin();
  json scratch;
  for (const auto& m : member_order()) {
    if (m.kind != member_kind::parameter && m.kind != member_kind::parameter_if_set) {
      put(m.name, own_member(s, m.kind, scratch));
      continue;
    }
    while (param != params.end() && param->first < m.name)
      ++param;
    if (param != params.end() && param->first == m.name)
      put(m.name, param->second);
    else if (m.kind == member_kind::parameter)
      put(m.name, *m.fallback);
    // (a parameter echoed only when set is left out)
  }
}

} // namespace

json render(const response_state& s) {
  json out = json::object();
  for_each_member(s, [&out](const std::string& name, const json& value) { out[name] = value; });
  return out;
}

std::string render_text(const response_state& s) {
  std::string out;
  out.reserve(1024);
  out += '{';
  for_each_member(s, [&out](const std::string& name, const json& value) {
    events::json_text::put_name(out, name);
    events::json_text::put_json(out, value);
  });
  out += '}';
  return out;
}

// Written member by member, in the order a json object keeps its keys: the
// same bytes as dumping one object holding them all, without copying the
// input, output and params trees into it first (a blocking create's
// snapshot is on the way to its answer).
std::string to_snapshot(const response_state& s) {
  std::string out;
  auto put = [&out](const char* key, const json& value) {
    out += out.empty() ? "{\"" : ",\"";
    out += key;
    out += "\":";
    events::json_text::put_json(out, value);
  };
  put("completed_at", s.completed_at ? json(*s.completed_at) : json());
  put("created_at", s.created_at);
  put("deleted", s.deleted);
  put("error", s.error);
  put("id", s.id);
  put("incomplete_details", s.incomplete_details);
  put("input", s.input);
  put("model", s.model);
  put("output", s.output);
  put("params", s.params);
  put("status", s.status);
  put("tenant", s.tenant);
  put("usage", s.usage);
  put("version", s.version);
  out += '}';
  return out;
}

events::result<response_state> from_snapshot(const std::string& payload) {
  auto j = ev::parse_stored(payload);
  if (j.is_discarded() || !j.is_object())
    return ev::make_error(ev::riposte_errc::corrupt_event, "response snapshot is not JSON");
  try {
    response_state s;
    s.id = j.at("id").get<std::string>();
    s.tenant = j.at("tenant").get<std::string>();
    s.model = j.at("model").get<std::string>();
    s.created_at = j.at("created_at").get<std::int64_t>();
    if (!j.at("completed_at").is_null())
      s.completed_at = j["completed_at"].get<std::int64_t>();
    s.params = j.at("params");
    s.input = j.at("input");
    s.status = j.at("status").get<std::string>();
    s.output = j.at("output");
    s.usage = j.at("usage");
    s.error = j.at("error");
    if (s.error.is_object() && s.error.value("code", json()).is_string())
      s.failure = s.error["code"].get<ev::failure_code>();
    s.incomplete_details = j.at("incomplete_details");
    s.deleted = j.at("deleted").get<bool>();
    s.version = j.at("version").get<std::int64_t>();
    return s;
  } catch (const std::exception& ex) {
    return ev::make_error(ev::riposte_errc::corrupt_event,
                          std::string{"response snapshot is malformed: "} + ex.what());
  }
}

json own_items(const response_state& s) {
  json context = json::array();
  for (const auto& item : s.input)
    context.push_back(item);
  for (const auto& item : s.output)
    context.push_back(item);
  return context;
}

events::result<response_state> read_response(events::event_log& log, const std::string& id) {
  auto stream = events::response_stream(id);
  response_state state;
  auto snap = log.get_snapshot(stream);
  if (!snap)
    return snap.error();
  if (*snap) {
    auto restored = from_snapshot((*snap)->payload);
    if (!restored)
      return restored.error();
    state = std::move(*restored);
  }
  auto events = log.read(stream, static_cast<std::uint64_t>(state.version + 1), 1u << 20);
  if (!events) {
    if (events.error().code != events::riposte_errc::not_found)
      return events.error();
    return state;
  }
  for (const auto& env : *events) {
    auto next = apply(std::move(state), env);
    if (!next)
      return next.error();
    state = std::move(*next);
  }
  return state;
}

} // namespace riposte::projections
