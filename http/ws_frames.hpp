// WebSocket framing (RFC 6455), server side, without RESTinio: RESTinio 0.6's
// reader allocates whatever length a frame header claims, so riposte reads
// its upgraded sockets with this one. The reader takes bytes as they come and
// gives back whole messages (fragments joined), pings, pongs and the peer's
// close; a message over the limit is refused from its header, before any of
// its payload is kept, and memory grows only with bytes actually received.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace riposte::http::ws {

enum class opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Close codes riposte sends (RFC 6455 section 7.4.1).
namespace close_code {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t protocol_error = 1002;
constexpr std::uint16_t unsupported_data = 1003;
constexpr std::uint16_t invalid_payload = 1007;
constexpr std::uint16_t policy_violation = 1008;
constexpr std::uint16_t too_big = 1009;
constexpr std::uint16_t internal_error = 1011;
} // namespace close_code

// What the reader made of the bytes.
struct incoming {
  enum kind_t { message, ping, pong, close, fault } kind = message;
  bool binary = false; // a message: binary rather than text
  std::string payload; // a message's data, a ping's or pong's payload, a close or fault's reason
  std::uint16_t code =
      0; // close: the peer's code (1005 when it gave none); fault: the code to close with
};

class reader {
public:
  explicit reader(std::size_t max_message_bytes)
    : max_message_(max_message_bytes) {}

  // Consumes `bytes`, appending what they complete to `out`. After a fault
  // (or the peer's close) the reader takes nothing more.
  void feed(std::string_view bytes, std::vector<incoming>& out);
  bool stopped() const { return stopped_; }

private:
  void fault(std::vector<incoming>& out, std::uint16_t code, std::string why);
  // A whole header is in `header_`: check it; false once faulted.
  bool begin_frame(std::vector<incoming>& out);
  void end_frame(std::vector<incoming>& out);

  std::size_t max_message_;
  bool stopped_ = false;
  std::string header_; // the current frame's header bytes read so far
  bool in_payload_ = false;
  bool fin_ = false;
  opcode op_ = opcode::text;
  std::uint64_t remaining_ = 0; // payload bytes of the current frame still to read
  std::uint64_t offset_ = 0;    // payload bytes of the current frame read (for the mask)
  unsigned char mask_[4] = {0, 0, 0, 0};
  std::string frame_;       // a control frame's payload
  bool in_message_ = false; // a fragmented message is open
  bool message_binary_ = false;
  std::string message_; // the data message being assembled
};

// One unfragmented server frame (unmasked, as a server sends).
std::string encode(opcode op, std::string_view payload);
// A close frame's payload: the code, then the reason (cut to fit 125 bytes).
std::string close_payload(std::uint16_t code, std::string_view reason);

} // namespace riposte::http::ws
