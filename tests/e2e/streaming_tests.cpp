// End to end: SSE straight from the response actor, resumable from the log.
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;

namespace {

json many_chunks(int n, int delay_ms) {
  json chunks = json::array();
  for (int i = 0; i < n; ++i)
    chunks.push_back({{"content", "t" + std::to_string(i) + " "}});
  return {{"chunks", chunks}, {"delay_ms", delay_ms}};
}

void expect_valid(const sse_result& r, std::int64_t first_seq = 0, bool complete = true) {
  auto problems = validate_stream(r.events, first_seq, complete);
  for (const auto& p : problems)
    BOOST_ERROR(p);
  for (std::size_t i = 0; i < r.events.size(); ++i)
    BOOST_TEST(r.names[i] == r.events[i]["type"].get<std::string>());
}

std::string response_id_of(const sse_result& r) {
  BOOST_REQUIRE(!r.events.empty());
  return r.events.front()["response"]["id"].get<std::string>();
}

} // namespace

BOOST_AUTO_TEST_SUITE(streaming)

BOOST_AUTO_TEST_CASE(a_streamed_response_follows_the_event_grammar_and_ends_as_get_shows_it) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "think"}}},
          {"reply",
           {{"chunks",
             {{{"thinking", "let me "}},
              {{"thinking", "see"}},
              {{"content", "The answer"}},
              {{"content", " is 4."}},
              {{"tool_calls",
                {{{"function", {{"name", "calc"}, {"arguments", {{"x", 2}}}}}}}}}}}}}}}}}};
  riposte_server r{b.url()};
  auto s =
      sse_call("POST", r.url("/v1/responses"),
               json{{"model", "qwen3:0.6b"}, {"input", "think: 2+2"}, {"stream", true}}.dump());
  BOOST_TEST(s.status == 200);
  expect_valid(s);
  std::vector<std::string> types;
  for (const auto& e : s.events)
    types.push_back(e["type"]);
  std::vector<std::string> expected{"response.created",
                                    "response.in_progress",
                                    "response.output_item.added",
                                    "response.content_part.added",
                                    "response.reasoning_text.delta",
                                    "response.reasoning_text.delta",
                                    "response.reasoning_text.done",
                                    "response.content_part.done",
                                    "response.output_item.done",
                                    "response.output_item.added",
                                    "response.content_part.added",
                                    "response.output_text.delta",
                                    "response.output_text.delta",
                                    "response.output_text.done",
                                    "response.content_part.done",
                                    "response.output_item.done",
                                    "response.output_item.added",
                                    "response.function_call_arguments.delta",
                                    "response.function_call_arguments.done",
                                    "response.output_item.done",
                                    "response.completed"};
  BOOST_TEST(types == expected, "got " << json(types).dump());
  auto id = response_id_of(s);
  auto got = json::parse(http_call("GET", r.url("/v1/responses/" + id)).body);
  BOOST_TEST(s.events.back()["response"] == got);
  BOOST_TEST(s.events.front()["response"]["status"] == "in_progress");
  BOOST_TEST(got["output"][2]["name"] == "calc");
}

BOOST_AUTO_TEST_CASE(deltas_carry_obfuscation_unless_turned_off) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto with = sse_call("POST", r.url("/v1/responses"),
                       json{{"model", "llama3.2:1b"}, {"input", "a b"}, {"stream", true}}.dump());
  auto without = sse_call("POST", r.url("/v1/responses"),
                          json{{"model", "llama3.2:1b"},
                               {"input", "a b"},
                               {"stream", true},
                               {"stream_options", {{"include_obfuscation", false}}}}
                              .dump());
  for (const auto& e : with.events)
    if (e["type"] == "response.output_text.delta")
      BOOST_TEST(e.contains("obfuscation"));
  for (const auto& e : without.events)
    BOOST_TEST(!e.contains("obfuscation"));
  expect_valid(with);
  expect_valid(without);
}

