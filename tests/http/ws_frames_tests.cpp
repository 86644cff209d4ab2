// WebSocket framing in isolation: frames split anywhere, fragments joined,
// control frames between fragments, every protocol violation and the size
// limit checked from the header, before any payload is kept.
#include "http/ws_frames.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace riposte::http::ws;

namespace {

// A client frame: masked with a fixed key.
std::string client_frame(unsigned char first, const std::string& payload, bool masked = true) {
  std::string f;
  f.push_back(static_cast<char>(first));
  auto n = payload.size();
  unsigned char bit = masked ? 0x80 : 0;
  if (n < 126) {
    f.push_back(static_cast<char>(bit | n));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(bit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      f.push_back(static_cast<char>((static_cast<unsigned long long>(n) >> shift) & 0xFF));
  }
  const unsigned char key[4] = {0x11, 0x22, 0x33, 0x44};
  if (masked)
    f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < n; ++i)
    f.push_back(masked ? static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4])
                       : payload[i]);
  return f;
}

std::vector<incoming> read_all(reader& r, const std::string& bytes, std::size_t step = 0) {
  std::vector<incoming> out;
  if (step == 0) {
    r.feed(bytes, out);
    return out;
  }
  for (std::size_t i = 0; i < bytes.size(); i += step)
    r.feed(std::string_view{bytes}.substr(i, step), out);
  return out;
}

std::uint16_t fault_code(const std::vector<incoming>& out) {
  BOOST_REQUIRE(!out.empty());
  BOOST_TEST(out.back().kind == incoming::fault);
  return out.back().code;
}

} // namespace

BOOST_AUTO_TEST_SUITE(ws_frames)

BOOST_AUTO_TEST_CASE(messages_arrive_whole_however_the_bytes_are_split) {
  std::string big(70'000, 'x');
  std::string bytes = client_frame(0x81, "hello") + client_frame(0x81, std::string(300, 'y')) +
                      client_frame(0x81, big) + client_frame(0x81, "");
  for (std::size_t step : {0u, 1u, 3u, 7u, 1000u}) {
    reader r{1 << 20};
    auto out = read_all(r, bytes, step);
    BOOST_REQUIRE_EQUAL(out.size(), 4u);
    BOOST_TEST(out[0].payload == "hello");
    BOOST_TEST(out[1].payload == std::string(300, 'y'));
    BOOST_TEST(out[2].payload == big);
    BOOST_TEST(out[3].payload.empty());
    for (const auto& m : out) {
      BOOST_TEST(m.kind == incoming::message);
      BOOST_TEST(!m.binary);
    }
  }
}

BOOST_AUTO_TEST_CASE(fragments_are_joined_with_control_frames_between_them) {
  std::string bytes = client_frame(0x01, "{\"a\":") + client_frame(0x89, "ping!") +
                      client_frame(0x00, "1") + client_frame(0x8A, "") + client_frame(0x80, "}");
  reader r{1024};
  auto out = read_all(r, bytes, 2);
  BOOST_REQUIRE_EQUAL(out.size(), 3u);
  BOOST_TEST(out[0].kind == incoming::ping);
  BOOST_TEST(out[0].payload == "ping!");
  BOOST_TEST(out[1].kind == incoming::pong);
  BOOST_TEST(out[2].kind == incoming::message);
  BOOST_TEST(out[2].payload == "{\"a\":1}");
}

BOOST_AUTO_TEST_CASE(the_size_limit_is_checked_from_the_header) {
  {
    reader r{1000};
    // A header claiming 2^62 bytes, and nothing after it.
    std::string lying{"\x81\xFF\x40\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04", 14};
    BOOST_TEST(fault_code(read_all(r, lying)) == close_code::too_big);
    BOOST_TEST(r.stopped());
  }
  {
    reader r{1000};
    BOOST_TEST(fault_code(read_all(r, client_frame(0x81, std::string(1001, 'a')).substr(0, 8))) ==
               close_code::too_big);
  }
  {
    reader r{1000};
    auto bytes =
        client_frame(0x01, std::string(600, 'a')) + client_frame(0x80, std::string(401, 'a'));
    BOOST_TEST(fault_code(read_all(r, bytes)) == close_code::too_big);
  }
  {
    reader r{1000};
    auto out = read_all(r, client_frame(0x81, std::string(1000, 'a')));
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_TEST(out[0].payload.size() == 1000u);
  }
  {
    // The top bit of a 64-bit length is not allowed.
    reader r{1000};
    std::string bad{"\x81\xFF\x80\x00\x00\x00\x00\x00\x00\x01\x01\x02\x03\x04", 14};
    BOOST_TEST(fault_code(read_all(r, bad)) == close_code::protocol_error);
  }
}

BOOST_AUTO_TEST_CASE(protocol_violations_are_faults_with_their_close_code) {
  auto code_of = [](const std::string& bytes) {
    reader r{1 << 16};
    return fault_code(read_all(r, bytes));
  };
  BOOST_TEST(code_of(client_frame(0x81, "x", false)) == close_code::protocol_error); // unmasked
  BOOST_TEST(code_of(client_frame(0xC1, "x")) == close_code::protocol_error);        // RSV1
  BOOST_TEST(code_of(client_frame(0x83, "x")) == close_code::protocol_error);        // opcode 3
  BOOST_TEST(code_of(client_frame(0x8B, "x")) == close_code::protocol_error);        // opcode 11
  BOOST_TEST(code_of(client_frame(0x80, "x")) == close_code::protocol_error); // lone continuation
  BOOST_TEST(code_of(client_frame(0x01, "a") + client_frame(0x81, "b")) ==
             close_code::protocol_error); // a new message inside a fragmented one
  BOOST_TEST(code_of(client_frame(0x09, "x")) == close_code::protocol_error); // fragmented ping
  BOOST_TEST(code_of(client_frame(0x89, std::string(126, 'p'))) == close_code::protocol_error);
  BOOST_TEST(code_of(client_frame(0x81, "\xC3\x28")) == close_code::invalid_payload);
  BOOST_TEST(code_of(client_frame(0x88, "\x03")) == close_code::protocol_error);
  BOOST_TEST(code_of(client_frame(0x88, std::string{"\x03\xE8\xFF", 3})) ==
             close_code::invalid_payload);
  for (unsigned code : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 2000u, 5000u})
    BOOST_TEST(code_of(client_frame(0x88, std::string{static_cast<char>(code >> 8),
                                                      static_cast<char>(code & 0xFF)})) ==
                   close_code::protocol_error,
               code);
  // A UTF-8 character split across fragments is fine.
  reader r{1024};
  auto out = read_all(r, client_frame(0x01, "\xC3") + client_frame(0x80, "\xA9"));
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  BOOST_TEST(out[0].payload == "\xC3\xA9");
}

