// Projections: given events, then the Response object.
#define BOOST_TEST_MODULE projections
#include "events/json_safe.hpp"
#include "projections/response_view.hpp"
#include "projections/stream_events.hpp"

#include <boost/test/unit_test.hpp>

namespace ev = riposte::events;
namespace pj = riposte::projections;
using json = nlohmann::json;

namespace {

pj::response_state fold(const std::vector<ev::event>& events) {
  pj::response_state s;
  std::int64_t seq = 0;
  for (const auto& e : events)
    s = pj::apply(std::move(s), e, seq++, "tenant_a");
  return s;
}

std::vector<ev::event> created_then(std::vector<ev::event> more, json params = json::object()) {
  std::vector<ev::event> all{
      ev::response_created{"resp_1", "llama3.2:1b", 1764000000, std::move(params),
                           json::array({{{"id", "msg_in"}, {"type", "message"}, {"role", "user"}}}),
                           "blocking"},
      ev::response_in_progress{}};
  for (auto& e : more)
    all.push_back(std::move(e));
  return all;
}

json usage() {
  return {{"input_tokens", 5},
          {"input_tokens_details", {{"cached_tokens", 0}}},
          {"output_tokens", 2},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", 7}};
}

} // namespace

BOOST_AUTO_TEST_CASE(a_created_response_is_in_progress_with_the_api_defaults) {
  auto s = fold(created_then({}));
  auto r = pj::render(s);
  BOOST_TEST(r["status"] == "in_progress");
  BOOST_TEST(r["id"] == "resp_1");
  BOOST_TEST(r["created_at"] == 1764000000);
  BOOST_TEST(r["output"] == json::array());
  BOOST_TEST(r["usage"].is_null());
  BOOST_TEST(r["temperature"] == 1.0);
  BOOST_TEST(r["tool_choice"] == "auto");
  BOOST_TEST(r["text"]["format"]["type"] == "text");
  BOOST_TEST(r["store"] == true);
  BOOST_TEST(s.version == 1);
  BOOST_TEST(!s.terminal());
}

BOOST_AUTO_TEST_CASE(text_deltas_build_the_message_and_completion_sets_usage) {
  auto s = fold(created_then({
      ev::output_item_added{0,
                            {{"id", "msg_1"},
                             {"type", "message"},
                             {"status", "in_progress"},
                             {"role", "assistant"},
                             {"content", json::array()}}},
      ev::content_part_added{"msg_1", 0, 0, {{"type", "output_text"}, {"text", ""}}},
      ev::output_text_delta{"msg_1", 0, 0, "Hel"},
      ev::output_text_delta{"msg_1", 0, 0, "lo"},
  }));
  BOOST_TEST(pj::render(s)["output"][0]["content"][0]["text"] == "Hello");
  s = pj::apply(std::move(s), ev::response_completed{1764000005, usage()}, 6, "tenant_a");
  auto r = pj::render(s);
  BOOST_TEST(r["status"] == "completed");
  BOOST_TEST(r["completed_at"] == 1764000005);
  BOOST_TEST(r["usage"] == usage());
  BOOST_TEST(s.terminal());
}

BOOST_AUTO_TEST_CASE(function_call_arguments_accumulate_then_the_done_item_wins) {
  auto s = fold(created_then({
      ev::output_item_added{0,
                            {{"id", "fc_1"},
                             {"type", "function_call"},
                             {"call_id", "call_1"},
                             {"name", "f"},
                             {"arguments", ""},
                             {"status", "in_progress"}}},
      ev::function_call_arguments_delta{"fc_1", 0, "{\"a\":"},
      ev::function_call_arguments_delta{"fc_1", 0, "1}"},
  }));
  BOOST_TEST(pj::render(s)["output"][0]["arguments"] == "{\"a\":1}");
  s = pj::apply(std::move(s),
                ev::output_item_done{0,
                                     {{"id", "fc_1"},
                                      {"type", "function_call"},
                                      {"call_id", "call_1"},
                                      {"name", "f"},
                                      {"arguments", "{\"a\":1}"},
                                      {"status", "completed"}}},
                5, "tenant_a");
  BOOST_TEST(pj::render(s)["output"][0]["status"] == "completed");
}

BOOST_AUTO_TEST_CASE(terminal_events_set_status_error_and_incomplete_details) {
  auto failed = pj::render(
      fold(created_then({ev::response_failed{ev::failure_code::server_error, "boom", nullptr}})));
  BOOST_TEST(failed["status"] == "failed");
  BOOST_TEST(failed["error"] == (json{{"code", "server_error"}, {"message", "boom"}}));
  auto cut =
      pj::render(fold(created_then({ev::response_incomplete{"max_output_tokens", usage()}})));
  BOOST_TEST(cut["status"] == "incomplete");
  BOOST_TEST(cut["incomplete_details"]["reason"] == "max_output_tokens");
  auto cancelled = pj::render(fold(created_then({ev::response_cancelled{"client_cancelled"}})));
  BOOST_TEST(cancelled["status"] == "cancelled");
}

BOOST_AUTO_TEST_CASE(a_background_response_starts_queued_and_a_delete_is_remembered) {
  auto s = fold(created_then({}, {{"background", true}}));
  BOOST_TEST(s.status == "in_progress"); // response_in_progress followed
  auto q = fold({ev::response_created{
      "resp_2", "m", 1, {{"background", true}}, json::array(), "background"}});
  BOOST_TEST(q.status == "queued");
  auto d = fold(created_then({ev::response_completed{2, usage()}, ev::response_deleted{}}));
  BOOST_TEST(d.deleted);
  BOOST_TEST(d.status == "completed");
}

BOOST_AUTO_TEST_CASE(a_snapshot_restores_the_same_state) {
  auto s = fold(created_then({ev::output_item_added{0, {{"id", "msg_1"}, {"type", "message"}}},
                              ev::response_completed{9, usage()}}));
  auto restored = pj::from_snapshot(pj::to_snapshot(s));
  BOOST_REQUIRE(restored.has_value());
  BOOST_TEST(pj::render(*restored) == pj::render(s));
  BOOST_TEST(restored->version == s.version);
  BOOST_TEST(restored->tenant == "tenant_a");
  BOOST_TEST(!pj::from_snapshot("{").has_value());
  BOOST_TEST(!pj::from_snapshot(R"({"id":1})").has_value());
}

// A snapshot is written member by member; its bytes are those of the one
// JSON object it stands for (keys in order, text escaped, bad UTF-8
// replaced), whatever the state holds.
BOOST_AUTO_TEST_CASE(a_snapshot_is_the_bytes_of_its_json_object) {
  auto as_object = [](const pj::response_state& x) {
    return json{{"id", x.id},
                {"tenant", x.tenant},
                {"model", x.model},
                {"created_at", x.created_at},
                {"completed_at", x.completed_at ? json(*x.completed_at) : json()},
                {"params", x.params},
                {"input", x.input},
                {"status", x.status},
                {"output", x.output},
                {"usage", x.usage},
                {"error", x.error},
                {"incomplete_details", x.incomplete_details},
                {"deleted", x.deleted},
                {"version", x.version}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
  };
  auto done = fold(
      created_then({ev::output_item_added{
                        0, {{"id", "msg_1"}, {"type", "message"}, {"text", "a \"q\" \u00e9\n"}}},
                    ev::response_completed{9, usage()}},
                   {{"temperature", 0.5}, {"metadata", {{"k", "v"}, {"a", {1, 2, 3}}}}}));
  auto failed =
      fold(created_then({ev::response_failed{ev::failure_code::server_error, "boom", nullptr}}));
  auto empty = pj::response_state{};
  auto odd = done;
  odd.id = std::string{"resp_\xff\xfe"}; // not UTF-8: replaced, as the object's dump does
  odd.tenant = "t\"\\\x01";
  odd.deleted = true;
  odd.completed_at.reset();
  for (const auto* x : {&done, &failed, &empty, &odd})
    BOOST_TEST(pj::to_snapshot(*x) == as_object(*x));
  auto back = pj::from_snapshot(pj::to_snapshot(odd));
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->tenant == odd.tenant);
  BOOST_TEST(back->deleted);
}

BOOST_AUTO_TEST_CASE(a_response_adds_its_input_then_its_output_to_the_conversation) {
  auto s = fold(created_then({ev::output_item_added{0, {{"id", "msg_out"}, {"type", "message"}}},
                              ev::response_completed{9, usage()}}));
  auto ctx = pj::own_items(s);
  BOOST_REQUIRE(ctx.size() == 2u);
  BOOST_TEST(ctx[0]["id"] == "msg_in");
  BOOST_TEST(ctx[1]["id"] == "msg_out");
}

BOOST_AUTO_TEST_CASE(an_undecodable_stored_event_is_an_error_not_a_crash) {
  ev::envelope env{"resp_1", 0, 1, "output_text_delta", 2, "t", 0, {{"delta", 3}}};
  BOOST_TEST(!pj::apply(pj::response_state{}, env).has_value());
  env.type = "no_such_event";
  BOOST_TEST(!pj::apply(pj::response_state{}, env).has_value());
}

BOOST_AUTO_TEST_CASE(a_delta_frame_has_the_bytes_of_its_json_event) {
  // Deltas skip the JSON tree; they must still render what the tree would.
  auto state = fold(created_then({}));
  std::vector<ev::event> deltas{
      ev::output_text_delta{"msg_1", 2, 1, "h\u00e9llo \"quoted\"\n\ttab\\", json::array()},
      ev::output_text_delta{"msg_1", 0, 0, "", json::array({{{"token", "a"}}})},
      ev::reasoning_delta{"rs_1", 0, 3, "th\u00efnk\u0001"},
      ev::function_call_arguments_delta{"fc_1", 4, "{\"a\": \"</b>\"}"},
      ev::output_text_delta{"msg_1", 0, 0,
                            std::string("nul\0del\x7f \xf0\x9f\x98\x80 \xe2\x82\xac", 18),
                            json::array()}};
  std::int64_t seq = 7;
  for (const auto& d : deltas) {
    auto fast = pj::render_frame(state, d, seq);
    auto tree = pj::stream_event(state, d, seq);
    BOOST_REQUIRE(fast.has_value());
    BOOST_REQUIRE(tree.has_value());
    BOOST_TEST(fast->data == tree->dump());
    BOOST_TEST(fast->type == (*tree)["type"].get<std::string>());
    BOOST_TEST(fast->seq == seq);
    BOOST_TEST(*fast->delta_size == (*tree)["delta"].get<std::string>().size());
    // From the text written for the log (what the actor has at hand), the
    // same frame.
    auto logged = ev::make_new_event(d, "tenant", 1);
    BOOST_REQUIRE(!logged.text.empty());
    auto from_text = pj::render_frame(state, d, seq, logged.text);
    BOOST_REQUIRE(from_text.has_value());
    BOOST_TEST(from_text->data == fast->data);
    BOOST_TEST(from_text->type == fast->type);
    BOOST_TEST(*from_text->delta_size == *fast->delta_size);
    ++seq;
  }
  // Other events keep their JSON rendering and carry no delta.
  auto done = pj::render_frame(state, ev::output_text_done{"msg_1", 0, 0, "hi"}, 11);
  BOOST_REQUIRE(done.has_value());
  BOOST_TEST(!done->delta_size.has_value());
  BOOST_TEST(json::parse(done->data)["text"] == "hi");
  // Given its log text, a non-delta event still renders from the view.
  ev::event text_done = ev::output_text_done{"msg_1", 0, 0, "hi"};
  auto logged = ev::make_new_event(text_done, "tenant", 1);
  auto done_from_text = pj::render_frame(state, text_done, 11, logged.text);
  BOOST_REQUIRE(done_from_text.has_value());
  BOOST_TEST(done_from_text->data == done->data);
}

// The blocking answer is written as text straight from the view: the same
// bytes as the Response object dumped, whatever the state and parameters.
BOOST_AUTO_TEST_CASE(the_response_as_text_is_the_response_object_dumped) {
  json item = {{"id", "msg_1"},
               {"type", "message"},
               {"role", "assistant"},
               {"status", "completed"},
               {"content", json::array({{{"type", "output_text"},
                                         {"text", "caf\u00e9 \"quoted\"\n\ttab \x01"},
                                         {"annotations", json::array()}}})}};
  json params = {{"temperature", 0.25},
                 {"metadata", {{"k\"ey", "v\u00e9"}}},
                 {"tools", json::array({{{"type", "function"}, {"name", "f"}}})},
                 {"truncation_details", {{"dropped_items", 2}}},
                 {"prompt", {{"id", "pmpt_1"}}},
                 {"conversation", {{"id", "conv_1"}}},
                 {"store", false},
                 {"not_echoed", 1}};
  std::vector<pj::response_state> states{
      pj::response_state{},
      fold(created_then({})),
      fold(created_then({ev::output_item_done{0, item}, ev::response_completed{9, usage()}},
                        params)),
      fold(created_then(
          {ev::output_item_done{0, item}, ev::response_incomplete{"max_output_tokens", usage()}})),
      fold(created_then({ev::response_failed{ev::failure_code::server_error, "bo\"om", nullptr}},
                        {{"instructions", "be \\ brief"}, {"max_output_tokens", 16}})),
  };
  for (const auto& s : states)
    BOOST_TEST(pj::render_text(s) == ev::dump_json(pj::render(s)));
  // A malformed byte in the output is replaced as dump_json replaces it.
  auto bad = states[2];
  bad.output[0]["content"][0]["text"] = std::string("bad \xff byte");
  BOOST_TEST(pj::render_text(bad) == ev::dump_json(pj::render(bad)));
}

// A batch the actor gives up is folded by taking its events' data: the same
// view as folding copies.
BOOST_AUTO_TEST_CASE(folding_moved_events_gives_the_view_folding_copies_gives) {
  json item = {{"id", "msg_1"}, {"type", "message"}, {"role", "assistant"}, {"content", json::array()}};
  json done = item;
  done["content"] = json::array({{{"type", "output_text"}, {"text", "Hello"}}});
  auto events = created_then(
      {ev::output_item_added{0, item},
       ev::content_part_added{"msg_1", 0, 0, {{"type", "output_text"}, {"text", ""}}},
       ev::output_text_delta{"msg_1", 0, 0, "Hel"}, ev::output_text_delta{"msg_1", 0, 0, "lo"},
       ev::output_text_done{"msg_1", 0, 0, "Hello"},
       ev::content_part_done{"msg_1", 0, 0, {{"type", "output_text"}, {"text", "Hello"}}},
       ev::output_item_done{0, done}, ev::response_completed{9, usage()}},
      {{"temperature", 0.5}});
  pj::response_state copied, moved;
  std::int64_t seq = 0;
  for (auto& e : events) {
    pj::apply_in_place(copied, e, seq, "tenant_a");
    pj::apply_in_place(moved, std::move(e), seq, "tenant_a");
    ++seq;
  }
  BOOST_TEST(ev::dump_json(pj::render(moved)) == ev::dump_json(pj::render(copied)));
  BOOST_TEST(pj::to_snapshot(moved) == pj::to_snapshot(copied));
  BOOST_TEST(moved.params["temperature"] == 0.5);
  BOOST_TEST(moved.output[0]["content"][0]["text"] == "Hello");
}
