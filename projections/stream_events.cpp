// One case per event type, with the field names of the OpenAI SDK's
// ResponseStreamEvent union.
#include "projections/stream_events.hpp"

#include "events/json_safe.hpp"
#include "events/json_text.hpp"

#include <type_traits>

namespace riposte::projections {

namespace ev = events;
using json = nlohmann::json;

std::optional<json> stream_event(const response_state& after, const ev::event& event,
                                 std::int64_t seq) {
  auto lifecycle = [&](const char* type) {
    return json{{"type", type}, {"sequence_number", seq}, {"response", render(after)}};
  };
  return std::visit(
      [&](const auto& e) -> std::optional<json> {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ev::response_created>) {
          return lifecycle("response.created");
        } else if constexpr (std::is_same_v<T, ev::response_queued>) {
          return lifecycle("response.queued");
        } else if constexpr (std::is_same_v<T, ev::response_in_progress>) {
          return lifecycle("response.in_progress");
        } else if constexpr (std::is_same_v<T, ev::response_completed>) {
          return lifecycle("response.completed");
        } else if constexpr (std::is_same_v<T, ev::response_incomplete>) {
          return lifecycle("response.incomplete");
        } else if constexpr (std::is_same_v<T, ev::response_failed>) {
          return lifecycle("response.failed");
        } else if constexpr (std::is_same_v<T, ev::response_cancelled>) {
          // The SDKs know no cancelled stream event (and newer ones reject an
          // unknown type): the stream ends with the terminal event they take
          // the final Response from, carrying status "cancelled".
          return lifecycle("response.incomplete");
        } else if constexpr (std::is_same_v<T, ev::response_deleted>) {
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, ev::output_item_added>) {
          return json{{"type", "response.output_item.added"},
                      {"sequence_number", seq},
                      {"output_index", e.output_index},
                      {"item", e.item}};
        } else if constexpr (std::is_same_v<T, ev::output_item_done>) {
          return json{{"type", "response.output_item.done"},
                      {"sequence_number", seq},
                      {"output_index", e.output_index},
                      {"item", e.item}};
        } else if constexpr (std::is_same_v<T, ev::content_part_added> ||
                             std::is_same_v<T, ev::content_part_done>) {
          return json{{"type", std::is_same_v<T, ev::content_part_added>
                                   ? "response.content_part.added"
                                   : "response.content_part.done"},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index},
                      {"content_index", e.content_index},
                      {"part", e.part}};
        } else if constexpr (std::is_same_v<T, ev::output_text_delta>) {
          return json{{"type", "response.output_text.delta"},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index},
                      {"content_index", e.content_index},
                      {"delta", e.delta},
                      {"logprobs", e.logprobs}};
        } else if constexpr (std::is_same_v<T, ev::output_text_done>) {
          return json{{"type", "response.output_text.done"},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index},
                      {"content_index", e.content_index},
                      {"text", e.text},
                      {"logprobs", json::array()}};
        } else if constexpr (std::is_same_v<T, ev::function_call_arguments_delta>) {
          return json{{"type", "response.function_call_arguments.delta"},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index},
                      {"delta", e.delta}};
        } else if constexpr (std::is_same_v<T, ev::function_call_arguments_done>) {
          return json{{"type", "response.function_call_arguments.done"},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index},
                      {"name", e.name},
                      {"arguments", e.arguments}};
        } else if constexpr (std::is_same_v<T, ev::custom_tool_call_input_delta>) {
          return json{{"type", "response.custom_tool_call_input.delta"},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index},
                      {"delta", e.delta}};
        } else if constexpr (std::is_same_v<T, ev::custom_tool_call_input_done>) {
          return json{{"type", "response.custom_tool_call_input.done"},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index},
                      {"input", e.input}};
        } else if constexpr (std::is_same_v<T, ev::hosted_tool_progressed>) {
          return json{{"type", "response." + e.tool + "_call." + e.phase},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index}};
        } else if constexpr (std::is_same_v<T, ev::reasoning_delta>) {
          return json{{"type", "response.reasoning_text.delta"},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index},
                      {"content_index", e.content_index},
                      {"delta", e.delta}};
        } else if constexpr (std::is_same_v<T, ev::reasoning_done>) {
          return json{{"type", "response.reasoning_text.done"},
                      {"sequence_number", seq},
                      {"item_id", e.item_id},
                      {"output_index", e.output_index},
                      {"content_index", e.content_index},
                      {"text", e.text}};
        } else {
          return std::nullopt; // file and idempotency events never sit in a response stream
        }
      },
      event);
}

stream_frame to_frame(const json& event) {
  stream_frame frame{event.value("type", std::string{}),
                     event.value("sequence_number", std::int64_t{-1}), ev::dump_json(event),
                     std::nullopt};
  if (auto it = event.find("delta"); it != event.end() && it->is_string())
    frame.delta_size = it->get_ref<const std::string&>().size();
  return frame;
}

namespace {

using events::json_text::put_int;
using events::json_text::put_key;
using events::json_text::put_quoted;

// A delta event's frame: the event's data, whose keys sort before these
// two in the library's order, then sequence_number and type.
stream_frame delta_frame(const char* type, std::int64_t seq, std::string out,
                         std::size_t delta_size) {
  out.pop_back(); // its closing brace
  put_int(out, "sequence_number", seq);
  put_key(out, "type");
  put_quoted(out, type);
  out += '}';
  return stream_frame{type, seq, std::move(out), delta_size};
}

} // namespace

std::optional<stream_frame> render_frame(const response_state& after, const ev::event& event,
                                         std::int64_t seq) {
  return render_frame(after, event, seq, {});
}

std::optional<stream_frame> render_frame(const response_state& after, const ev::event& event,
                                         std::int64_t seq, std::string_view text) {
  // A delta's data: the log's text when given, else written now.
  auto data = [&] {
    if (text.empty())
      return *ev::text_of(event);
    std::string out;
    out.reserve(text.size() + 64);
    out.append(text);
    return out;
  };
  if (const auto* e = std::get_if<ev::output_text_delta>(&event))
    return delta_frame("response.output_text.delta", seq, data(), e->delta.size());
  if (const auto* e = std::get_if<ev::reasoning_delta>(&event))
    return delta_frame("response.reasoning_text.delta", seq, data(), e->delta.size());
  if (const auto* e = std::get_if<ev::function_call_arguments_delta>(&event))
    return delta_frame("response.function_call_arguments.delta", seq, data(), e->delta.size());
  if (auto rendered = stream_event(after, event, seq))
    return to_frame(*rendered);
  return std::nullopt;
}

events::result<std::vector<stream_frame>> replay_stream(const std::vector<ev::envelope>& stream,
                                                        std::int64_t after_seq) {
  response_state state;
  std::vector<stream_frame> out;
  for (const auto& env : stream) {
    auto decoded = ev::decode(env);
    if (!decoded)
      return decoded.error();
    state = apply(std::move(state), *decoded, static_cast<std::int64_t>(env.seq), env.tenant);
    if (static_cast<std::int64_t>(env.seq) <= after_seq)
      continue;
    if (auto rendered = render_frame(state, *decoded, static_cast<std::int64_t>(env.seq)))
      out.push_back(std::move(*rendered));
  }
  return out;
}

} // namespace riposte::projections
