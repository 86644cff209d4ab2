// An SSE session: the event_sink a response actor pushes to, written as
// `event:`/`data:` frames. Nothing is sent before the first event, so an
// error found before streaming starts is still a plain HTTP error.
#pragma once

#include "actors/event_sink.hpp"
#include "http/server.hpp"

#include <memory>
#include <string>

namespace riposte::http {

struct sse_options {
  std::size_t max_pending_bytes = 4u << 20; // a client further behind is dropped
  bool obfuscation = true;                  // stream_options.include_obfuscation
  std::string response_id;                  // seeds the obfuscation padding
};

std::shared_ptr<actors::event_sink> make_sse_sink(std::shared_ptr<exchange> ex, sse_options opts);

// One `event:`/`data:` frame, exactly as a live stream writes it.
std::string sse_frame(const projections::stream_frame& event, const sse_options& opts);
// The event's JSON as a frame carries it (a WebSocket text message), with
// its obfuscation padding when asked.
std::string event_data(const projections::stream_frame& event, const sse_options& opts);

// The padding's seed: the response id, hashed. A sink takes it once and
// passes it with every frame instead of hashing the id per token.
std::uint64_t obfuscation_seed(std::string_view response_id);
std::string sse_frame(const projections::stream_frame& event, const sse_options& opts,
                      std::uint64_t seed);
std::string event_data(const projections::stream_frame& event, const sse_options& opts,
                       std::uint64_t seed);

// The padding for a delta event: deterministic in (response id, seq), so a
// resumed stream repeats the original bytes exactly.
std::string obfuscation_for(const std::string& response_id, std::int64_t seq,
                            std::size_t delta_size);

} // namespace riposte::http