BOOST_AUTO_TEST_CASE(binary_and_close_are_reported_and_close_stops_the_reader) {
  reader r{1024};
  auto out = read_all(r, client_frame(0x82, std::string{"\x00\x01", 2}) +
                             client_frame(0x88, std::string{"\x03\xE9going", 7}) +
                             client_frame(0x81, "after the close"));
  BOOST_REQUIRE_EQUAL(out.size(), 2u);
  BOOST_TEST(out[0].binary);
  BOOST_TEST(out[1].kind == incoming::close);
  BOOST_TEST(out[1].code == 1001);
  BOOST_TEST(out[1].payload == "going");
  BOOST_TEST(r.stopped());
  reader bare{1024};
  auto closed = read_all(bare, client_frame(0x88, ""));
  BOOST_REQUIRE_EQUAL(closed.size(), 1u);
  BOOST_TEST(closed[0].code == 1005);
}

BOOST_AUTO_TEST_CASE(server_frames_use_the_shortest_length_and_no_mask) {
  auto small = encode(opcode::text, "hi");
  BOOST_TEST(small == std::string("\x81\x02hi"));
  auto mid = encode(opcode::text, std::string(300, 'a'));
  BOOST_TEST(mid.substr(0, 4) == std::string("\x81\x7E\x01\x2C", 4));
  auto big = encode(opcode::binary, std::string(70'000, 'a'));
  BOOST_TEST(big.substr(0, 10) == std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x11\x70", 10));
  BOOST_TEST(big.size() == 70'010u);
  auto close = close_payload(1009, std::string(200, 'r'));
  BOOST_TEST(close.size() == 125u);
  BOOST_TEST(close.substr(0, 2) == std::string("\x03\xF1", 2));
  // A reason is cut on a character boundary.
  std::string accents;
  for (int i = 0; i < 70; ++i)
    accents += "\xC3\xA9";
  auto cut = close_payload(1000, accents);
  BOOST_TEST(cut.size() % 2 == 0u);
  BOOST_TEST(cut.size() <= 125u);
}

BOOST_AUTO_TEST_SUITE_END()