BOOST_AUTO_TEST_CASE(resuming_from_every_n_of_a_500_event_response_yields_the_exact_suffix) {
  scripted_backend b{
      {{"rules", {{{"match", {{"contains", "long"}}}, {"reply", many_chunks(492, 0)}}}}}};
  riposte_server r{b.url()};
  auto full =
      sse_call("POST", r.url("/v1/responses"),
               json{{"model", "llama3.2:1b"}, {"input", "long one"}, {"stream", true}}.dump());
  expect_valid(full);
  BOOST_REQUIRE_GE(full.events.size(), 500u);
  auto id = response_id_of(full);
  // Frame boundaries in the original bytes, by sequence number.
  std::vector<std::size_t> frame_end;
  for (std::size_t pos = 0; (pos = full.raw.find("\n\n", pos)) != std::string::npos; pos += 2)
    frame_end.push_back(pos + 2);
  auto replay = sse_call("GET", r.url("/v1/responses/" + id + "?stream=true"), "");
  BOOST_TEST(replay.raw == full.raw);
  for (std::size_t n = 0; n < full.events.size(); ++n) {
    auto resumed = sse_call(
        "GET", r.url("/v1/responses/" + id + "?stream=true&starting_after=" + std::to_string(n)),
        "");
    auto want = full.raw.substr(frame_end[n]);
    if (resumed.raw != want) {
      std::size_t i = 0;
      while (i < want.size() && i < resumed.raw.size() && want[i] == resumed.raw[i])
        ++i;
      BOOST_REQUIRE_MESSAGE(false, "starting_after=" << n << " is not the suffix: got "
                                                     << resumed.raw.size() << " bytes, want "
                                                     << want.size() << "; differ at " << i << ": '"
                                                     << resumed.raw.substr(i, 200) << "' vs '"
                                                     << want.substr(i, 200) << "'");
    }
  }
}

// Joiners attach at staggered moments of a running response (before its
// first delta, in the middle, after the end); each replays from seq 0 and
// then follows live, and must see exactly the creator's bytes.
BOOST_AUTO_TEST_CASE(subscribers_joining_at_any_moment_see_no_gap_and_no_duplicate) {
  scripted_backend b{
      {{"rules", {{{"match", {{"contains", "slow"}}}, {"reply", many_chunks(80, 5)}}}}}};
  riposte_server r{b.url()};
  std::mutex mutex;
  std::condition_variable id_known;
  std::string id;
  sse_result creator_stream;
  std::thread creator{[&] {
    creator_stream =
        sse_call("POST", r.url("/v1/responses"),
                 json{{"model", "llama3.2:1b"}, {"input", "slow"}, {"stream", true}}.dump(), -1,
                 [&](const std::string& raw) {
                   std::lock_guard guard{mutex};
                   auto pos = raw.find("\"id\":\"resp_");
                   if (id.empty() && pos != std::string::npos) {
                     id = raw.substr(pos + 6, raw.find('"', pos + 6) - pos - 6);
                     id_known.notify_all();
                   }
                 });
  }};
  {
    std::unique_lock lock{mutex};
    BOOST_REQUIRE(id_known.wait_for(lock, std::chrono::seconds(20), [&] { return !id.empty(); }));
  }
  std::vector<sse_result> joined(25);
  std::vector<std::thread> joiners;
  for (std::size_t j = 0; j < joined.size(); ++j)
    joiners.emplace_back([&, j] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * j)); // 0 ms to 480 ms
      joined[j] = sse_call("GET", r.url("/v1/responses/" + id + "?stream=true"), "");
    });
  // One resumes after an event not yet stored: it gets nothing up to it.
  sse_result ahead;
  std::thread ahead_joiner{[&] {
    ahead = sse_call("GET", r.url("/v1/responses/" + id + "?stream=true&starting_after=40"), "");
  }};
  creator.join();
  for (auto& t : joiners)
    t.join();
  ahead_joiner.join();
  expect_valid(creator_stream);
  for (std::size_t j = 0; j < joined.size(); ++j)
    BOOST_TEST(joined[j].raw == creator_stream.raw, "joiner " << j << " differs");
  std::vector<json> after_40;
  for (const auto& e : creator_stream.events)
    if (e["sequence_number"].get<int>() > 40)
      after_40.push_back(e);
  BOOST_REQUIRE(after_40.size() > 20u);
  BOOST_TEST(ahead.events == after_40);
}

