// Context planning: the window a model gets, and what truncation "auto" may
// leave out (with a counter that charges every item the same, so the
// arithmetic is visible).
#include "actors/response/context_plan.hpp"

#include <boost/test/unit_test.hpp>

namespace ra = riposte::actors;
using json = nlohmann::json;

namespace {

json msg(const std::string& role, const std::string& text, const std::string& id) {
  return {{"type", "message"}, {"role", role}, {"content", text}, {"id", id}};
}
json call(const std::string& call_id, const std::string& id) {
  return {{"type", "function_call"},
          {"call_id", call_id},
          {"name", "f"},
          {"arguments", "{}"},
          {"id", id}};
}
json output(const std::string& call_id, const std::string& id) {
  return {{"type", "function_call_output"}, {"call_id", call_id}, {"output", "ok"}, {"id", id}};
}

// 10 tokens per history item the request keeps, 10 per new input item.
ra::token_counter per_item(std::vector<std::size_t>* asked = nullptr) {
  return [asked](const ra::generation_request& req) {
    if (asked != nullptr)
      asked->push_back(req.dropped_items);
    auto history = riposte::projections::chain_items(req.history).size();
    return static_cast<std::int64_t>(10 * (history - req.dropped_items + req.items.size()));
  };
}

ra::generation_request request_with(json history, json input, std::int64_t window) {
  ra::generation_request req;
  req.history = std::make_shared<const riposte::projections::chain_segment>(
      riposte::projections::chain_segment{nullptr, std::move(history), 1});
  req.items = std::move(input);
  req.context_window = window;
  return req;
}

} // namespace

BOOST_AUTO_TEST_CASE(window_is_the_operators_then_the_modelfiles_then_the_default_capped) {
  ra::settings cfg;
  cfg.default_context_window = 4096;
  cfg.context_windows["big"] = 65536;
  ra::model_info m;
  m.id = "small";
  m.context_length = 2048;
  BOOST_TEST(ra::context_window(cfg, m) == 2048); // never beyond what it was trained for
  m.context_length = 131072;
  BOOST_TEST(ra::context_window(cfg, m) == 4096);
  m.num_ctx = 8192;
  BOOST_TEST(ra::context_window(cfg, m) == 8192);
  m.id = "big:latest";
  m.context_length = 32768; // the operator's word wins, even above it
  BOOST_TEST(ra::context_window(cfg, m) == 65536);
  cfg.default_context_window = 0;
  m.id = "other";
  m.num_ctx = 0;
  BOOST_TEST(ra::context_window(cfg, m) == 0);
}

BOOST_AUTO_TEST_CASE(disabled_truncation_refuses_what_does_not_fit_and_keeps_what_does) {
  ra::create_command cmd;
  auto history = json::array({msg("user", "a", "m1"), msg("assistant", "b", "m2")});
  auto input = json::array({msg("user", "c", "m3")});
  auto fits = ra::plan_context(cmd, request_with(history, input, 30), per_item());
  BOOST_REQUIRE(fits.has_value());
  BOOST_TEST(fits->input_tokens == 30);
  BOOST_TEST(fits->dropped_items == 0u);

  auto over = ra::plan_context(cmd, request_with(history, input, 29), per_item());
  BOOST_REQUIRE(!over.has_value());
  BOOST_TEST(over.error().param == "input");
  BOOST_TEST(over.error().message.find("30 tokens") != std::string::npos, over.error().message);

  cmd.params["max_output_tokens"] = 5; // kept free for the answer
  BOOST_TEST(!ra::plan_context(cmd, request_with(history, input, 34), per_item()).has_value());
  BOOST_TEST(ra::plan_context(cmd, request_with(history, input, 35), per_item()).has_value());
}

