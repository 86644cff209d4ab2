// The response's rules, as given events -> when (a backend update, the hosted
// tools' answers, a command) -> then the events to append (or the error).
// Nothing here runs an actor, a store or a backend.
#define BOOST_TEST_MODULE actors
#include "actors/response/decide.hpp"
#include "adapters/crypto/sealer.hpp"
#include "projections/chain_context.hpp"
#include "projections/response_view.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <vector>

namespace ev = riposte::events;
namespace rp = riposte::projections;
namespace rr = riposte::actors::response;
using riposte::actors::create_command;
using riposte::actors::generation_update;
using riposte::adapters::crypto::sealer;
using json = nlohmann::json;

namespace {

// The events as the log would store them: [{type, data}], for comparison.
json as_json(const std::vector<ev::event>& evs) {
  json out = json::array();
  for (const auto& e : evs)
    out.push_back({{"type", std::string(ev::type_of(e))}, {"data", ev::data_of(e)}});
  return out;
}

// Given these events, the response as its actor would hold it.
rp::response_state given(const std::vector<ev::event>& evs) {
  rp::response_state view;
  std::int64_t seq = 0;
  for (const auto& e : evs)
    rp::apply_in_place(view, e, seq++, "tenant-a");
  return view;
}

create_command command(json params = json::object()) {
  create_command cmd;
  cmd.response_id = "resp_1";
  cmd.tenant = "tenant-a";
  cmd.model = "qwen3:0.6b";
  cmd.params = std::move(params);
  cmd.input = json::array(
      {{{"type", "message"}, {"id", "msg_in"}, {"role", "user"}, {"content", "What is 2+2?"}}});
  return cmd;
}

json usage(std::int64_t in, std::int64_t out) {
  return {{"input_tokens", in},
          {"input_tokens_details", {{"cached_tokens", 0}}},
          {"output_tokens", out},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", in + out}};
}

json message(const std::string& text) {
  return {
      {"type", "message"},
      {"id", "msg_out"},
      {"role", "assistant"},
      {"status", "completed"},
      {"content",
       json::array({{{"type", "output_text"}, {"text", text}, {"annotations", json::array()}}})}};
}

// A whole answer as a backend reports it: the message, then the end.
std::vector<ev::event> answer(const std::string& text, ev::event end) {
  return {ev::output_item_added{0, message("")},
          ev::output_text_delta{"msg_out", 0, 0, text, json::array()},
          ev::output_item_done{0, message(text)}, std::move(end)};
}

generation_update update(std::vector<ev::event> evs, bool finished = true) {
  return generation_update{std::move(evs), finished};
}

std::vector<ev::event> opened() {
  return rr::decide_creation(command(), 1'700'000'000);
}

} // namespace

BOOST_AUTO_TEST_SUITE(decide)

BOOST_AUTO_TEST_CASE(a_creation_records_created_then_in_progress_or_queued_when_background) {
  auto evs = rr::decide_creation(command(), 1'700'000'000);
  BOOST_REQUIRE_EQUAL(evs.size(), 2u);
  const auto& created = std::get<ev::response_created>(evs[0]);
  BOOST_TEST(created.response_id == "resp_1");
  BOOST_TEST(created.created_at == 1'700'000'000);
  BOOST_TEST(created.input == command().input);
  BOOST_TEST(std::holds_alternative<ev::response_in_progress>(evs[1]));
  auto bg = rr::decide_creation(command({{"background", true}}), 1);
  BOOST_TEST(std::holds_alternative<ev::response_queued>(bg[1]));
  BOOST_TEST(given(bg).status == "queued");
}

BOOST_AUTO_TEST_CASE(a_completed_generation_is_appended_as_the_backend_said_it) {
  auto cmd = command();
  rr::turn_state t;
  auto then = answer("4", ev::response_completed{1'700'000'001, usage(12, 1)});
  auto out = rr::decide_update(cmd, t, update(then));
  BOOST_TEST(!out.run_hosted_tools);
  BOOST_TEST(as_json(out.events) == as_json(then));
  auto evs = opened();
  evs.insert(evs.end(), out.events.begin(), out.events.end());
  auto view = given(evs);
  BOOST_TEST(view.status == "completed");
  auto reply = rr::blocking_reply(view);
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST((*reply)["output"][0]["content"][0]["text"] == "4");
  BOOST_TEST((*reply)["usage"]["total_tokens"] == 13);
}

BOOST_AUTO_TEST_CASE(an_incomplete_generation_ends_incomplete_with_its_reason) {
  auto cmd = command();
  rr::turn_state t;
  auto then = answer("4 and", ev::response_incomplete{"max_output_tokens", usage(12, 2)});
  auto out = rr::decide_update(cmd, t, update(then));
  BOOST_TEST(as_json(out.events) == as_json(then));
  auto evs = opened();
  evs.insert(evs.end(), out.events.begin(), out.events.end());
  auto view = given(evs);
  BOOST_TEST(view.status == "incomplete");
  BOOST_TEST(view.incomplete_details["reason"] == "max_output_tokens");
  BOOST_TEST(rr::blocking_reply(view).has_value());
}

BOOST_AUTO_TEST_CASE(a_failed_generation_answers_a_blocking_create_with_its_error) {
  auto cmd = command();
  rr::turn_state t;
  std::vector<ev::event> then{
      ev::response_failed{ev::failure_code::backend_timeout, "no answer in 30 s", json()}};
  auto out = rr::decide_update(cmd, t, update(then));
  BOOST_TEST(as_json(out.events) == as_json(then));
  auto evs = opened();
  evs.insert(evs.end(), out.events.begin(), out.events.end());
  auto reply = rr::blocking_reply(given(evs));
  BOOST_REQUIRE(!reply.has_value());
  BOOST_TEST((reply.error().code == ev::riposte_errc::backend_timeout));
  BOOST_TEST(reply.error().message == "no answer in 30 s");
  // Each stored code answers with its own error; an unknown one is a 500.
  auto failed_with = [&](ev::failure_code code) {
    auto e = opened();
    e.emplace_back(ev::response_failed{code, "m", json()});
    return rr::blocking_reply(given(e)).error();
  };
  BOOST_TEST((failed_with(ev::failure_code::backend_unavailable).code ==
              ev::riposte_errc::backend_unavailable));
  BOOST_TEST(
      (failed_with(ev::failure_code::job_timeout).code == ev::riposte_errc::backend_timeout));
  BOOST_TEST(
      (failed_with(ev::failure_code::model_not_found).code == ev::riposte_errc::invalid_request));
  BOOST_TEST(failed_with(ev::failure_code::model_not_found).param == "model");
  BOOST_TEST((failed_with(ev::failure_code::output_schema_violation).code ==
              ev::riposte_errc::output_invalid));
  BOOST_TEST(failed_with(ev::failure_code::output_schema_violation).param == "text.format");
  BOOST_TEST((failed_with(ev::failure_code::server_restarted).code == ev::riposte_errc::internal));
}

BOOST_AUTO_TEST_CASE(a_cancelled_generation_ends_with_the_stop_once_the_backend_is_done) {
  auto cmd = command({{"background", true}});
  rr::turn_state t;
  t.cancel_requested = true;
  t.cancel_event = ev::response_cancelled{"client_cancelled"};
  // A delta still in flight is appended; the stop waits for the last update.
  std::vector<ev::event> delta{ev::output_text_delta{"msg_out", 0, 0, "4", json::array()}};
  auto mid = rr::decide_update(cmd, t, update(delta, false));
  BOOST_TEST(as_json(mid.events) == as_json(delta));
  auto last = rr::decide_update(cmd, t, update({}, true));
  BOOST_TEST(as_json(last.events) ==
             as_json(std::vector<ev::event>{ev::response_cancelled{"client_cancelled"}}));
  auto evs = opened();
  evs.insert(evs.end(), last.events.begin(), last.events.end());
  BOOST_TEST(given(evs).status == "cancelled");
  // A generation that finished on its own before the stop took keeps its end.
  rr::turn_state raced = t;
  auto then = answer("4", ev::response_completed{1, usage(3, 1)});
  BOOST_TEST(as_json(rr::decide_update(cmd, raced, update(then)).events) == as_json(then));
}

BOOST_AUTO_TEST_CASE(a_job_timeout_or_a_fault_ends_the_response_failed) {
  auto cmd = command();
  rr::turn_state t;
  t.cancel_requested = true;
  t.cancel_event = rr::timed_out(std::chrono::milliseconds(1500));
  auto out = rr::decide_update(cmd, t, update({}, true));
  BOOST_REQUIRE_EQUAL(out.events.size(), 1u);
  const auto& failed = std::get<ev::response_failed>(out.events[0]);
  BOOST_TEST((failed.code == ev::failure_code::job_timeout));
  BOOST_TEST(failed.message.find("1500 ms") != std::string::npos);
  BOOST_TEST((std::get<ev::response_failed>(rr::faulted()).code == ev::failure_code::server_error));
}

BOOST_AUTO_TEST_CASE(function_tool_calls_are_appended_for_the_client_to_run) {
  auto cmd = command({{"tools", json::array({{{"type", "function"}, {"name", "add"}}})}});
  rr::turn_state t;
  json call{{"type", "function_call"},  {"id", "fc_1"},
            {"call_id", "call_1"},      {"name", "add"},
            {"arguments", "{\"a\":2}"}, {"status", "completed"}};
  std::vector<ev::event> then{
      ev::output_item_added{0, call}, ev::function_call_arguments_delta{"fc_1", 0, "{\"a\":2}"},
      ev::function_call_arguments_done{"fc_1", 0, "add", "{\"a\":2}"},
      ev::output_item_done{0, call}, ev::response_completed{2, usage(20, 5)}};
  auto out = rr::decide_update(cmd, t, update(then));
  BOOST_TEST(!out.run_hosted_tools);
  BOOST_TEST(as_json(out.events) == as_json(then));
  BOOST_TEST(t.hosted_calls.empty());
}

BOOST_AUTO_TEST_CASE(a_hosted_web_search_holds_the_end_back_runs_then_cites_its_sources) {
  auto cmd = command({{"tools", json::array({{{"type", "web_search"}}})}});
  rr::turn_state t;
  json call{{"type", "web_search_call"},
            {"id", "ws_1"},
            {"status", "in_progress"},
            {"action", {{"type", "search"}, {"query", "riposte gateway"}}}};
  // 1. The model calls the tool: its end is held back, its usage kept.
  auto first = rr::decide_update(
      cmd, t, update({ev::output_item_added{0, call}, ev::response_completed{1, usage(30, 4)}}));
  BOOST_TEST(first.run_hosted_tools);
  BOOST_TEST(as_json(first.events) ==
             as_json(std::vector<ev::event>{ev::output_item_added{0, call}}));
  BOOST_TEST(t.earlier_usage == usage(30, 4));
  // 2. It runs: in_progress, then searching.
  BOOST_TEST(as_json(rr::decide_hosted_start(t)) ==
             as_json(std::vector<ev::event>{
                 ev::hosted_tool_progressed{"ws_1", 0, "web_search", "in_progress"},
                 ev::hosted_tool_progressed{"ws_1", 0, "web_search", "searching"}}));
  // 3. It answered: the call is done, and the model gets the results.
  json answers = json::array({{{"results", json::array({{{"url", "https://example.org/r"},
                                                         {"title", "Riposte"},
                                                         {"snippet", "a gateway"}}})}}});
  auto results = rr::decide_hosted_results(cmd, t, answers);
  BOOST_TEST(results.generate_again);
  BOOST_REQUIRE_EQUAL(results.events.size(), 2u);
  BOOST_TEST(std::get<ev::hosted_tool_progressed>(results.events[0]).phase == "completed");
  const auto& done = std::get<ev::output_item_done>(results.events[1]);
  BOOST_TEST(done.item["status"] == "completed");
  BOOST_TEST(!done.item["action"].contains("sources")); // only when include asks
  BOOST_REQUIRE_EQUAL(t.hosted_items.size(), 2u);
  BOOST_TEST(t.hosted_items[1]["output"].get<std::string>().find("https://example.org/r") !=
             std::string::npos);
  BOOST_TEST(t.hosted_calls.empty());
  // 4. The model answers citing it: the annotation, and the usage of both.
  auto text = std::string("See https://example.org/r.");
  auto last =
      rr::decide_update(cmd, t, update(answer(text, ev::response_completed{2, usage(50, 6)})));
  const auto& cited = std::get<ev::output_item_done>(last.events[2]);
  auto annotation = cited.item["content"][0]["annotations"][0];
  BOOST_TEST(annotation["type"] == "url_citation");
  BOOST_TEST(annotation["start_index"] == 4);
  BOOST_TEST(annotation["end_index"] == 4 + 21);
  BOOST_TEST(annotation["title"] == "Riposte");
  BOOST_TEST(std::get<ev::response_completed>(last.events[3]).usage == usage(80, 10));
}

BOOST_AUTO_TEST_CASE(a_hosted_round_asked_to_stop_ends_with_the_stop_not_another_generation) {
  auto cmd = command();
  rr::turn_state t;
  json call{{"type", "image_generation_call"}, {"id", "ig_1"}, {"revised_prompt", "a cat"}};
  (void)rr::decide_update(cmd, t,
                          update({ev::output_item_added{0, call}, ev::response_completed{1, {}}}));
  t.cancel_requested = true;
  t.cancel_event = ev::response_cancelled{"client_cancelled"};
  auto out = rr::decide_hosted_results(cmd, t, json::array({{{"error", "provider down"}}}));
  BOOST_TEST(!out.generate_again);
  BOOST_REQUIRE_EQUAL(out.events.size(), 2u);
  BOOST_TEST(std::get<ev::output_item_done>(out.events[0]).item["status"] == "failed");
  BOOST_TEST(std::holds_alternative<ev::response_cancelled>(out.events[1]));
}

BOOST_AUTO_TEST_CASE(an_answer_that_breaks_its_json_schema_fails_with_output_schema_violation) {
  json format{{"type", "json_schema"},
              {"name", "sum"},
              {"schema",
               {{"type", "object"},
                {"properties", {{"sum", {{"type", "integer"}}}}},
                {"required", json::array({"sum"})}}}};
  auto cmd = command({{"text", {{"format", format}}}});
  rr::turn_state bad;
  auto out = rr::decide_update(
      cmd, bad, update(answer("{\"total\":4}", ev::response_completed{1, usage(9, 5)})));
  const auto& failed = std::get<ev::response_failed>(out.events.back());
  BOOST_TEST((failed.code == ev::failure_code::output_schema_violation));
  BOOST_TEST(failed.message.find("sum") != std::string::npos);
  BOOST_TEST(failed.usage == usage(9, 5)); // the tokens were spent all the same
  // The output items stay, for the client to inspect.
  BOOST_TEST(std::holds_alternative<ev::output_item_done>(out.events[2]));
  rr::turn_state good;
  auto ok = rr::decide_update(
      cmd, good, update(answer("{\"sum\":4}", ev::response_completed{1, usage(9, 5)})));
  BOOST_TEST(std::holds_alternative<ev::response_completed>(ok.events.back()));
  // Text spread over several updates is checked whole.
  rr::turn_state split;
  auto parts = answer("{\"sum\":4}", ev::response_completed{1, usage(9, 5)});
  auto end = parts.back();
  parts.pop_back();
  (void)rr::decide_update(cmd, split, update(parts, false));
  auto tail = rr::decide_update(cmd, split, update({end}));
  BOOST_TEST(std::holds_alternative<ev::response_completed>(tail.events.back()));
}

BOOST_AUTO_TEST_CASE(reasoning_is_sealed_for_the_tenant_only_when_include_asks) {
  sealer key{sealer::random_key()};
  json reasoning{{"type", "reasoning"},
                 {"id", "rs_1"},
                 {"summary", json::array()},
                 {"content", json::array({{{"type", "reasoning_text"}, {"text", "2+2 is 4"}}})}};
  std::vector<ev::event> then{ev::output_item_done{0, reasoning}};
  auto sealed_cmd = command({{"include", json::array({"reasoning.encrypted_content"})}});
  rr::turn_state t;
  t.seal = &key;
  auto out = rr::decide_update(sealed_cmd, t, update(then, false));
  auto token = std::get<ev::output_item_done>(out.events[0]).item["encrypted_content"];
  BOOST_REQUIRE(token.is_string());
  auto opened_payload = key.open("tenant-a", token.get<std::string>());
  BOOST_REQUIRE(opened_payload.has_value());
  BOOST_TEST((*opened_payload)["text"] == "2+2 is 4");
  BOOST_TEST(!key.open("tenant-b", token.get<std::string>()).has_value());
  // Replayed, it goes back to the model as text.
  auto replayed = rr::unsealed_items(
      &key, "tenant-a",
      json::array({{{"type", "reasoning"}, {"id", "rs_1"}, {"encrypted_content", token}}}));
  BOOST_TEST(replayed[0]["content"][0]["text"] == "2+2 is 4");
  // Without the include (or without a key) nothing is sealed.
  rr::turn_state plain_turn;
  plain_turn.seal = &key;
  auto plain = rr::decide_update(command(), plain_turn, update(then, false));
  BOOST_TEST(!std::get<ev::output_item_done>(plain.events[0]).item.contains("encrypted_content"));
}

BOOST_AUTO_TEST_CASE(cached_tokens_count_the_prefix_shared_with_the_parent_on_the_same_model) {
  auto cmd = command();
  auto parent = std::make_shared<rp::chain_segment>(nullptr, json::array(), 1);
  parent->model = cmd.model;
  parent->instructions_fp = rp::fingerprint_of(json());
  parent->prefix_tokens = 40;
  rr::turn_state t;
  t.parent = parent;
  auto out = rr::decide_update(cmd, t, update({ev::response_completed{1, usage(100, 7)}}));
  BOOST_TEST(std::get<ev::response_completed>(out.events[0])
                 .usage["input_tokens_details"]["cached_tokens"] == 40);
  // Another model, other instructions, or a truncated context share nothing.
  auto other = command();
  other.model = "llama3.2";
  auto moved = rr::decide_update(other, t, update({ev::response_completed{1, usage(100, 7)}}));
  BOOST_TEST(std::get<ev::response_completed>(moved.events[0])
                 .usage["input_tokens_details"]["cached_tokens"] == 0);
  auto instructed = command({{"instructions", "Be brief."}});
  auto changed =
      rr::decide_update(instructed, t, update({ev::response_completed{1, usage(100, 7)}}));
  BOOST_TEST(std::get<ev::response_completed>(changed.events[0])
                 .usage["input_tokens_details"]["cached_tokens"] == 0);
  t.dropped_items = 2;
  auto truncated = rr::decide_update(cmd, t, update({ev::response_completed{1, usage(100, 7)}}));
  BOOST_TEST(std::get<ev::response_completed>(truncated.events[0])
                 .usage["input_tokens_details"]["cached_tokens"] == 0);
}

BOOST_AUTO_TEST_CASE(only_a_finished_response_can_be_deleted) {
  auto running = given(opened());
  auto refused = rr::decide_delete(running);
  BOOST_REQUIRE(!refused.has_value());
  BOOST_TEST((refused.error().code == ev::riposte_errc::invalid_request));
  auto evs = opened();
  evs.emplace_back(ev::response_completed{2, usage(1, 1)});
  auto deleted = rr::decide_delete(given(evs));
  BOOST_REQUIRE(deleted.has_value());
  BOOST_TEST(as_json(*deleted) == as_json(std::vector<ev::event>{ev::response_deleted{}}));
  auto after = evs;
  after.insert(after.end(), deleted->begin(), deleted->end());
  BOOST_TEST(given(after).deleted);
}

BOOST_AUTO_TEST_CASE(only_a_background_response_can_be_cancelled) {
  auto foreground = given(opened());
  auto why = rr::check_cancel(foreground, command());
  BOOST_REQUIRE(why.has_value());
  BOOST_TEST(why->param == "response_id");
  auto bg_cmd = command({{"background", true}});
  BOOST_TEST(!rr::check_cancel(given(rr::decide_creation(bg_cmd, 1)), bg_cmd).has_value());
  // Rebuilt from the log, the stored params say so.
  BOOST_TEST(
      !rr::check_cancel(given(rr::decide_creation(bg_cmd, 1)), create_command{}).has_value());
}

BOOST_AUTO_TEST_CASE(a_model_must_be_able_to_do_what_the_request_asks) {
  riposte::actors::model_info plain{"qwen3:0.6b", 0, {"completion"}, 0, 0, "qwen3", ""};
  riposte::actors::image_generation_settings no_images;
  auto cmd = command();
  cmd.input = json::array(
      {{{"type", "message"},
        {"role", "user"},
        {"content",
         json::array({{{"type", "input_text"}, {"text", "what?"}},
                      {{"type", "input_image"}, {"image_url", "data:image/png;base64,AA=="}}})}}});
  auto why = rr::check_capabilities(cmd, plain, no_images);
  BOOST_REQUIRE(why.has_value());
  BOOST_TEST((why->code == ev::riposte_errc::model_capability));
  BOOST_TEST(why->param == "input[0].content[1]");
  auto vision = plain;
  vision.capabilities.push_back("vision");
  BOOST_TEST(!rr::check_capabilities(cmd, vision, no_images).has_value());
  auto reasoning = command({{"reasoning", {{"effort", "high"}}}});
  BOOST_TEST(rr::check_capabilities(reasoning, plain, no_images)->param == "reasoning.effort");
  BOOST_TEST(
      !rr::check_capabilities(command({{"reasoning", {{"effort", "minimal"}}}}), plain, no_images)
           .has_value());
}

BOOST_AUTO_TEST_CASE(a_follow_up_needs_room_in_the_chain_and_every_tool_output_its_call) {
  auto parent = std::make_shared<rp::chain_segment>(
      nullptr, json::array({{{"type", "function_call"}, {"call_id", "call_9"}, {"name", "add"}}}),
      5);
  auto cmd = command();
  BOOST_TEST(!rr::check_parent(cmd, parent, 6).has_value());
  auto deep = rr::check_parent(cmd, parent, 5);
  BOOST_REQUIRE(deep.has_value());
  BOOST_TEST(deep->param == "previous_response_id");
  cmd.open_call_ids = {{"call_9", "input[0].call_id"}};
  BOOST_TEST(!rr::check_parent(cmd, parent, 6).has_value());
  cmd.open_call_ids.push_back({"call_404", "input[1].call_id"});
  auto orphan = rr::check_parent(cmd, parent, 6);
  BOOST_REQUIRE(orphan.has_value());
  BOOST_TEST(orphan->param == "input[1].call_id");
  BOOST_TEST(orphan->message.find("call_404") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