BOOST_AUTO_TEST_CASE(a_client_that_goes_away_cancels_its_response) {
  scripted_backend b{
      {{"rules", {{{"match", {{"contains", "endless"}}}, {"reply", many_chunks(400, 20)}}}}}};
  riposte_server r{b.url()};
  auto cut =
      sse_call("POST", r.url("/v1/responses"),
               json{{"model", "llama3.2:1b"}, {"input", "endless"}, {"stream", true}}.dump(), 6);
  auto id = response_id_of(cut);
  json got;
  for (int i = 0; i < 100; ++i) {
    got = json::parse(http_call("GET", r.url("/v1/responses/" + id)).body);
    if (got["status"] == "cancelled")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_TEST(got["status"] == "cancelled");
  // Far fewer than 400 chunks were produced: the backend request was aborted.
  auto replay = sse_call("GET", r.url("/v1/responses/" + id + "?stream=true"), "");
  BOOST_TEST(replay.events.size() < 100u);
}

BOOST_AUTO_TEST_CASE(streams_report_errors_before_and_during_the_stream) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "drop"}}},
          {"reply", {{"chunks", {{{"content", "a"}}, {{"content", "b"}}}}, {"drop_after", 1}}}}}}}};
  riposte_server r{b.url()};
  auto bad = sse_call("POST", r.url("/v1/responses"),
                      json{{"model", "nope"}, {"input", "x"}, {"stream", true}}.dump());
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.raw.find("model_not_found") != std::string::npos);
  auto dropped =
      sse_call("POST", r.url("/v1/responses"),
               json{{"model", "llama3.2:1b"}, {"input", "drop"}, {"stream", true}}.dump());
  BOOST_TEST(dropped.status == 200);
  expect_valid(dropped, 0, true);
  BOOST_TEST(dropped.events.back()["type"] == "response.failed");
  BOOST_TEST(dropped.events.back()["response"]["error"]["code"] == "server_error");
  auto missing = sse_call("GET", r.url("/v1/responses/resp_nothere?stream=true"), "");
  BOOST_TEST(missing.status == 404);
  auto bad_after = http_call("GET", r.url("/v1/responses/resp_x?stream=true&starting_after=-3"));
  BOOST_TEST(bad_after.status == 400);
}

BOOST_AUTO_TEST_CASE(a_silent_backend_gets_keep_alive_comments_on_the_stream) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "prefill"}}},
          {"reply", {{"chunks", {{{"content", "late"}}}}, {"first_delay_ms", 700}}}}}}}};
  riposte_server r{b.url(), {"--sse-keepalive-ms", "100"}};
  auto s =
      sse_call("POST", r.url("/v1/responses"),
               json{{"model", "llama3.2:1b"}, {"input", "long prefill"}, {"stream", true}}.dump());
  auto comments = 0;
  for (std::size_t pos = 0; (pos = s.raw.find(": keep-alive\n\n", pos)) != std::string::npos; ++pos)
    ++comments;
  BOOST_TEST(comments >= 3);
  expect_valid(s); // comments are not events: the grammar and numbering are untouched
}

BOOST_AUTO_TEST_CASE(cancel_follows_the_api_for_foreground_and_unknown_responses) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto done = json::parse(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "x"}}).body);
  auto res = r.post("/v1/responses/" + done["id"].get<std::string>() + "/cancel", json::object());
  BOOST_TEST(res.status == 400);
  BOOST_TEST(json::parse(res.body)["error"]["message"].get<std::string>().find("background") !=
             std::string::npos);
  BOOST_TEST(r.post("/v1/responses/resp_unknown/cancel", json::object()).status == 404);
}