BOOST_AUTO_TEST_CASE(auto_truncation_drops_the_fewest_oldest_items_and_never_splits_a_call) {
  ra::create_command cmd;
  cmd.params["truncation"] = "auto";
  auto history = json::array({msg("developer", "rules", "d1"), msg("user", "q1", "m1"),
                              call("c1", "fc1"), output("c1", "fo1"), msg("assistant", "a1", "m2"),
                              msg("user", "q2", "m3"), msg("assistant", "a2", "m4")});
  auto input = json::array({msg("user", "q3", "m5")});
  // 6 conversation items + developer + input = 80; a 55-token window must
  // lose 3: q1, then the call with its output (2 alone would split them).
  std::vector<std::size_t> asked;
  auto plan = ra::plan_context(cmd, request_with(history, input, 55), per_item(&asked));
  BOOST_REQUIRE(plan.has_value());
  BOOST_TEST(plan->dropped_items == 3u);
  BOOST_TEST(plan->input_tokens == 50);
  BOOST_TEST(plan->details["dropped_item_ids"] == json::array({"m1", "fc1", "fo1"}));
  BOOST_TEST(plan->details["input_tokens_before"] == 80);
  for (auto k : asked)
    BOOST_TEST(k != 2u); // a cut between a call and its output is never even tried

  // The new input answers a call in the history: that call stays.
  auto open = json::array({msg("user", "q1", "m1"), call("c9", "fc9")});
  auto answer = json::array({output("c9", "fo9")});
  auto kept = ra::plan_context(cmd, request_with(open, answer, 25), per_item());
  BOOST_REQUIRE(kept.has_value());
  BOOST_TEST(kept->dropped_items == 1u);
  BOOST_TEST(!ra::plan_context(cmd, request_with(open, answer, 15), per_item()).has_value());

  // Nothing to drop makes it fit: still a clear 400.
  auto alone = ra::plan_context(cmd, request_with(json::array(), input, 5), per_item());
  BOOST_REQUIRE(!alone.has_value());
  BOOST_TEST(alone.error().message.find("truncation") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_planner_asks_one_count_at_a_time_and_says_who_counted) {
  // What the response actor does with the backend's tokenizer: each count
  // a round trip, the plan decided by the answers, the same plan the
  // estimate path makes with the same counts.
  ra::create_command cmd;
  cmd.params["truncation"] = "auto";
  cmd.params["max_output_tokens"] = 5;
  auto history = json::array({msg("user", "q1", "m1"), msg("assistant", "a1", "m2"),
                              msg("user", "q2", "m3"), msg("assistant", "a2", "m4")});
  auto input = json::array({msg("user", "q3", "m5")});
  ra::context_planner planner(cmd, request_with(history, input, 35), true);
  BOOST_TEST(planner.budget() == 30);
  auto count = per_item();
  int round_trips = 0;
  while (const auto* next = planner.next()) {
    planner.counted(count(*next));
    ++round_trips;
  }
  BOOST_TEST(round_trips <= 4); // the whole, then a bisection over 4 cuts
  BOOST_TEST(planner.whole_tokens() == 50);
  const auto& plan = planner.result();
  BOOST_REQUIRE(plan.has_value());
  BOOST_TEST(plan->dropped_items == 2u);
  BOOST_TEST(plan->input_tokens == 30);
  BOOST_TEST(plan->details["counted_by"] == "tokenizer");
  auto same = ra::plan_context(cmd, request_with(history, input, 35), per_item());
  BOOST_REQUIRE(same.has_value());
  BOOST_TEST(same->dropped_items == plan->dropped_items);
  BOOST_TEST(same->details["counted_by"] == "estimate");

  // Refused by the tokenizer: the message says the number is exact.
  cmd.params["truncation"] = "disabled";
  ra::context_planner refused(cmd, request_with(history, input, 35), true);
  refused.counted(50);
  BOOST_TEST(refused.next() == nullptr);
  BOOST_REQUIRE(!refused.result().has_value());
  auto msg_text = refused.result().error().message;
  BOOST_TEST(msg_text.find("it is 50 tokens by the model's tokenizer") != std::string::npos,
             msg_text);
  // No window: the first count decides, anything fits.
  ra::context_planner open(cmd, request_with(history, input, 0), false);
  open.counted(1'000'000);
  BOOST_TEST(open.next() == nullptr);
  BOOST_TEST(open.result()->input_tokens == 1'000'000);
}
