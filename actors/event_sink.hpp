// Where a response actor pushes stream events: an SSE session in http/, or a
// test. The actor never learns it is HTTP.
#pragma once

#include "events/errc.hpp"
#include "projections/chain_context.hpp"
#include "projections/stream_events.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace riposte::actors {

class event_sink {
public:
  virtual ~event_sink() = default;
  // One stream event, rendered. Never blocks.
  virtual void push(const projections::stream_frame& event) = 0;
  // Several events in order, as one write when the sink can (an SSE session
  // sends them as one chunk: under load a stream catches up in one syscall).
  virtual void push_all(const std::vector<projections::stream_frame>& events) {
    for (const auto& e : events)
      push(e);
  }
  // A comment frame that keeps idle connections (and proxies) open.
  virtual void keep_alive() = 0;
  // Whether a silent prefill should be kept alive with logged events (a
  // repeated response.in_progress, stored like any event, so every
  // subscriber sees it) rather than keep_alive(): a client whose idle timer
  // counts only events (Codex over a WebSocket) needs them.
  virtual bool wants_logged_keepalive() const { return false; }
  // The stream is over.
  virtual void close() = 0;
  // Nothing could be streamed: answer with this error instead (or, once the
  // stream has begun, an `error` event, then the end).
  virtual void fail(const events::error_info& err) = 0;
  // Called (on any thread) when the client goes away or falls too far behind.
  virtual void on_gone(std::function<void()> fn) = 0;
  // From now on this stream follows `response_id` (an idempotent replay of
  // the response a key created): what derives from the id follows it.
  virtual void retarget(const std::string& response_id) { (void)response_id; }
  // The response reached `status` (completed, incomplete, failed,
  // cancelled); `context` is what a follow-up continues from. Told just
  // before the stream closes, to a sink that follows it live (a WebSocket
  // keeps the latest one for its connection).
  virtual void settled(const std::string& response_id, const std::string& status,
                       const projections::chain_ptr& context) {
    (void)response_id;
    (void)status;
    (void)context;
  }
};

struct sink_handle {
  std::shared_ptr<event_sink> sink;
};

} // namespace riposte::actors