BOOST_AUTO_TEST_CASE(a_background_response_answers_queued_and_finishes_on_its_own) {
  scripted_backend b{
      {{"rules", {{{"match", {{"contains", "slow"}}}, {"reply", many_chunks(20, 20)}}}}}};
  riposte_server r{b.url()};
  auto t0 = std::chrono::steady_clock::now();
  auto queued =
      json::parse(r.post("/v1/responses",
                         {{"model", "llama3.2:1b"}, {"input", "slow job"}, {"background", true}})
                      .body);
  auto answered_in = std::chrono::steady_clock::now() - t0;
  BOOST_TEST((answered_in < std::chrono::milliseconds(300))); // not the 400 ms the job takes
  BOOST_TEST(queued["status"] == "queued");
  BOOST_TEST(queued["background"] == true);
  auto id = queued["id"].get<std::string>();
  json got;
  for (int i = 0; i < 200; ++i) {
    got = json::parse(http_call("GET", r.url("/v1/responses/" + id)).body);
    if (got["status"] == "completed")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_TEST(got["status"] == "completed");
  // Its stream, replayed, shows the whole life: created, queued, in_progress, ...
  auto replay = sse_call("GET", r.url("/v1/responses/" + id + "?stream=true"), "");
  expect_valid(replay);
  BOOST_TEST(replay.events[1]["type"] == "response.queued");
  BOOST_TEST(replay.events[2]["type"] == "response.in_progress");
}

BOOST_AUTO_TEST_CASE(background_responses_cancel_while_queued_and_while_running) {
  scripted_backend b{
      {{"rules", {{{"match", {{"contains", "slow"}}}, {"reply", many_chunks(200, 20)}}}}}};
  riposte_server r{b.url(), {"--backend-concurrency", "1"}};
  auto running =
      json::parse(r.post("/v1/responses",
                         {{"model", "llama3.2:1b"}, {"input", "slow first"}, {"background", true}})
                      .body);
  auto waiting =
      json::parse(r.post("/v1/responses",
                         {{"model", "llama3.2:1b"}, {"input", "slow second"}, {"background", true}})
                      .body);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto w = json::parse(
      http_call("GET", r.url("/v1/responses/" + waiting["id"].get<std::string>())).body);
  BOOST_TEST(w["status"] == "queued"); // only one generation at a time
  auto cw = r.post("/v1/responses/" + waiting["id"].get<std::string>() + "/cancel", json::object());
  BOOST_TEST(cw.status == 200);
  BOOST_TEST(json::parse(cw.body)["status"] == "cancelled");
  auto cr = r.post("/v1/responses/" + running["id"].get<std::string>() + "/cancel", json::object());
  BOOST_TEST(json::parse(cr.body)["status"] == "cancelled");
  BOOST_TEST(b.requests().size() == 1u); // the queued one never reached the backend
  // Cancelling again returns it unchanged.
  auto again =
      r.post("/v1/responses/" + running["id"].get<std::string>() + "/cancel", json::object());
  BOOST_TEST(again.body == cr.body);
}

BOOST_AUTO_TEST_CASE(replay_and_audit_read_the_store_beside_a_running_server_and_after_it_stops) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto live =
      sse_call("POST", r.url("/v1/responses"),
               json{{"model", "llama3.2:1b"}, {"input", "replay me"}, {"stream", true}}.dump());
  auto id = response_id_of(live);
  auto run = [&](std::vector<std::string> args) { return r.tool(std::move(args)); };
  BOOST_TEST(run({"replay", id, "--sse"}) == live.raw); // read-only, server still running
  // The feed followed beside the running server: what is stored after the
  // follower started reaches it.
  child_process follower{{riposte_binary(), "audit", "--follow", "--follow-every-ms", "50",
                          "--type", "response_created", "--store", r.store()}};
  BOOST_TEST(!follower.wait_for_line(id, std::chrono::seconds(10)).empty(), follower.output());
  auto later =
      json::parse(
          r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "followed"}}).body)["id"]
          .get<std::string>();
  BOOST_TEST(!follower.wait_for_line(later, std::chrono::seconds(10)).empty(), follower.output());
  follower.signal(SIGTERM);
  follower.wait_exit(std::chrono::seconds(5));
  auto got = json::parse(http_call("GET", r.url("/v1/responses/" + id)).body);
  auto stopped = r.stop();
  BOOST_TEST(stopped == 0, "exit " << stopped << ": " << r.process().output());
  auto rebuilt = run({"replay", id, "--response"});
  BOOST_TEST(json::parse(rebuilt) == got);
  auto lines = run({"replay", id});
  BOOST_TEST(std::count(lines.begin(), lines.end(), '\n') ==
             static_cast<long>(live.events.size()) + 1);
  // For people: a row per event (deltas of one item as one), then totals.
  auto timeline = run({"replay", id, "--timeline"});
  BOOST_TEST(timeline.rfind(id + "  completed\n", 0) == 0, timeline);
  BOOST_TEST(timeline.find("response_created  model llama3.2:1b") != std::string::npos, timeline);
  BOOST_TEST(timeline.find("output_text_delta") != std::string::npos, timeline);
  BOOST_TEST(timeline.find("response_completed") != std::string::npos, timeline);
  BOOST_TEST(timeline.find("first token +") != std::string::npos, timeline);
  BOOST_TEST(std::count(timeline.begin(), timeline.end(), '\n') <
             static_cast<long>(live.events.size()) + 2);
  auto created = run({"audit", "--type", "response_created"});
  BOOST_TEST(std::count(created.begin(), created.end(), '\n') == 2);
  BOOST_TEST(json::parse(created.substr(0, created.find('\n')))["stream"] == id);
  BOOST_TEST(run({"audit", "--tenant", "nobody"}).empty());
}

