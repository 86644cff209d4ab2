// One case per event type, with the field names of the OpenAI SDK's
// ResponseStreamEvent union.
#include "projections/stream_events.hpp"

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
          // The API has no cancelled stream event; the stream just ends.
          return std::nullopt;
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

events::result<std::vector<json>> replay_stream(const std::vector<ev::envelope>& stream,
                                                std::int64_t after_seq) {
  response_state state;
  std::vector<json> out;
  for (const auto& env : stream) {
    auto decoded = ev::decode(env);
    if (!decoded)
      return decoded.error();
    state = apply(std::move(state), *decoded, static_cast<std::int64_t>(env.seq), env.tenant);
    if (static_cast<std::int64_t>(env.seq) <= after_seq)
      continue;
    if (auto rendered = stream_event(state, *decoded, static_cast<std::int64_t>(env.seq)))
      out.push_back(std::move(*rendered));
  }
  return out;
}

} // namespace riposte::projections
