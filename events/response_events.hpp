// Facts about one response, stored in its stream `resp_<id>`. Every event
// before the terminal one is exactly one SSE event, so that the stream seq is
// the `sequence_number` a client sees; nothing invisible sits mid-stream.
#pragma once

#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace riposte::events {

// The request was accepted: model, the normalized request parameters and the
// input items (with their ids). Rendered as `response.created`.
// v2 added `mode`, how the client asked (v1 events: "background" where the
// params say so, else "": not recorded).
struct response_created {
  static constexpr std::string_view type = "response_created";
  static constexpr int version = 2;
  std::string response_id;
  std::string model;
  std::int64_t created_at = 0; // seconds, as in the Response object
  nlohmann::json params = nlohmann::json::object();
  nlohmann::json input = nlohmann::json::array();
  std::string mode; // "blocking" | "stream" | "background"
};

// Background work waits for admission. `response.queued`.
struct response_queued {
  static constexpr std::string_view type = "response_queued";
  static constexpr int version = 1;
};

// Generation started. `response.in_progress`.
struct response_in_progress {
  static constexpr std::string_view type = "response_in_progress";
  static constexpr int version = 1;
};

struct output_item_added {
  static constexpr std::string_view type = "output_item_added";
  static constexpr int version = 1;
  std::int64_t output_index = 0;
  nlohmann::json item;
};

struct output_item_done {
  static constexpr std::string_view type = "output_item_done";
  static constexpr int version = 1;
  std::int64_t output_index = 0;
  nlohmann::json item;
};

struct content_part_added {
  static constexpr std::string_view type = "content_part_added";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::int64_t content_index = 0;
  nlohmann::json part;
};

struct content_part_done {
  static constexpr std::string_view type = "content_part_done";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::int64_t content_index = 0;
  nlohmann::json part;
};

// v2 added `logprobs` (strict SDKs require the array, even empty); v1 events
// are upcast with an empty array.
struct output_text_delta {
  static constexpr std::string_view type = "output_text_delta";
  static constexpr int version = 2;
  std::string item_id;
  std::int64_t output_index = 0;
  std::int64_t content_index = 0;
  std::string delta;
  nlohmann::json logprobs = nlohmann::json::array();
};

struct output_text_done {
  static constexpr std::string_view type = "output_text_done";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::int64_t content_index = 0;
  std::string text;
};

struct function_call_arguments_delta {
  static constexpr std::string_view type = "function_call_arguments_delta";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::string delta;
};

struct function_call_arguments_done {
  static constexpr std::string_view type = "function_call_arguments_done";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::string name;
  std::string arguments;
};

// A custom tool call's free-form input.
// `response.custom_tool_call_input.delta` / `.done`.
struct custom_tool_call_input_delta {
  static constexpr std::string_view type = "custom_tool_call_input_delta";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::string delta;
};

struct custom_tool_call_input_done {
  static constexpr std::string_view type = "custom_tool_call_input_done";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::string input;
};

// A tool riposte runs itself (web_search through a configured provider)
// moved on: `phase` is in_progress, searching, generating or completed.
// `response.<tool>_call.<phase>` on the stream.
struct hosted_tool_progressed {
  static constexpr std::string_view type = "hosted_tool_progressed";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::string tool; // "web_search", "image_generation"
  std::string phase;
};

// Raw reasoning text (Ollama `thinking`). `response.reasoning_text.delta`.
struct reasoning_delta {
  static constexpr std::string_view type = "reasoning_delta";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::int64_t content_index = 0;
  std::string delta;
};

struct reasoning_done {
  static constexpr std::string_view type = "reasoning_done";
  static constexpr int version = 1;
  std::string item_id;
  std::int64_t output_index = 0;
  std::int64_t content_index = 0;
  std::string text;
};

// Terminal events carry the usage the backend reported, so that usage never
// needs an event of its own between the last delta and the end.
struct response_completed {
  static constexpr std::string_view type = "response_completed";
  static constexpr int version = 1;
  std::int64_t completed_at = 0;
  nlohmann::json usage;
};

struct response_incomplete {
  static constexpr std::string_view type = "response_incomplete";
  static constexpr int version = 1;
  std::string reason; // "max_output_tokens" | "content_filter"
  nlohmann::json usage;
};

// Why a response failed: its Response's `error.code`, stored as that string
// (so the stored bytes are what they always were). A stored code this build
// does not know reads as server_error, the API's catch-all.
enum class failure_code : std::uint8_t {
  server_error,            // anything else
  server_restarted,        // riposte restarted while the response generated
  backend_unavailable,     // the backend could not be reached
  backend_timeout,         // the backend did not finish in time
  job_timeout,             // --job-timeout-ms passed first
  model_not_found,         // the backend does not serve the model
  output_schema_violation, // the answer broke the request's text.format
};

NLOHMANN_JSON_SERIALIZE_ENUM(failure_code,
                             {{failure_code::server_error, "server_error"},
                              {failure_code::server_restarted, "server_restarted"},
                              {failure_code::backend_unavailable, "backend_unavailable"},
                              {failure_code::backend_timeout, "backend_timeout"},
                              {failure_code::job_timeout, "job_timeout"},
                              {failure_code::model_not_found, "model_not_found"},
                              {failure_code::output_schema_violation, "output_schema_violation"}})

// What a blocking create of a response that failed this way answers.
inline error_info failure_error(failure_code code, std::string message) {
  switch (code) {
    case failure_code::backend_unavailable:
      return make_error(riposte_errc::backend_unavailable, std::move(message));
    case failure_code::backend_timeout:
    case failure_code::job_timeout:
      return make_error(riposte_errc::backend_timeout, std::move(message));
    case failure_code::model_not_found:
      return make_error(riposte_errc::invalid_request, std::move(message), "model");
    case failure_code::output_schema_violation:
      return make_error(riposte_errc::output_invalid, std::move(message), "text.format");
    case failure_code::server_error:
    case failure_code::server_restarted: break;
  }
  return make_error(riposte_errc::internal, std::move(message));
}

struct response_failed {
  static constexpr std::string_view type = "response_failed";
  static constexpr int version = 1;
  failure_code code = failure_code::server_error;
  std::string message;
  nlohmann::json usage;
};

struct response_cancelled {
  static constexpr std::string_view type = "response_cancelled";
  static constexpr int version = 1;
  std::string reason; // "client_cancelled" | "client_disconnected" | ...
};

// Soft delete: reads answer 404, the history stays for audit.
struct response_deleted {
  static constexpr std::string_view type = "response_deleted";
  static constexpr int version = 1;
};

} // namespace riposte::events
