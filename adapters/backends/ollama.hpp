// The Ollama adapter: Responses items to native /api/chat, and its NDJSON
// stream back into domain events.
#pragma once

#include "actors/ports/backend.hpp"
#include "adapters/backends/output_builder.hpp"
#include "adapters/backends/tools.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace riposte::adapters::backends {

struct ollama_options {
  std::string base_url = "http://127.0.0.1:11434";
  long connect_timeout_ms = 5'000;
  long timeout_ms = 600'000;
  long max_connections = 64;
};

std::unique_ptr<actors::backend> make_ollama_backend(const ollama_options& opts);

// The /api/chat body for a generation request, as sent (history segments
// rendered once each and reused), and parsed back for tests.
std::string ollama_chat_body(const actors::generation_request& req);
nlohmann::json to_ollama_chat(const actors::generation_request& req);
// estimate_chat_tokens of that body, from the segments' cached counts.
std::int64_t ollama_chat_tokens(const actors::generation_request& req);

// Seconds since the epoch of an RFC 3339 time as Ollama writes modified_at
// ("2023-11-04T14:56:49.277302595-07:00", or with Z); 0 if it is not one.
std::int64_t rfc3339_seconds(const std::string& text);

// Turns /api/chat NDJSON lines into domain events, keeping the item ids and
// indices of one generation. Exposed for tests.
class ollama_translator {
public:
  // `params`: the request's (its tools decide how calls map back).
  // `first_index`: output items riposte itself put before the model's.
  explicit ollama_translator(std::string model,
                             const nlohmann::json& params = nlohmann::json::object(),
                             std::int64_t first_index = 0);
  // For one generation: its params, the hosted tools riposte offered, and
  // where its output items start.
  explicit ollama_translator(const actors::generation_request& req);
  // Feeds raw bytes; complete lines become events.
  std::vector<events::event> feed(std::string_view bytes);
  // The transfer ended; closes the generation (a missing `done` line fails it).
  std::vector<events::event> finish(long status, const std::string& transport_error, bool timed_out,
                                    bool connect_failed, const std::string& error_body);
  bool done() const { return out_.done(); }

private:
  void on_line(const nlohmann::json& line, std::vector<events::event>& out);
  // The `done` line: usage, and how the turn ended.
  void end_turn(std::int64_t prompt_tokens, std::int64_t output_tokens,
                const std::string& done_reason, std::vector<events::event>& out);

  std::string model_;
  std::string buffer_;
  std::string content_, thinking_; // a token line's, reused
  output_builder out_;
};

} // namespace riposte::adapters::backends
