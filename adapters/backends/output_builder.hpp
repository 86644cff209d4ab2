// The Responses output of one generation, from what any chat backend
// streams: reasoning text, message text, tool calls and how it ended. Each
// backend's translator reads its own wire; this turns what it read into
// domain events, with the item ids and output indices of the generation, so
// every backend kind produces the same items the same way.
#pragma once

#include "actors/ports/backend.hpp"
#include "adapters/backends/tools.hpp"
#include "events/event.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace riposte::adapters::backends {

class output_builder {
public:
  // `first_index`: output items riposte itself put before the model's.
  output_builder(tool_plan tools, std::int64_t first_index);
  // For one generation: its params, the hosted tools riposte offered, and
  // where its output items start.
  explicit output_builder(const actors::generation_request& req);

  // Text as it streams: reasoning (`thinking`) and answer (`content`). A
  // switch from one to the other closes the item of the first.
  void text(const std::string& thinking, const std::string& content,
            std::vector<events::event>& out);
  // One whole tool call the backend made, under its backend name; arguments
  // are an object or its JSON text. Calls past the turn's limit
  // (parallel_tool_calls, max_tool_calls) are dropped.
  void call(const std::string& backend_name, const nlohmann::json& arguments,
            std::vector<events::event>& out);
  // Closes the open items before calls are emitted.
  void close_text(std::vector<events::event>& out);

  // The end: completed, incomplete (the output cap), or failed. After any of
  // them the builder takes nothing more.
  void complete(nlohmann::json usage, std::vector<events::event>& out);
  void incomplete(nlohmann::json usage, std::vector<events::event>& out);
  void fail(events::failure_code code, std::string message, std::vector<events::event>& out);
  bool done() const { return done_; }
  // A transfer that could not reach the backend or outlasted its timeout
  // fails the generation; true if it did.
  bool failed_transfer(const std::string& transport_error, bool timed_out, bool connect_failed,
                       std::vector<events::event>& out);

  // A Responses usage object.
  static nlohmann::json usage(std::int64_t input, std::int64_t output, std::int64_t cached = 0,
                              std::int64_t reasoning = 0);

private:
  void close_reasoning(std::vector<events::event>& out);
  void close_message(std::vector<events::event>& out, const std::string& status);

  tool_plan tools_;
  std::int64_t next_index_ = 0;
  bool done_ = false;
  std::string reasoning_id_, message_id_;
  std::int64_t reasoning_index_ = -1, message_index_ = -1;
  std::string reasoning_text_, message_text_;
  std::size_t calls_made_ = 0;
};

} // namespace riposte::adapters::backends
