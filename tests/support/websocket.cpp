// A WebSocket client for the tests, from RFC 6455.
#include "tests/support/websocket.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <random>
#include <sstream>
#include <stdexcept>

namespace riposte::tests {

using json = nlohmann::json;

std::uint16_t ws_frame::close_code() const {
  if (payload.size() < 2)
    return 1005;
  return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                    static_cast<unsigned char>(payload[1]));
}

bool ends_turn(const json& event) {
  auto type = event.value("type", "");
  return type == "response.completed" || type == "response.failed" ||
         type == "response.incomplete" || type == "error";
}

ws_client::ws_client(std::uint16_t port, std::vector<std::string> headers, std::string path)
  : fd_(connect_loopback(port)) {
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  bool version_given = false;
  for (const auto& h : headers) {
    request += h + "\r\n";
    std::string lower = h;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    version_given = version_given || lower.rfind("sec-websocket-version:", 0) == 0;
  }
  if (!version_given)
    request += "Sec-WebSocket-Version: 13\r\n";
  request += "\r\n";
  send_raw(request);
  // The answer's head (a refusal has a body too, read by Content-Length).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::size_t head_end;
  while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline))
      throw std::runtime_error("no handshake answer");
  std::istringstream head{buf_.substr(0, head_end)};
  std::string line;
  std::getline(head, line);
  handshake_.status = std::stoi(line.substr(9, 3));
  long length = 0;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    auto name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    handshake_.headers.emplace_back(name, value);
    if (name == "content-length")
      length = std::stol(value);
  }
  buf_.erase(0, head_end + 4);
  if (handshake_.status != 101) {
    while (buf_.size() < static_cast<std::size_t>(length))
      if (!fill(deadline))
        break;
    handshake_.body = buf_.substr(0, static_cast<std::size_t>(length));
    buf_.clear();
  }
}

ws_client::~ws_client() {
  close();
}

void ws_client::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool ws_client::send_raw(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool ws_client::send_frame(std::uint8_t first_byte, const std::string& payload, bool masked) {
  std::string frame;
  frame.push_back(static_cast<char>(first_byte));
  auto n = payload.size();
  auto mask_bit = static_cast<unsigned char>(masked ? 0x80 : 0);
  if (n < 126) {
    frame.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    frame.push_back(static_cast<char>(mask_bit | 126));
    frame.push_back(static_cast<char>(n >> 8));
    frame.push_back(static_cast<char>(n & 0xFF));
  } else {
    frame.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      frame.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xFF));
  }
  if (!masked)
    return send_raw(frame + payload);
  thread_local std::mt19937 rng{std::random_device{}()};
  unsigned char key[4];
  for (auto& k : key)
    k = static_cast<unsigned char>(rng());
  frame.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < n; ++i)
    frame.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4]));
  return send_raw(frame);
}

bool ws_client::send_text(const std::string& text) {
  return send_frame(0x81, text);
}

bool ws_client::fill(std::chrono::steady_clock::time_point deadline) {
  return receive_some(fd_, buf_, deadline, closed_);
}

std::optional<ws_frame> ws_client::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (buf_.size() >= 2) {
      auto b0 = static_cast<unsigned char>(buf_[0]);
      auto b1 = static_cast<unsigned char>(buf_[1]);
      std::size_t at = 2;
      std::uint64_t n = b1 & 0x7F;
      if (n == 126 && buf_.size() >= 4) {
        n = (static_cast<std::uint64_t>(static_cast<unsigned char>(buf_[2])) << 8) |
            static_cast<unsigned char>(buf_[3]);
        at = 4;
      } else if (n == 127 && buf_.size() >= 10) {
        n = 0;
        for (std::size_t i = 2; i < 10; ++i)
          n = (n << 8) | static_cast<unsigned char>(buf_[i]);
        at = 10;
      }
      bool header_whole = (b1 & 0x7F) < 126 || at > 2;
      if (header_whole && (b1 & 0x80) == 0 && buf_.size() >= at + n) {
        ws_frame f;
        f.fin = (b0 & 0x80) != 0;
        f.opcode = b0 & 0x0F;
        f.payload = buf_.substr(at, static_cast<std::size_t>(n));
        buf_.erase(0, at + static_cast<std::size_t>(n));
        return f;
      }
      if ((b1 & 0x80) != 0)
        throw std::runtime_error("the server sent a masked frame");
    }
    if (!fill(deadline))
      return std::nullopt;
  }
}

std::optional<json> ws_client::next_event(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto f = next(std::max(left, std::chrono::milliseconds(0)));
    if (!f || f->opcode == 8)
      return std::nullopt;
    if (f->opcode == 1)
      return json::parse(f->payload);
  }
}

std::vector<json> ws_client::turn(std::chrono::milliseconds timeout) {
  std::vector<json> events;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto e = next_event(std::max(left, std::chrono::milliseconds(0)));
    if (!e)
      return events;
    events.push_back(*e);
    if (ends_turn(*e))
      return events;
  }
}

std::optional<std::uint16_t> ws_client::wait_close(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto f = next(std::max(left, std::chrono::milliseconds(0)));
    if (!f)
      return std::nullopt;
    if (f->opcode == 8)
      return f->close_code();
  }
}

} // namespace riposte::tests
