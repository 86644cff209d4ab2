// Test support: a WebSocket client written from RFC 6455 for the tests (it
// shares no code with riposte's framing), over a plain loopback socket, able
// to send what no library would: unmasked frames, lying lengths, fragments.
#pragma once

#include "tests/support/process.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace riposte::tests {

struct ws_frame {
  int opcode = 0; // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  bool fin = true;
  std::string payload;
  std::uint16_t close_code() const; // a close frame's code (1005: none)
};

class ws_client {
public:
  // Connects and asks to upgrade `path` with `headers` ("Name: value");
  // handshake() tells how the server answered (101: upgraded).
  ws_client(std::uint16_t port, std::vector<std::string> headers = {},
            std::string path = "/v1/responses");
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  const raw_response& handshake() const { return handshake_; }
  bool upgraded() const { return handshake_.status == 101; }

  bool send_text(const std::string& text);
  bool send_json(const nlohmann::json& message) { return send_text(message.dump()); }
  // One frame as given: `first_byte` is FIN, RSV and opcode.
  bool send_frame(std::uint8_t first_byte, const std::string& payload, bool masked = true);
  bool send_raw(const std::string& bytes);

  // The next frame within `timeout`, or nullopt (timed out, or closed).
  std::optional<ws_frame> next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The next text message as JSON (pings are skipped), or nullopt.
  std::optional<nlohmann::json>
  next_event(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // One turn: events until a terminal event (response.completed, .failed,
  // .incomplete) or an `error` event, inclusive.
  std::vector<nlohmann::json> turn(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until the server's close frame: its code, or nullopt.
  std::optional<std::uint16_t>
  wait_close(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool peer_closed() const { return closed_; }
  void close();

private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  bool closed_ = false;
  std::string buf_;
  raw_response handshake_;
};

// Whether a terminal or error event ends a turn.
bool ends_turn(const nlohmann::json& event);

} // namespace riposte::tests
