// RFC 6455 frames as a server reads and writes them.
#include "http/ws_frames.hpp"

#include "events/json_safe.hpp"

#include <algorithm>

namespace riposte::http::ws {

namespace {

bool is_control(opcode op) {
  return static_cast<std::uint8_t>(op) >= 0x8;
}

bool known(std::uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// Bytes a header needs once its first two bytes are in: 2, 4 or 10, plus
// the 4-byte mask key.
std::size_t header_size(std::string_view h) {
  auto len7 = static_cast<unsigned char>(h[1]) & 0x7Fu;
  std::size_t extended = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  bool masked = (static_cast<unsigned char>(h[1]) & 0x80u) != 0;
  return 2 + extended + (masked ? 4 : 0);
}

} // namespace

void reader::fault(std::vector<incoming>& out, std::uint16_t code, std::string why) {
  stopped_ = true;
  message_.clear();
  message_.shrink_to_fit();
  frame_.clear();
  incoming f;
  f.kind = incoming::fault;
  f.code = code;
  f.payload = std::move(why);
  out.push_back(std::move(f));
}

bool reader::begin_frame(std::vector<incoming>& out) {
  auto b0 = static_cast<unsigned char>(header_[0]);
  auto b1 = static_cast<unsigned char>(header_[1]);
  if ((b0 & 0x70u) != 0) {
    fault(out, close_code::protocol_error, "reserved bits set (no extension was negotiated)");
    return false;
  }
  auto raw_op = static_cast<std::uint8_t>(b0 & 0x0Fu);
  if (!known(raw_op)) {
    fault(out, close_code::protocol_error, "unknown opcode");
    return false;
  }
  if ((b1 & 0x80u) == 0) {
    fault(out, close_code::protocol_error, "client frames must be masked");
    return false;
  }
  fin_ = (b0 & 0x80u) != 0;
  op_ = static_cast<opcode>(raw_op);
  std::uint64_t length = b1 & 0x7Fu;
  std::size_t at = 2;
  if (length == 126) {
    length = (std::uint64_t{static_cast<unsigned char>(header_[2])} << 8) |
             static_cast<unsigned char>(header_[3]);
    at = 4;
  } else if (length == 127) {
    length = 0;
    for (std::size_t i = 2; i < 10; ++i)
      length = (length << 8) | static_cast<unsigned char>(header_[i]);
    if ((length >> 63) != 0) {
      fault(out, close_code::protocol_error, "payload length out of range");
      return false;
    }
    at = 10;
  }
  for (int i = 0; i < 4; ++i)
    mask_[i] = static_cast<unsigned char>(header_[at + static_cast<std::size_t>(i)]);
  if (is_control(op_)) {
    if (!fin_ || length > 125) {
      fault(out, close_code::protocol_error, "control frames must be whole and at most 125 bytes");
      return false;
    }
  } else if (op_ == opcode::continuation) {
    if (!in_message_) {
      fault(out, close_code::protocol_error, "continuation frame without a message");
      return false;
    }
  } else if (in_message_) {
    fault(out, close_code::protocol_error, "a new message began inside a fragmented one");
    return false;
  }
  // The limit is checked against what the header claims, before any of it
  // is read or kept.
  if (!is_control(op_)) {
    auto so_far = in_message_ ? message_.size() : 0;
    if (length > max_message_ || so_far > max_message_ - length) {
      fault(out, close_code::too_big,
            "message larger than " + std::to_string(max_message_) + " bytes");
      return false;
    }
    if (op_ != opcode::continuation) {
      in_message_ = true;
      message_binary_ = op_ == opcode::binary;
      message_.clear();
    }
  }
  remaining_ = length;
  offset_ = 0;
  frame_.clear();
  in_payload_ = true;
  return true;
}

void reader::end_frame(std::vector<incoming>& out) {
  in_payload_ = false;
  header_.clear();
  if (!is_control(op_)) {
    if (!fin_)
      return;
    in_message_ = false;
    if (!message_binary_ && !events::valid_utf8(message_)) {
      fault(out, close_code::invalid_payload, "text message is not valid UTF-8");
      return;
    }
    incoming m;
    m.kind = incoming::message;
    m.binary = message_binary_;
    m.payload = std::move(message_);
    message_.clear();
    out.push_back(std::move(m));
    return;
  }
  incoming c;
  c.payload = std::move(frame_);
  frame_.clear();
  if (op_ == opcode::ping) {
    c.kind = incoming::ping;
  } else if (op_ == opcode::pong) {
    c.kind = incoming::pong;
  } else {
    c.kind = incoming::close;
    if (c.payload.size() == 1) {
      fault(out, close_code::protocol_error, "close frame with a one-byte payload");
      return;
    }
    c.code = 1005; // no status received
    if (c.payload.size() >= 2) {
      c.code = static_cast<std::uint16_t>((static_cast<unsigned char>(c.payload[0]) << 8) |
                                          static_cast<unsigned char>(c.payload[1]));
      c.payload.erase(0, 2);
      // Codes a peer may send (RFC 6455 section 7.4): 1004-1006 and 1015
      // are reserved, 3000-4999 are for applications.
      bool valid = (c.code >= 1000 && c.code <= 1014 && c.code != 1004 && c.code != 1005 &&
                    c.code != 1006) ||
                   (c.code >= 3000 && c.code <= 4999);
      if (!valid) {
        fault(out, close_code::protocol_error, "close code not allowed on the wire");
        return;
      }
      if (!events::valid_utf8(c.payload)) {
        fault(out, close_code::invalid_payload, "close reason is not valid UTF-8");
        return;
      }
    }
    stopped_ = true;
  }
  out.push_back(std::move(c));
}

void reader::feed(std::string_view bytes, std::vector<incoming>& out) {
  while (!stopped_) {
    if (!in_payload_) {
      // Header bytes: two at first, then as many as those two say.
      std::size_t want = header_.size() < 2 ? 2 : header_size(header_);
      if (header_.size() < want) {
        if (bytes.empty())
          return;
        auto take = std::min(want - header_.size(), bytes.size());
        header_.append(bytes.substr(0, take));
        bytes.remove_prefix(take);
        continue;
      }
      if (!begin_frame(out))
        return;
    }
    if (remaining_ > 0) {
      if (bytes.empty())
        return;
      auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size()));
      std::string& into = is_control(op_) ? frame_ : message_;
      auto start = into.size();
      into.append(bytes.substr(0, take));
      for (std::size_t i = 0; i < take; ++i)
        into[start + i] = static_cast<char>(static_cast<unsigned char>(into[start + i]) ^
                                            mask_[(offset_ + i) & 3u]);
      offset_ += take;
      remaining_ -= take;
      bytes.remove_prefix(take);
    }
    if (remaining_ == 0)
      end_frame(out);
  }
}

std::string encode(opcode op, std::string_view payload) {
  std::string frame;
  frame.reserve(payload.size() + 10);
  frame.push_back(static_cast<char>(0x80u | static_cast<std::uint8_t>(op)));
  auto n = payload.size();
  if (n < 126) {
    frame.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    frame.push_back(static_cast<char>(126));
    frame.push_back(static_cast<char>((n >> 8) & 0xFFu));
    frame.push_back(static_cast<char>(n & 0xFFu));
  } else {
    frame.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8)
      frame.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xFFu));
  }
  frame.append(payload);
  return frame;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFFu));
  // 125 bytes at most in all, cut on a character boundary.
  auto cut = std::min<std::size_t>(reason.size(), 123);
  while (cut > 0 && cut < reason.size() &&
         (static_cast<unsigned char>(reason[cut]) & 0xC0u) == 0x80u)
    --cut;
  p.append(reason.substr(0, cut));
  return p;
}

} // namespace riposte::http::ws
