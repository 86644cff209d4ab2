// An asynchronous HTTP client on libcurl's multi interface: one event-loop
// thread per client, keep-alive connections reused across requests, connect
// and overall timeouts, and abort at any moment from any thread.
#pragma once

#include "actors/ports/backend.hpp"
#include "events/errc.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace riposte::adapters::backends {

struct http_outcome {
  long status = 0;        // HTTP status, 0 when no response arrived
  bool aborted = false;   // abort() was called
  bool timed_out = false; // the overall timeout passed
  bool connect_failed = false;
  std::string error; // curl's reason when the transfer failed
  // Where the transfer's wall time went: when the client's thread took it,
  // wrote the request (just before: the connection was ready), saw the
  // first byte of the reply, and ended it. Unset (epoch) where it never got
  // that far.
  actors::generation_update::steps timing;
};

// What a transfer ended by abort(), or by the client's end, reports.
inline http_outcome aborted_outcome() {
  http_outcome out;
  out.aborted = true;
  out.error = "aborted";
  return out;
}

struct http_request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers; // "Name: value"
  std::string body;
  long connect_timeout_ms = 5'000;
  long timeout_ms = 600'000; // whole transfer; 0: none
  // Body bytes as they arrive, with the status line already known. Runs on
  // the client's thread: keep it short.
  std::function<void(long status, std::string_view bytes)> on_data;
  // Called exactly once, last.
  std::function<void(const http_outcome&)> on_done;
};

// Which loop carries plain http:// requests to an address or localhost:
// libcurl's multi interface, or riposte's own (native_http.hpp). https and
// host names always go through libcurl.
enum class http_engine { curl, native };
// What clients made from here on use (--backend-client); set once at start.
void set_default_http_engine(http_engine engine);
http_engine default_http_engine();

// How either loop ends a transfer: on_done told `out`, with the reason if
// on_data threw (`threw`; the status then defaults to 502), and nothing it
// throws let out.
void tell_done(const http_request& req, http_outcome out, const std::string& threw);

class http_client {
public:
  explicit http_client(long max_connections_per_host = 64,
                       http_engine engine = default_http_engine());
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Queues the request; returns an id for abort(). Thread-safe.
  std::uint64_t start(http_request req);
  // Ends the transfer (closing its connection); on_done reports aborted.
  // Unknown or finished ids are ignored. Thread-safe.
  void abort(std::uint64_t id);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A small request whose whole reply is one JSON object (a model list, a
// version): `done` gets the status and the object, or backend_unavailable
// (backend_timeout) when the transfer failed, the status is not 200 or the
// body is not an object. `what` names the request in the error ("/api/tags").
void fetch_json(http_client& client, http_request req, std::string what,
                std::function<void(long status, events::result<nlohmann::json>)> done);

} // namespace riposte::adapters::backends
