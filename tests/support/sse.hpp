// Test support: reading SSE streams over loopback, and the event-grammar
// validator every stream in the suite goes through.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace riposte::tests {

struct sse_result {
  long status = 0;
  std::string raw;                    // the bytes exactly as received
  std::vector<nlohmann::json> events; // the `data` of each frame
  std::vector<std::string> names;     // the `event:` of each frame
};

// Streams `method url` and stops after `max_events` frames (-1: to the end),
// closing the connection like a client that goes away.
sse_result sse_call(const std::string& method, const std::string& url, const std::string& body,
                    long max_events = -1, std::function<void(const std::string& raw)> on_bytes = {},
                    const std::vector<std::string>& extra_headers = {});

// Splits raw SSE text into frames.
void parse_frames(sse_result& r);

// Checks a whole stream against the Responses event grammar; returns the
// problems found (empty: valid). `complete` requires a terminal event.
std::vector<std::string> validate_stream(const std::vector<nlohmann::json>& events,
                                         std::int64_t first_seq = 0, bool complete = true);

} // namespace riposte::tests
