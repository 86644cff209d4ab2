// JSON codec for events and envelopes. Third-party exceptions (nlohmann) stop
// here and become error values.
#include "events/event.hpp"
#include "events/json_safe.hpp"
#include "events/json_text.hpp"

#include <array>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

namespace riposte::events {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(response_created, response_id, model, created_at, params, input,
                                   mode)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(output_item_added, output_index, item)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(output_item_done, output_index, item)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(content_part_added, item_id, output_index, content_index, part)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(content_part_done, item_id, output_index, content_index, part)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(output_text_delta, item_id, output_index, content_index, delta,
                                   logprobs)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(output_text_done, item_id, output_index, content_index, text)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(function_call_arguments_delta, item_id, output_index, delta)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(function_call_arguments_done, item_id, output_index, name,
                                   arguments)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(custom_tool_call_input_delta, item_id, output_index, delta)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(custom_tool_call_input_done, item_id, output_index, input)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(reasoning_delta, item_id, output_index, content_index, delta)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(reasoning_done, item_id, output_index, content_index, text)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(response_completed, completed_at, usage)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(response_incomplete, reason, usage)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(response_failed, code, message, usage)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(response_cancelled, reason)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(file_uploaded, file_id, filename, purpose, bytes, sha256,
                                   created_at, expires_at)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(file_deleted, file_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(idempotency_key_recorded, key, request_hash, response_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(prompt_version_created, prompt_id, prompt_version, name,
                                   instructions, input, metadata, created_at)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(prompt_deleted, prompt_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(hosted_tool_progressed, item_id, output_index, tool, phase)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(conversation_created, conversation_id, metadata, created_at)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(conversation_items_added, items, response_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(conversation_item_deleted, item_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(conversation_updated, metadata)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(conversation_turn_began, response_id, holder)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(conversation_turn_ended, response_id)

// Events without fields are stored as `{}`.
void to_json(nlohmann::json& j, const response_queued&) {
  j = nlohmann::json::object();
}
void from_json(const nlohmann::json&, response_queued&) {}
void to_json(nlohmann::json& j, const response_in_progress&) {
  j = nlohmann::json::object();
}
void from_json(const nlohmann::json&, response_in_progress&) {}
void to_json(nlohmann::json& j, const response_deleted&) {
  j = nlohmann::json::object();
}
void from_json(const nlohmann::json&, response_deleted&) {}
void to_json(nlohmann::json& j, const conversation_deleted&) {
  j = nlohmann::json::object();
}
void from_json(const nlohmann::json&, conversation_deleted&) {}

namespace {

template <std::size_t I = 0>
result<event> decode_current(std::string_view type, const nlohmann::json& data) {
  if constexpr (I == std::variant_size_v<event>) {
    return make_error(riposte_errc::unknown_event_type,
                      "unknown event type '" + std::string{type} + "'");
  } else {
    using alternative = std::variant_alternative_t<I, event>;
    if (alternative::type != type)
      return decode_current<I + 1>(type, data);
    if (!data.is_object())
      return make_error(riposte_errc::corrupt_event,
                        "data of a '" + std::string{type} + "' event is not an object");
    // No event has a floating-point member: one where an integer belongs
    // would be converted with undefined behaviour if out of range.
    for (const auto& member : data.items())
      if (member.value().is_number_float())
        return make_error(riposte_errc::corrupt_event,
                          "data of a '" + std::string{type} + "' event has a non-integer number");
    try {
      return event{data.get<alternative>()};
    } catch (const std::exception& ex) {
      return make_error(riposte_errc::corrupt_event, "data of a '" + std::string{type} +
                                                         "' event does not decode: " + ex.what());
    }
  }
}

template <std::size_t... Is>
std::vector<type_info> make_known_types(std::index_sequence<Is...>) {
  return {type_info{std::variant_alternative_t<Is, event>::type,
                    std::variant_alternative_t<Is, event>::version}...};
}

} // namespace

std::string_view type_of(const event& ev) {
  return std::visit([](const auto& e) { return std::decay_t<decltype(e)>::type; }, ev);
}

int version_of(const event& ev) {
  return std::visit([](const auto& e) { return std::decay_t<decltype(e)>::version; }, ev);
}

nlohmann::json data_of(const event& ev) {
  return std::visit([](const auto& e) { return nlohmann::json(e); }, ev);
}

namespace {

// An event's data as JSON text: each writer appends its members in the
// library's (sorted) key order, between the braces.
struct text_writer {
  std::string out{"{"};

  text_writer& str(json_text::key key, std::string_view value) {
    json_text::put_string(out, key, value);
    return *this;
  }
  text_writer& num(json_text::key key, std::int64_t value) {
    json_text::put_int(out, key, value);
    return *this;
  }
  text_writer& tree(json_text::key key, const nlohmann::json& value) {
    json_text::put_key(out, key);
    out += value.is_array() && value.empty() ? std::string{"[]"} : dump_json(value);
    return *this;
  }
  // The text, closed; the writer is spent.
  std::string done() {
    out += '}';
    return std::move(out);
  }
};

template <typename Delta>
std::string delta_data(const Delta& e) {
  text_writer w;
  w.out.reserve(e.delta.size() + e.item_id.size() + 80);
  if constexpr (requires { e.content_index; })
    w.num("content_index", e.content_index);
  w.str("delta", e.delta).str("item_id", e.item_id);
  if constexpr (requires { e.logprobs; })
    w.tree("logprobs", e.logprobs);
  return w.num("output_index", e.output_index).done();
}

template <typename Part>
std::string part_data(const Part& e) {
  return text_writer{}
      .num("content_index", e.content_index)
      .str("item_id", e.item_id)
      .num("output_index", e.output_index)
      .tree("part", e.part)
      .done();
}

template <typename Item>
std::string item_data(const Item& e) {
  return text_writer{}.tree("item", e.item).num("output_index", e.output_index).done();
}

template <typename Done>
std::string text_done_data(const Done& e) {
  return text_writer{}
      .num("content_index", e.content_index)
      .str("item_id", e.item_id)
      .num("output_index", e.output_index)
      .str("text", e.text)
      .done();
}

} // namespace

std::optional<std::string> text_of(const event& ev) {
  return std::visit(
      [](const auto& e) -> std::optional<std::string> {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, output_text_delta> || std::is_same_v<E, reasoning_delta> ||
                      std::is_same_v<E, function_call_arguments_delta> ||
                      std::is_same_v<E, custom_tool_call_input_delta>)
          return delta_data(e);
        else if constexpr (std::is_same_v<E, response_queued> ||
                           std::is_same_v<E, response_in_progress> ||
                           std::is_same_v<E, response_deleted>)
          return std::string{"{}"};
        else if constexpr (std::is_same_v<E, output_item_added> ||
                           std::is_same_v<E, output_item_done>)
          return item_data(e);
        else if constexpr (std::is_same_v<E, content_part_added> ||
                           std::is_same_v<E, content_part_done>)
          return part_data(e);
        else if constexpr (std::is_same_v<E, output_text_done> || std::is_same_v<E, reasoning_done>)
          return text_done_data(e);
        else if constexpr (std::is_same_v<E, function_call_arguments_done>)
          return text_writer{}
              .str("arguments", e.arguments)
              .str("item_id", e.item_id)
              .str("name", e.name)
              .num("output_index", e.output_index)
              .done();
        else if constexpr (std::is_same_v<E, custom_tool_call_input_done>)
          return text_writer{}
              .str("input", e.input)
              .str("item_id", e.item_id)
              .num("output_index", e.output_index)
              .done();
        else if constexpr (std::is_same_v<E, hosted_tool_progressed>)
          return text_writer{}
              .str("item_id", e.item_id)
              .num("output_index", e.output_index)
              .str("phase", e.phase)
              .str("tool", e.tool)
              .done();
        else
          return std::nullopt;
      },
      ev);
}

new_event make_new_event(const event& ev, std::string tenant, std::int64_t recorded_at) {
  new_event out{
      std::string{type_of(ev)}, version_of(ev), std::move(tenant), recorded_at, {}, true, {}};
  if (auto text = text_of(ev))
    out.text = std::move(*text);
  else
    out.data = data_of(ev);
  return out;
}

nlohmann::json data_json(const new_event& ev) {
  if (ev.text.empty())
    return ev.data;
  return parse_stored(ev.text);
}

std::string data_text(const new_event& ev) {
  return ev.text.empty() ? dump_json(ev.data) : ev.text;
}

const std::vector<type_info>& known_types() {
  static const auto types =
      make_known_types(std::make_index_sequence<std::variant_size_v<event>>{});
  return types;
}

result<event> decode(std::string_view type, int version, const nlohmann::json& data) {
  auto up = upcast(type, version, data);
  if (!up)
    return up.error();
  return decode_current(type, *up);
}

result<event> decode(const envelope& env) {
  return decode(env.type, env.version, env.data);
}

status validate(const new_event& ev) {
  if (ev.encoded)
    return ok();
  if (auto decoded = decode(ev.type, ev.version, ev.data); !decoded)
    return decoded.error();
  return ok();
}

nlohmann::json to_json(const envelope& env) {
  return nlohmann::json{{"stream", env.stream},
                        {"seq", env.seq},
                        {"global_position", env.global_position},
                        {"type", env.type},
                        {"version", env.version},
                        {"tenant", env.tenant},
                        {"recorded_at", env.recorded_at},
                        {"data", env.data}};
}

// The same bytes as to_json(env).dump() (keys in order), without copying
// the data into a temporary object: this runs once per stored event.
std::string serialize(const envelope& env) {
  return serialize(env, env.data);
}

std::string serialize(const envelope& env, const nlohmann::json& event_data) {
  return serialize_text(env, dump_json(event_data));
}

std::string serialize_text(const envelope& env, std::string_view data) {
  namespace jt = json_text;
  std::string out;
  out.reserve(data.size() + env.stream.size() + env.tenant.size() + env.type.size() + 128);
  out += '{';
  jt::put_key(out, "data");
  out += data;
  jt::put_int(out, "global_position", static_cast<std::int64_t>(env.global_position));
  jt::put_int(out, "recorded_at", env.recorded_at);
  jt::put_int(out, "seq", static_cast<std::int64_t>(env.seq));
  jt::put_string(out, "stream", env.stream);
  jt::put_string(out, "tenant", env.tenant);
  jt::put_string(out, "type", env.type);
  jt::put_int(out, "version", env.version);
  out += '}';
  return out;
}

namespace {

// nlohmann's DOM builder that leaves the envelope's `data` out (null): the
// header of an event is all some readers need, without building its data.
class header_dom {
public:
  explicit header_dom(nlohmann::json& out)
    : dom_(out, false) {}

  bool null() { return skipped() || dom_.null(); }
  bool boolean(bool v) { return skipped() || dom_.boolean(v); }
  bool number_integer(nlohmann::json::number_integer_t v) {
    return skipped() || dom_.number_integer(v);
  }
  bool number_unsigned(nlohmann::json::number_unsigned_t v) {
    return skipped() || dom_.number_unsigned(v);
  }
  bool number_float(nlohmann::json::number_float_t v, const nlohmann::json::string_t& s) {
    return skipped() || dom_.number_float(v, s);
  }
  bool string(nlohmann::json::string_t& v) { return skipped() || dom_.string(v); }
  bool binary(nlohmann::json::binary_t& v) { return skipped() || dom_.binary(v); }
  bool key(nlohmann::json::string_t& k) {
    if (inside_ > 0)
      return true;
    if (depth_ == 1 && k == "data")
      skip_next_ = true;
    return dom_.key(k);
  }
  bool start_object(std::size_t n) { return open() || dom_.start_object(n); }
  bool start_array(std::size_t n) { return open() || dom_.start_array(n); }
  bool end_object() { return close() || dom_.end_object(); }
  bool end_array() { return close() || dom_.end_array(); }
  bool parse_error(std::size_t pos, const std::string& token,
                   const nlohmann::detail::exception& ex) {
    return dom_.parse_error(pos, token, ex);
  }

private:
  // A scalar inside the skipped value, or the skipped value itself (then a
  // null stands in for it).
  bool skipped() {
    if (inside_ > 0)
      return true;
    if (skip_next_) {
      skip_next_ = false;
      return dom_.null();
    }
    return false;
  }
  // true: the container belongs to the skipped value (nothing built).
  bool open() {
    if (inside_ > 0 || skip_next_) {
      skip_next_ = false;
      if (++inside_ > max_json_depth() + stored_depth_margin)
        throw std::length_error("stored event nests too deep");
      return true;
    }
    ++depth_;
    return false;
  }
  bool close() {
    if (inside_ > 0) {
      if (--inside_ == 0)
        dom_.null();
      return true;
    }
    --depth_;
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<nlohmann::json> dom_;
  std::size_t depth_ = 0;
  std::size_t inside_ = 0;
  bool skip_next_ = false;
};

result<envelope> envelope_of(nlohmann::json j) {
  if (j.is_discarded() || !j.is_object())
    return make_error(riposte_errc::corrupt_event, "stored event is not a JSON object");
  for (const char* key : {"seq", "global_position", "version", "recorded_at"})
    if (auto it = j.find(key); it != j.end() && !it->is_number_integer())
      return make_error(riposte_errc::corrupt_event,
                        std::string{"stored event envelope has a non-integer '"} + key + "'");
  try {
    envelope env;
    env.stream = j.at("stream").get<std::string>();
    env.seq = j.at("seq").get<std::uint64_t>();
    env.global_position = j.at("global_position").get<std::uint64_t>();
    env.type = j.at("type").get<std::string>();
    env.version = j.at("version").get<int>();
    env.tenant = j.at("tenant").get<std::string>();
    env.recorded_at = j.at("recorded_at").get<std::int64_t>();
    env.data = std::move(j.at("data"));
    return env;
  } catch (const std::exception& ex) {
    return make_error(riposte_errc::corrupt_event,
                      std::string{"stored event envelope is malformed: "} + ex.what());
  }
}

} // namespace

result<envelope> parse_envelope(std::string_view bytes) {
  return envelope_of(parse_stored(bytes));
}

result<envelope> parse_envelope_header(std::string_view bytes) {
  // Every stored envelope has its data first and the header after it
  // (serialize_text writes it so, and the sorted keys of dump_json did
  // too), and an unescaped quote is never inside a string: the header is
  // the tail from the last `,"global_position":`. Parsed alone, it costs
  // nothing of the data; anything unexpected falls back to skipping the
  // data while parsing the whole.
  constexpr std::string_view mark = R"(,"global_position":)";
  if (auto at = bytes.rfind(mark); at != std::string_view::npos && bytes.size() - at < 4096) {
    std::string tail;
    tail.reserve(bytes.size() - at + 12);
    tail += R"({"data":null)";
    tail += bytes.substr(at);
    if (auto env = envelope_of(parse_stored(tail)); env)
      return env;
  }
  nlohmann::json out;
  try {
    header_dom sax{out};
    if (!nlohmann::json::sax_parse(bytes.begin(), bytes.end(), &sax,
                                   nlohmann::json::input_format_t::json, true))
      out = nlohmann::json(nlohmann::json::value_t::discarded);
  } catch (...) { // too deep, or out of memory: nothing escapes
    out = nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return envelope_of(std::move(out));
}

std::string_view to_string(riposte_errc code) noexcept {
  switch (code) {
    case riposte_errc::invalid_request: return "invalid_request";
    case riposte_errc::invalid_json: return "invalid_json";
    case riposte_errc::unsupported_parameter: return "unsupported_parameter";
    case riposte_errc::unknown_parameter: return "unknown_parameter";
    case riposte_errc::missing_parameter: return "missing_required_parameter";
    case riposte_errc::invalid_type: return "invalid_type";
    case riposte_errc::invalid_value: return "invalid_value";
    case riposte_errc::model_not_found: return "model_not_found";
    case riposte_errc::invalid_api_key: return "invalid_api_key";
    case riposte_errc::permission_denied: return "permission_denied";
    case riposte_errc::not_found: return "not_found";
    case riposte_errc::version_conflict: return "version_conflict";
    case riposte_errc::idempotency_conflict: return "idempotency_conflict";
    case riposte_errc::payload_too_large: return "payload_too_large";
    case riposte_errc::unsupported_media: return "unsupported_media_type";
    case riposte_errc::unprocessable: return "unprocessable_entity";
    case riposte_errc::item_not_found: return "item_not_found";
    case riposte_errc::corrupt_event: return "corrupt_event";
    case riposte_errc::unknown_event_type: return "unknown_event_type";
    case riposte_errc::store_error: return "store_error";
    case riposte_errc::internal: return "internal_error";
    case riposte_errc::backend_unavailable: return "backend_unavailable";
    case riposte_errc::backend_timeout: return "backend_timeout";
    case riposte_errc::output_invalid: return "output_invalid";
    case riposte_errc::model_capability: return "model_capability";
    case riposte_errc::context_too_long: return "context_too_long";
    case riposte_errc::conversation_locked: return "conversation_locked";
    case riposte_errc::already_in_conversation: return "already_in_conversation";
    case riposte_errc::mutually_exclusive: return "mutually_exclusive";
    case riposte_errc::array_too_long: return "array_too_long";
    case riposte_errc::too_many_properties: return "too_many_properties";
  }
  return "internal_error";
}

} // namespace riposte::events