// kill -9 with responses in every state; the restarted riposte closes the
// unfinished ones on its own (no client touches them) and keeps the rest.
BOOST_AUTO_TEST_CASE(after_a_crash_unfinished_responses_are_closed_at_start_up) {
  scripted_backend b{
      {{"rules", {{{"match", {{"contains", "slow"}}}, {"reply", many_chunks(500, 20)}}}}}};
  riposte_server r{b.url(), {"--backend-concurrency", "3"}};
  auto done =
      json::parse(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "quick"}}).body);
  auto done_bytes = http_call("GET", r.url("/v1/responses/" + done["id"].get<std::string>())).body;
  // A streaming client reads 8 events and leaves (its response is cancelled).
  sse_call("POST", r.url("/v1/responses"),
           json{{"model", "llama3.2:1b"}, {"input", "slow stream"}, {"stream", true}}.dump(), 8);
  std::vector<std::string> unfinished;
  for (int i = 0; i < 5; ++i) // three running, two queued
    unfinished.push_back(
        json::parse(r.post("/v1/responses",
                           {{"model", "llama3.2:1b"}, {"input", "slow bg"}, {"background", true}})
                        .body)["id"]);
  // Once the stream's slot is free (its client's leaving is noticed at its
  // next event) three run; on a loaded machine that can take a while.
  std::vector<std::string> running, queued;
  for (int i = 0; i < 100 && running.size() != 3u; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    running.clear();
    queued.clear();
    for (const auto& id : unfinished) {
      auto status = json::parse(http_call("GET", r.url("/v1/responses/" + id)).body)["status"];
      (status == "queued" ? queued : running).push_back(id);
    }
  }
  BOOST_REQUIRE_EQUAL(running.size(), 3u);
  BOOST_REQUIRE_EQUAL(queued.size(), 2u);
  r.crash();
  r.restart();
  // Without touching any response: the running ones end failed, the queued
  // ones are queued again and start once the pool admits them.
  std::set<std::string> closed, restarted;
  for (int i = 0; i < 100 && (closed.size() < running.size() || restarted.size() < queued.size());
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto feed = json::parse(http_call("GET", r.url("/v1/audit/events?limit=1000")).body);
    std::map<std::string, int> in_progress;
    for (const auto& e : feed["data"]) {
      if (e["type"] == "response_failed" && e["data"]["code"] == "server_restarted")
        closed.insert(e["stream"].get<std::string>());
      if (e["type"] == "response_in_progress")
        in_progress[e["stream"].get<std::string>()]++;
    }
    for (const auto& [id, n] : in_progress)
      if (n == 1 && std::find(queued.begin(), queued.end(), id) != queued.end())
        restarted.insert(id);
  }
  for (const auto& id : running) {
    BOOST_TEST(closed.count(id) == 1u, id << " was not closed at start-up");
    auto got = json::parse(http_call("GET", r.url("/v1/responses/" + id)).body);
    BOOST_TEST(got["status"] == "failed");
    BOOST_TEST(got["error"]["code"] == "server_restarted");
  }
  for (const auto& id : queued) {
    BOOST_TEST(restarted.count(id) == 1u, id << " was not queued again");
    BOOST_TEST(closed.count(id) == 0u);
  }
  BOOST_TEST(http_call("GET", r.url("/v1/responses/" + done["id"].get<std::string>())).body ==
             done_bytes);
}

