// The SSE session in isolation: frames, errors before the stream, deterministic
// obfuscation, and a client that stops reading is let go.
#include "http/sse.hpp"

#include <boost/test/unit_test.hpp>

#include <functional>
#include <vector>

using namespace riposte::http;
using json = nlohmann::json;

namespace {

// A connection whose writes complete only when the test says so.
struct fake_stream : chunk_stream {
  std::string bytes;
  std::vector<std::function<void(bool)>> unacked;
  bool finished = false;
  void write(std::string b, std::function<void(bool)> written) override {
    bytes += b;
    unacked.push_back(std::move(written));
  }
  void finish() override { finished = true; }
  void ack_all() {
    auto cbs = std::move(unacked);
    unacked.clear();
    for (auto& cb : cbs)
      cb(true);
  }
};

struct fake_exchange : exchange {
  std::shared_ptr<fake_stream> stream_ = std::make_shared<fake_stream>();
  std::optional<response> replied;
  std::string content_type;
  void reply(response r) override { replied = std::move(r); }
  std::shared_ptr<chunk_stream>
  stream(const std::string& type,
         const std::vector<std::pair<std::string, std::string>>&) override {
    content_type = type;
    return stream_;
  }
};

riposte::projections::stream_frame delta(std::int64_t seq, const std::string& text) {
  return riposte::projections::to_frame({{"type", "response.output_text.delta"},
                                         {"sequence_number", seq},
                                         {"delta", text},
                                         {"item_id", "msg_1"},
                                         {"output_index", 0},
                                         {"content_index", 0},
                                         {"logprobs", json::array()}});
}

} // namespace

BOOST_AUTO_TEST_CASE(events_become_sse_frames_and_close_ends_the_stream) {
  auto ex = std::make_shared<fake_exchange>();
  auto sink = make_sse_sink(ex, {4096, false, "resp_1"});
  sink->push(delta(4, "hi"));
  sink->keep_alive();
  sink->close();
  BOOST_TEST(ex->content_type.rfind("text/event-stream", 0) == 0u);
  BOOST_TEST(ex->stream_->bytes.rfind("event: response.output_text.delta\ndata: {", 0) == 0u);
  BOOST_TEST(ex->stream_->bytes.find("\n\n: keep-alive\n\n") != std::string::npos);
  BOOST_TEST(ex->stream_->finished);
  BOOST_TEST(!ex->replied.has_value());
}

BOOST_AUTO_TEST_CASE(an_error_before_the_first_event_is_a_plain_http_error) {
  auto ex = std::make_shared<fake_exchange>();
  auto sink = make_sse_sink(ex, {});
  sink->fail(
      riposte::events::make_error(riposte::events::riposte_errc::model_not_found, "no", "model"));
  BOOST_REQUIRE(ex->replied.has_value());
  BOOST_TEST(ex->replied->status == 400);
  BOOST_TEST(ex->stream_->bytes.empty());
}

BOOST_AUTO_TEST_CASE(an_error_after_the_first_event_is_a_flat_error_event) {
  auto ex = std::make_shared<fake_exchange>();
  auto sink = make_sse_sink(ex, {4096, false, "resp_1"});
  sink->push(delta(7, "x"));
  sink->fail(riposte::events::make_error(riposte::events::riposte_errc::store_error, "disk"));
  auto pos = ex->stream_->bytes.find("event: error\ndata: ");
  BOOST_REQUIRE(pos != std::string::npos);
  auto line = ex->stream_->bytes.substr(pos + 19);
  auto event = json::parse(line.substr(0, line.find('\n')));
  BOOST_TEST(event["sequence_number"] == 8);
  BOOST_TEST(event["message"] == "disk");
  BOOST_TEST(event.contains("code"));
  BOOST_TEST(event.contains("param"));
  BOOST_TEST(ex->stream_->finished);
}

BOOST_AUTO_TEST_CASE(a_client_that_stops_reading_is_let_go) {
  auto ex = std::make_shared<fake_exchange>();
  auto sink = make_sse_sink(ex, {16 * 1024, false, "resp_1"});
  int gone = 0;
  sink->on_gone([&] { ++gone; });
  std::string text(1000, 'x');
  for (int i = 0; i < 10; ++i)
    sink->push(delta(i, text));
  BOOST_TEST(gone == 0);
  ex->stream_->ack_all(); // the client read everything so far
  for (int i = 10; i < 40; ++i)
    sink->push(delta(i, text)); // ... and then stopped reading
  BOOST_TEST(gone == 1);
  BOOST_TEST(ex->stream_->finished);
  auto size = ex->stream_->bytes.size();
  sink->push(delta(41, text));
  BOOST_TEST(ex->stream_->bytes.size() == size); // nothing more is buffered for it
}

BOOST_AUTO_TEST_CASE(obfuscation_is_deterministic_per_response_and_seq) {
  BOOST_TEST(obfuscation_for("resp_a", 5, 3) == obfuscation_for("resp_a", 5, 3));
  BOOST_TEST(obfuscation_for("resp_a", 5, 3) != obfuscation_for("resp_a", 6, 3));
  BOOST_TEST(obfuscation_for("resp_a", 5, 3) != obfuscation_for("resp_b", 5, 3));
  BOOST_TEST(obfuscation_for("resp_a", 5, 3).size() >= 4u);
}
