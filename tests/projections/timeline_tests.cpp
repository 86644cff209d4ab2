// The timeline for people: offsets from the first event, runs of deltas of
// one item collapsed, tool calls counted, failures flagged, and what a model
// wrote never printed raw on a terminal.
#include "events/event.hpp"
#include "projections/timeline.hpp"

#include <boost/test/unit_test.hpp>

namespace rp = riposte::projections;
namespace ev = riposte::events;
using json = nlohmann::json;

namespace {

// Each event `at` microseconds after the first.
std::vector<ev::envelope> stream(const std::vector<std::pair<std::int64_t, ev::event>>& events) {
  std::vector<ev::envelope> out;
  std::uint64_t seq = 0;
  for (const auto& [at, e] : events) {
    auto made = ev::make_new_event(e, "t", 1'764'000'000'000'000 + at);
    ev::envelope env;
    env.stream = "resp_1";
    env.seq = seq++;
    env.type = made.type;
    env.version = made.version;
    env.tenant = "t";
    env.recorded_at = made.recorded_at;
    env.data = ev::data_of(e);
    out.push_back(std::move(env));
  }
  return out;
}

ev::output_text_delta text(const std::string& item, const std::string& delta) {
  ev::output_text_delta d;
  d.item_id = item;
  d.delta = delta;
  return d;
}

} // namespace

BOOST_AUTO_TEST_SUITE(timeline)

BOOST_AUTO_TEST_CASE(runs_of_deltas_collapse_and_the_totals_say_when_tokens_came) {
  ev::response_created created;
  created.response_id = "resp_1";
  created.model = "llama3.2:1b";
  ev::function_call_arguments_done args;
  args.item_id = "fc_1";
  args.name = "lookup";
  args.arguments = R"({"q":"x"})";
  auto t = rp::make_timeline(stream({
      {0, created},
      {100, ev::response_in_progress{}},
      {5'000, ev::output_item_added{0, {{"type", "message"}, {"id", "msg_1"}}}},
      {10'000, text("msg_1", "Hel")},
      {30'000, text("msg_1", "lo")},
      {40'000, text("msg_1", " you")},
      {41'000,
       ev::output_item_added{1, {{"type", "function_call"}, {"id", "fc_1"}, {"name", "lookup"}}}},
      {42'000, args},
      {50'000, ev::response_completed{0, {{"input_tokens", 7}, {"output_tokens", 3}}}},
  }));
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(t->rows.size() == 7u);
  const auto& run = t->rows[3];
  BOOST_TEST(run.type == "output_text_delta");
  BOOST_TEST(run.count == 3u);
  BOOST_TEST(run.at_us == 10'000);
  BOOST_TEST(run.until_us == 40'000);
  BOOST_TEST(run.detail == "9 bytes \"Hello you\"");
  BOOST_TEST(t->rows[5].detail == R"(lookup({"q":"x"}))");
  BOOST_TEST(t->totals.duration_us == 50'000);
  BOOST_TEST(*t->totals.first_token_us == 10'000);
  BOOST_TEST(t->totals.deltas == 3u);
  BOOST_TEST(t->totals.gap_p50_us == 20'000); // gaps of 20 and 10 ms
  BOOST_TEST(t->totals.gap_max_us == 20'000);
  BOOST_TEST(t->totals.tool_calls == 1u);
  BOOST_TEST(t->totals.status == "completed");
  auto text_out = rp::timeline_text(*t);
  BOOST_TEST(text_out.find("output_text_delta x3 (until +40.000 ms)") != std::string::npos,
             text_out);
  BOOST_TEST(text_out.find("first token +10.000 ms") != std::string::npos, text_out);
  BOOST_TEST(text_out.find("tokens in 7 out 3") != std::string::npos, text_out);
}

BOOST_AUTO_TEST_CASE(deltas_of_another_item_start_a_new_row_and_a_failure_is_flagged) {
  auto t = rp::make_timeline(stream({
      {0, ev::response_created{}},
      {1'000, text("msg_1", "a")},
      {2'000, text("msg_2", "b")},
      {3'000, ev::response_failed{ev::failure_code::server_restarted, "riposte restarted", {}}},
  }));
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(t->rows.size() == 4u);
  BOOST_TEST(t->rows[1].count == 1u);
  BOOST_TEST(t->rows[2].count == 1u);
  BOOST_TEST(t->rows[3].alert);
  BOOST_TEST(t->rows[3].detail == "server_restarted: riposte restarted");
  BOOST_TEST(t->totals.status == "failed");
  BOOST_TEST(rp::timeline_text(*t).find("!! response_failed") != std::string::npos);
  // The same rows as JSON for the console, offsets in milliseconds.
  auto j = rp::timeline_json(*t);
  BOOST_TEST(j["object"] == "response.timeline");
  BOOST_TEST(j["id"] == "resp_1");
  BOOST_REQUIRE(j["rows"].size() == 4u);
  BOOST_TEST(j["rows"][2]["at_ms"].get<double>() == 2.0);
  BOOST_TEST(j["rows"][3]["alert"] == true);
  BOOST_TEST(j["rows"][3]["detail"] == "server_restarted: riposte restarted");
  BOOST_TEST(j["totals"]["status"] == "failed");
  BOOST_TEST(j["totals"]["time_to_first_token_ms"].get<double>() == 1.0);
  BOOST_TEST(j["totals"]["duration_ms"].get<double>() == 3.0);
}

// A model's output may carry terminal escape sequences: C0 and C1 controls
// are printed escaped, never as the bytes.
BOOST_AUTO_TEST_CASE(control_characters_a_model_wrote_are_escaped) {
  auto t = rp::make_timeline(stream({
      {0, ev::response_created{}},
      {1'000, text("msg_1", "\x1b[2J\x07ok\xC2\x9B"
                            "31m\n")},
  }));
  BOOST_REQUIRE(t.has_value());
  auto out = rp::timeline_text(*t);
  for (char c : out)
    BOOST_TEST((static_cast<unsigned char>(c) >= 0x20 || c == '\n'), out);
  BOOST_TEST(out.find("\xC2\x9B") == std::string::npos, out);
  BOOST_TEST(out.find("\\u009B") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(an_empty_stream_is_an_empty_timeline_and_a_corrupt_event_an_error) {
  auto empty = rp::make_timeline({});
  BOOST_REQUIRE(empty.has_value());
  BOOST_TEST(empty->rows.empty());
  auto broken = stream({{0, ev::response_created{}}});
  broken[0].data = json::array();
  BOOST_TEST(!rp::make_timeline(broken).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