BOOST_AUTO_TEST_CASE(a_job_that_outlives_its_timeout_fails_with_job_timeout) {
  scripted_backend b{
      {{"rules", {{{"match", {{"contains", "slow"}}}, {"reply", many_chunks(100, 20)}}}}}};
  riposte_server r{b.url(), {"--job-timeout-ms", "300"}};
  auto queued =
      json::parse(r.post("/v1/responses",
                         {{"model", "llama3.2:1b"}, {"input", "slow bg"}, {"background", true}})
                      .body);
  json got;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    got = json::parse(
        http_call("GET", r.url("/v1/responses/" + queued["id"].get<std::string>())).body);
    if (got["status"] != "queued" && got["status"] != "in_progress")
      break;
  }
  BOOST_TEST(got["status"] == "failed");
  BOOST_TEST(got["error"]["code"] == "job_timeout");
  auto blocking = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "slow fg"}});
  BOOST_TEST(blocking.status == 504);
  BOOST_TEST(json::parse(blocking.body)["error"]["message"].get<std::string>().find(
                 "job-timeout") != std::string::npos);
  auto quick = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "quick"}});
  BOOST_TEST(quick.status == 200);
}

// A background stream is only a view: the client leaving does not stop the
// work, and it can come back with starting_after.
BOOST_AUTO_TEST_CASE(a_background_stream_survives_its_client_and_resumes) {
  scripted_backend b{
      {{"rules", {{{"match", {{"contains", "long"}}}, {"reply", many_chunks(40, 20)}}}}}};
  riposte_server r{b.url()};
  auto first = sse_call(
      "POST", r.url("/v1/responses"),
      json{
          {"model", "llama3.2:1b"}, {"input", "long story"}, {"background", true}, {"stream", true}}
          .dump(),
      6);
  BOOST_REQUIRE_GE(first.events.size(), 6u);
  BOOST_TEST(first.events[0]["response"]["status"] == "queued");
  BOOST_TEST(first.events[1]["type"] == "response.queued");
  auto id = response_id_of(first);
  BOOST_TEST(b.requests().back()["stream"] == true);
  auto last_seen = first.events[5]["sequence_number"].get<std::int64_t>();
  auto rest = sse_call(
      "GET",
      r.url("/v1/responses/" + id + "?stream=true&starting_after=" + std::to_string(last_seen)),
      "");
  expect_valid(rest, last_seen + 1);
  BOOST_TEST(rest.events.front()["sequence_number"] == last_seen + 1);
  BOOST_TEST(rest.events.back()["type"] == "response.completed");
  auto whole = sse_call("GET", r.url("/v1/responses/" + id + "?stream=true"), "");
  BOOST_TEST(whole.raw.substr(0, first.raw.rfind("\n\n") + 2) ==
             first.raw.substr(0, first.raw.rfind("\n\n") + 2));
}

BOOST_AUTO_TEST_SUITE_END()
