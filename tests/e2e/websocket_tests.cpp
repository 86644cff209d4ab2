// End to end: /v1/responses over a WebSocket, as Codex and the SDKs use it.
#include "tests/support/backend_wire.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"
#include "tests/support/websocket.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;

namespace {

json create(const json& body) {
  json m = body;
  m["type"] = "response.create";
  if (!m.contains("model"))
    m["model"] = "llama3.2:1b";
  return m;
}

const json& last(const std::vector<json>& events) {
  BOOST_REQUIRE(!events.empty());
  return events.back();
}

void expect_completed(const std::vector<json>& events) {
  BOOST_REQUIRE(!events.empty());
  BOOST_TEST(last(events)["type"] == "response.completed", last(events).dump());
  for (const auto& p : validate_stream(events))
    BOOST_ERROR(p);
}

void expect_error_event(const std::vector<json>& events, int status, const json& code,
                        const json& param) {
  BOOST_REQUIRE_EQUAL(events.size(), 1u);
  const auto& e = events.front();
  BOOST_TEST(e["type"] == "error", e.dump());
  BOOST_TEST(e["status"] == status, e.dump());
  BOOST_TEST(e["error"]["code"] == code, e.dump());
  BOOST_TEST(e["error"]["param"] == param, e.dump());
  BOOST_TEST(e["error"]["type"].is_string(), e.dump());
  BOOST_TEST(e["error"]["message"].is_string(), e.dump());
}

double metric(riposte_server& r, const std::string& name) {
  return std::max(0.0, series(r.get("/metrics").body, name));
}

// Connections end on riposte's side a moment after the client sees them end.
double open_connections_settled(riposte_server& r) {
  double open = 0;
  for (int i = 0; i < 100; ++i) {
    open = metric(r, "riposte_websocket_connections");
    if (open == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return open;
}

std::string id_of(const std::vector<json>& events) {
  return last(events)["response"]["id"].get<std::string>();
}

} // namespace

BOOST_AUTO_TEST_SUITE(websocket)

BOOST_AUTO_TEST_CASE(an_upgrade_is_authenticated_and_refused_cleanly_when_turned_off) {
  scripted_backend b;
  riposte_server r{b.url(), {"--api-key", "ka:alice"}};
  ws_client no_key{r.port()};
  BOOST_TEST(no_key.handshake().status == 401);
  BOOST_TEST(json::parse(no_key.handshake().body)["error"]["code"] == "invalid_api_key");
  ws_client bad_key{r.port(), {"Authorization: Bearer nope"}};
  BOOST_TEST(bad_key.handshake().status == 401);
  ws_client old_version{r.port(), {"Authorization: Bearer ka", "Sec-WebSocket-Version: 8"}};
  BOOST_TEST(old_version.handshake().status == 426);
  BOOST_TEST(old_version.handshake().header("sec-websocket-version") == "13");
  ws_client first_protocol{
      r.port(), {"Authorization: Bearer ka", "OpenAI-Beta: responses_websockets=2026-02-04"}};
  BOOST_TEST(first_protocol.handshake().status == 426);
  ws_client other_path{r.port(), {"Authorization: Bearer ka"}, "/v1/files"};
  BOOST_TEST(other_path.handshake().status != 101);
  ws_client good{r.port(),
                 {"Authorization: Bearer ka", "OpenAI-Beta: responses_websockets=2026-02-06"}};
  BOOST_REQUIRE(good.upgraded());
  // RFC 6455's example key and its accept value.
  BOOST_TEST(good.handshake().header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  BOOST_TEST(!good.handshake().header("x-request-id").empty());
  BOOST_TEST(good.handshake().header("sec-websocket-protocol").empty());
  good.send_json(create({{"input", "hello there"}}));
  expect_completed(good.turn());

  riposte_server off{b.url(), {"--no-websocket"}};
  ws_client refused{off.port()};
  BOOST_TEST(refused.handshake().status == 426);
  BOOST_TEST(json::parse(refused.handshake().body)["error"]["message"].is_string());
  BOOST_TEST(off.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "hi"}}).status == 200);
  BOOST_TEST(metric(off, "riposte_websocket_upgrades_total{result=\"disabled\"}") == 1);
}

BOOST_AUTO_TEST_CASE(a_turn_streams_as_text_frames_and_the_next_sends_only_its_new_items) {
  scripted_backend b;
  riposte_server r{b.url()};
  ws_client ws{r.port()};
  BOOST_REQUIRE(ws.upgraded());
  ws.send_json(create(
      {{"input", "alpha beta"}, {"store", false}, {"stream", true}, {"instructions", "be brief"}}));
  auto first = ws.turn();
  expect_completed(first);
  BOOST_TEST(first.front()["type"] == "response.created");
  BOOST_TEST(first.front()["sequence_number"] == 0);
  BOOST_TEST(last(first)["response"]["store"] == false);
  auto id = id_of(first);
  // Not stored: invisible over HTTP.
  BOOST_TEST(r.get("/v1/responses/" + id).status == 404);

  ws.send_json(create({{"input", "gamma"},
                       {"store", false},
                       {"previous_response_id", id},
                       {"instructions", "be brief"}}));
  auto second = ws.turn();
  expect_completed(second);
  BOOST_TEST(last(second)["response"]["previous_response_id"] == id);
  // The model saw the whole conversation although the turn sent one item.
  auto messages = b.requests().back()["messages"];
  std::vector<std::string> texts;
  for (const auto& m : messages)
    texts.push_back(m.value("role", "") + ":" + wire::text(m));
  BOOST_TEST(texts.size() >= 4u);
  BOOST_TEST(std::count(texts.begin(), texts.end(), "user:alpha beta") == 1);
  BOOST_TEST(std::count(texts.begin(), texts.end(), "assistant:Echo: alpha beta") == 1);
  BOOST_TEST(texts.back() == "user:gamma");
  BOOST_TEST(metric(r, "riposte_websocket_continuations_total{source=\"connection\"}") == 1);

  // A stored turn continues from the store on any connection, and over HTTP.
  ws.send_json(create({{"input", "delta"}, {"previous_response_id", id_of(second)}}));
  auto third = ws.turn();
  expect_completed(third);
  auto stored = id_of(third);
  BOOST_TEST(r.get("/v1/responses/" + stored).status == 200);
  ws_client other{r.port()};
  other.send_json(create({{"input", "epsilon"}, {"previous_response_id", stored}}));
  expect_completed(other.turn());
  BOOST_TEST(metric(r, "riposte_websocket_continuations_total{source=\"store\"}") == 1);
}

BOOST_AUTO_TEST_CASE(a_bad_create_is_an_error_event_and_the_connection_stays_usable) {
  scripted_backend b;
  riposte_server r{b.url()};
  ws_client ws{r.port()};
  BOOST_REQUIRE(ws.upgraded());
  ws.send_text("{not json");
  expect_error_event(ws.turn(), 400, "invalid_json", nullptr);
  ws.send_json({{"type", "response.cancel"}});
  expect_error_event(ws.turn(), 400, "invalid_value", "type");
  ws.send_json(json::array({1, 2}));
  expect_error_event(ws.turn(), 400, "invalid_type", "type");
  ws.send_json(create({{"input", "x"}, {"temperature", "hot"}}));
  expect_error_event(ws.turn(), 400, "invalid_type", "temperature");
  ws.send_json(create({{"input", "x"}, {"background", true}}));
  expect_error_event(ws.turn(), 400, "unsupported_parameter", "background");
  ws.send_json(create({{"input", "x"}, {"stream_id", "lane-1"}}));
  expect_error_event(ws.turn(), 400, "unsupported_parameter", "stream_id");
  ws.send_json(create({{"input", "x"}, {"model", "no-such-model"}}));
  expect_error_event(ws.turn(), 400, "model_not_found", "model");
  // Codex's acknowledgement is taken silently: the next frame is the next turn's.
  ws.send_json({{"type", "response.processed"}, {"response_id", "resp_abc"}});
  ws.send_json(create({{"input", "still here"}}));
  auto events = ws.turn();
  expect_completed(events);
  BOOST_TEST(events.front()["type"] == "response.created");
}

BOOST_AUTO_TEST_CASE(back_to_back_creates_run_one_at_a_time_in_arrival_order) {
  scripted_backend b{
      {{"rules",
        json::array({{{"match", {{"contains", "slow"}}},
                      {"reply",
                       {{"chunks", {{{"content", "a "}}, {{"content", "b "}}, {{"content", "c"}}}},
                        {"delay_ms", 100}}}}})}}};
  riposte_server r{b.url()};
  ws_client ws{r.port()};
  BOOST_REQUIRE(ws.upgraded());
  ws.send_json(create({{"input", "slow one"}}));
  ws.send_json(create({{"input", "two"}}));
  ws.send_json(create({{"input", "three"}, {"temperature", "bad"}}));
  ws.send_json(create({{"input", "four"}}));
  auto one = ws.turn();
  auto two = ws.turn();
  auto three = ws.turn();
  auto four = ws.turn();
  expect_completed(one);
  expect_completed(two);
  expect_error_event(three, 400, "invalid_type", "temperature");
  expect_completed(four);
  auto text_of = [](const std::vector<json>& events) {
    return last(events)["response"]["output"][0]["content"][0]["text"].get<std::string>();
  };
  BOOST_TEST(text_of(one) == "a b c");
  BOOST_TEST(text_of(two) == "Echo: two");
  BOOST_TEST(text_of(four) == "Echo: four");
  // Each response's events carry its own id and sequence from 0.
  for (const auto* events : {&one, &two, &four})
    for (const auto& e : *events)
      if (e.contains("response"))
        BOOST_TEST(e["response"]["id"] == id_of(*events));
  BOOST_TEST(two.front()["sequence_number"] == 0);
}

// Messages from --http-offload-bytes on are parsed off the io thread; they
// still run one at a time in arrival order, refused ones included.
BOOST_AUTO_TEST_CASE(large_messages_parsed_off_the_io_thread_keep_their_turn) {
  scripted_backend b{
      {{"rules", json::array({{{"match", {{"contains", "slow"}}},
                               {"reply",
                                {{"chunks", {{{"content", "a "}}, {{"content", "b"}}}},
                                 {"delay_ms", 100}}}}})}}};
  riposte_server r{b.url(), {"--http-offload-bytes", "2048"}};
  ws_client ws{r.port()};
  BOOST_REQUIRE(ws.upgraded());
  std::string padding(4096, 'p');
  ws.send_json(create({{"input", "slow " + padding}}));             // offloaded, busy
  ws.send_json(create({{"input", "two"}, {"temperature", "bad"}})); // refused, queued
  ws.send_json(create({{"input", "three " + padding}}));            // offloaded after a refusal
  ws.send_json(create({{"input", "four"}}));
  ws.send_json(create({{"input", "five " + padding}, {"top_p", "bad"}}));
  auto one = ws.turn();
  auto two = ws.turn();
  auto three = ws.turn();
  auto four = ws.turn();
  auto five = ws.turn();
  expect_completed(one);
  expect_error_event(two, 400, "invalid_type", "temperature");
  expect_completed(three);
  expect_completed(four);
  expect_error_event(five, 400, "invalid_type", "top_p");
  auto text_of = [](const std::vector<json>& events) {
    return last(events)["response"]["output"][0]["content"][0]["text"].get<std::string>();
  };
  BOOST_TEST(text_of(one) == "a b");
  BOOST_TEST(text_of(three) == "Echo: three " + padding);
  BOOST_TEST(text_of(four) == "Echo: four");
  // An HTTP body past the threshold is answered as any other.
  auto http = r.post("/v1/responses", json{{"model", "llama3.2:1b"}, {"input", "six " + padding}});
  BOOST_TEST(http.status == 200, http.body);
  BOOST_TEST(json::parse(http.body)["output"][0]["content"][0]["text"] == "Echo: six " + padding);
}

BOOST_AUTO_TEST_CASE(closing_the_socket_mid_response_cancels_it) {
  json chunks = json::array();
  for (int i = 0; i < 60; ++i) {
    std::string token = "t";
    token += std::to_string(i);
    token += ' ';
    chunks.push_back({{"content", token}});
  }
  scripted_backend b{
      {{"rules", json::array({{{"match", {{"contains", "long"}}},
                               {"reply", {{"chunks", chunks}, {"delay_ms", 50}}}}})}}};
  riposte_server r{b.url()};
  std::string id;
  {
    ws_client ws{r.port()};
    BOOST_REQUIRE(ws.upgraded());
    ws.send_json(create({{"input", "a long one"}}));
    for (int i = 0; i < 6; ++i) {
      auto e = ws.next_event();
      BOOST_REQUIRE(e);
      if (e->contains("response"))
        id = (*e)["response"]["id"];
    }
  } // the socket closes here
  BOOST_REQUIRE(!id.empty());
  json got;
  for (int i = 0; i < 100; ++i) {
    got = json::parse(r.get("/v1/responses/" + id).body);
    if (got["status"] != "in_progress")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_TEST(got["status"] == "cancelled", got.dump());
  BOOST_TEST(open_connections_settled(r) == 0);
}

BOOST_AUTO_TEST_CASE(connection_state_is_the_connections_own) {
  scripted_backend b{
      {{"rules",
        json::array(
            {{{"match", {{"contains", "call"}}},
              {"reply",
               {{"chunks",
                 {{{"tool_calls",
                    {{{"function", {{"name", "lookup"}, {"arguments", {{"q", "x"}}}}}}}}}}}}}}})}}};
  riposte_server r{b.url(), {"--api-key", "ka:alice", "--api-key", "kb:bob"}};
  ws_client a{r.port(), {"Authorization: Bearer ka"}};
  BOOST_REQUIRE(a.upgraded());
  json tools = json::array(
      {{{"type", "function"},
        {"name", "lookup"},
        {"parameters", {{"type", "object"}, {"properties", {{"q", {{"type", "string"}}}}}}}}});
  a.send_json(create({{"input", "please call"}, {"store", false}, {"tools", tools}}));
  auto first = a.turn();
  expect_completed(first);
  auto id = id_of(first);
  // Another connection of the same key, another tenant, and HTTP: unknown.
  for (const char* key : {"ka", "kb"}) {
    ws_client other{r.port(), {std::string{"Authorization: Bearer "} + key}};
    other.send_json(create({{"input", "go on"}, {"store", false}, {"previous_response_id", id}}));
    auto events = other.turn();
    expect_error_event(events, 400, "previous_response_not_found", "previous_response_id");
    BOOST_TEST(events.front()["error"]["message"] ==
               "Previous response with id '" + id + "' not found.");
    // The connection goes on after it.
    other.send_json(create({{"input", "fresh start"}, {"store", false}}));
    expect_completed(other.turn());
  }
  // A failed continuation lets go of the response it continued: an output
  // for a call that was never made, then the same id again.
  a.send_json(create({{"store", false},
                      {"previous_response_id", id},
                      {"input", json::array({{{"type", "function_call_output"},
                                              {"call_id", "call_never_made"},
                                              {"output", "42"}}})}}));
  auto failed = a.turn();
  BOOST_REQUIRE_EQUAL(failed.size(), 1u);
  BOOST_TEST(failed.front()["type"] == "error");
  BOOST_TEST(failed.front()["status"] == 400);
  a.send_json(create({{"input", "go on"}, {"store", false}, {"previous_response_id", id}}));
  expect_error_event(a.turn(), 400, "previous_response_not_found", "previous_response_id");
}

BOOST_AUTO_TEST_CASE(a_warm_up_completes_without_the_model_and_can_be_continued) {
  scripted_backend b;
  riposte_server r{b.url()};
  ws_client ws{r.port()};
  BOOST_REQUIRE(ws.upgraded());
  ws.send_json(create({{"input", "context only"},
                       {"generate", false},
                       {"store", false},
                       {"instructions", "you are terse"}}));
  auto warm = ws.turn();
  expect_completed(warm);
  BOOST_TEST(warm.front()["type"] == "response.created");
  BOOST_TEST(last(warm)["response"]["output"].empty());
  BOOST_TEST(last(warm)["response"]["usage"]["total_tokens"] == 0);
  BOOST_TEST(b.requests().empty());
  ws.send_json(create({{"input", "now answer"},
                       {"store", false},
                       {"previous_response_id", id_of(warm)},
                       {"instructions", "you are terse"}}));
  auto turn = ws.turn();
  expect_completed(turn);
  BOOST_REQUIRE_EQUAL(b.requests().size(), 1u);
  auto messages = b.requests().back()["messages"];
  bool saw_context = false;
  for (const auto& m : messages)
    saw_context = saw_context || wire::text(m) == "context only";
  BOOST_TEST(saw_context);
}

BOOST_AUTO_TEST_CASE(a_long_prefill_is_kept_alive_with_stored_in_progress_events) {
  scripted_backend b{
      {{"rules",
        json::array(
            {{{"match", {{"contains", "ponder"}}},
              {"reply", {{"chunks", {{{"content", "done"}}}}, {"first_delay_ms", 1200}}}}})}}};
  riposte_server r{b.url(), {"--sse-keepalive-ms", "250"}};
  ws_client ws{r.port()};
  BOOST_REQUIRE(ws.upgraded());
  ws.send_json(create({{"input", "ponder this"}}));
  auto events = ws.turn();
  expect_completed(events);
  std::size_t in_progress = 0;
  for (const auto& e : events)
    in_progress += e["type"] == "response.in_progress" ? 1 : 0;
  // One as the response starts, then one per silent interval.
  BOOST_TEST(in_progress >= 3u);
  for (std::size_t i = 0; i < events.size(); ++i)
    BOOST_TEST(events[i]["sequence_number"] == i);
  // They are events of the response like any other: stored, replayed the same.
  auto id = id_of(events);
  auto replay = sse_call("GET", r.url("/v1/responses/" + id + "?stream=true"), "");
  BOOST_REQUIRE_EQUAL(replay.events.size(), events.size());
  for (std::size_t i = 0; i < events.size(); ++i)
    BOOST_TEST(replay.events[i]["type"] == events[i]["type"]);
}

BOOST_AUTO_TEST_CASE(a_compacted_history_starts_a_new_chain_on_the_socket) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "Write the summary of the conversation above now."}}},
          {"reply", {{"chunks", {{{"content", "SUMMARY: two questions asked."}}}}}}}}}}};
  riposte_server r{b.url()};
  auto one = json::parse(
      r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "first question"}}).body);
  auto compacted = r.post("/v1/responses/compact",
                          {{"model", "llama3.2:1b"}, {"previous_response_id", one["id"]}});
  BOOST_REQUIRE_MESSAGE(compacted.status == 200, compacted.body);
  auto input = json::parse(compacted.body)["output"];
  input.push_back({{"role", "user"}, {"content", "and now?"}});
  ws_client ws{r.port()};
  ws.send_json(create({{"input", input}, {"store", false}}));
  expect_completed(ws.turn());
  bool saw_summary = false;
  auto messages = b.requests().back()["messages"];
  for (const auto& m : messages)
    saw_summary = saw_summary || wire::text(m).find("SUMMARY") != std::string::npos;
  BOOST_TEST(saw_summary, messages.dump());
}

BOOST_AUTO_TEST_CASE(websockets_count_against_the_connection_limit) {
  scripted_backend b;
  riposte_server r{b.url(), {"--max-connections", "2"}};
  auto a = std::make_unique<ws_client>(r.port());
  ws_client second{r.port()};
  BOOST_REQUIRE(a->upgraded());
  BOOST_REQUIRE(second.upgraded());
  // A third connection waits in the backlog while both sockets stay open...
  raw_connection waiting{r.port()};
  waiting.send(request_bytes("GET", "/healthz"));
  BOOST_TEST(!waiting.read_response(std::chrono::milliseconds(500)));
  // ...and is served once one of them closes.
  a.reset();
  auto served = waiting.read_response(std::chrono::seconds(5));
  BOOST_REQUIRE(served);
  BOOST_TEST(served->status == 200);
}

BOOST_AUTO_TEST_CASE(a_silent_peer_is_pinged_and_let_go_and_a_close_is_answered_properly) {
  scripted_backend b;
  riposte_server r{b.url(), {"--websocket-ping-ms", "200"}};
  {
    // It answers pings: it stays.
    ws_client alive{r.port()};
    BOOST_REQUIRE(alive.upgraded());
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1200);
    int pings = 0;
    while (std::chrono::steady_clock::now() < until) {
      auto f = alive.next(std::chrono::milliseconds(100));
      if (f && f->opcode == 9) {
        ++pings;
        alive.send_frame(0x8A, f->payload);
      }
      BOOST_REQUIRE(!alive.peer_closed());
    }
    BOOST_TEST(pings >= 2);
    alive.send_json(create({{"input", "still here"}}));
    expect_completed(alive.turn());
  }
  {
    // It never answers (a half-open connection): pinged, then let go, and
    // its place is free again.
    ws_client silent{r.port()};
    BOOST_REQUIRE(silent.upgraded());
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!silent.peer_closed() && std::chrono::steady_clock::now() < until)
      silent.next(std::chrono::milliseconds(100));
    BOOST_TEST(silent.peer_closed());
  }
  BOOST_TEST(open_connections_settled(r) == 0);
  // A close riposte starts arrives as a close frame, not a reset, even when
  // the peer is still sending.
  ws_client ws{r.port()};
  ws.send_frame(0x82, "binary");
  ws.send_text(create({{"input", "after the binary message"}}).dump());
  BOOST_TEST(ws.wait_close().value_or(0) == 1003);
  BOOST_TEST(b.requests().size() == 1u); // the message after the close was not run
}

BOOST_AUTO_TEST_CASE(hostile_frames_close_that_connection_only) {
  scripted_backend b;
  riposte_server r{b.url(), {"--max-websocket-message-bytes", "65536"}};
  auto rss_before = vm_rss_kib(r.process().pid());
  {
    // A header claiming 2^62 bytes: refused from the header, nothing allocated.
    ws_client ws{r.port()};
    BOOST_REQUIRE(ws.upgraded());
    std::string header{"\x81\xFF", 2};
    for (int i = 0; i < 8; ++i)
      header.push_back(i == 0 ? '\x40' : '\0');
    header += std::string{"\x01\x02\x03\x04", 4};
    ws.send_raw(header);
    BOOST_TEST(ws.wait_close().value_or(0) == 1009);
  }
  {
    // Just over the limit, claimed by the header.
    ws_client ws{r.port()};
    ws.send_text(std::string(65537, 'a'));
    BOOST_TEST(ws.wait_close().value_or(0) == 1009);
  }
  {
    // Over the limit in fragments: each small, together too big.
    ws_client ws{r.port()};
    ws.send_frame(0x01, std::string(40000, 'a'));
    ws.send_frame(0x00, std::string(40000, 'a'));
    BOOST_TEST(ws.wait_close().value_or(0) == 1009);
  }
  {
    ws_client ws{r.port()};
    ws.send_frame(0x81, "{}", false); // unmasked
    BOOST_TEST(ws.wait_close().value_or(0) == 1002);
  }
  {
    ws_client ws{r.port()};
    ws.send_frame(0x81, "\xff\xfe not utf-8");
    BOOST_TEST(ws.wait_close().value_or(0) == 1007);
  }
  {
    ws_client ws{r.port()};
    ws.send_frame(0x82, "binary");
    BOOST_TEST(ws.wait_close().value_or(0) == 1003);
  }
  {
    ws_client ws{r.port()};
    ws.send_frame(0xC1, "{}"); // RSV1 without an extension
    BOOST_TEST(ws.wait_close().value_or(0) == 1002);
  }
  {
    ws_client ws{r.port()};
    ws.send_frame(0x00, "orphan continuation");
    BOOST_TEST(ws.wait_close().value_or(0) == 1002);
  }
  {
    // A ping is answered; a message in fragments with a ping between them
    // is joined; the peer's close is answered with its code.
    ws_client ws{r.port()};
    ws.send_frame(0x89, "are you there");
    auto pong = ws.next();
    BOOST_REQUIRE(pong);
    BOOST_TEST(pong->opcode == 10);
    BOOST_TEST(pong->payload == "are you there");
    auto message = create({{"input", "joined fragments"}}).dump();
    ws.send_frame(0x01, message.substr(0, 10));
    ws.send_frame(0x89, "mid");
    ws.send_frame(0x00, message.substr(10, 10));
    ws.send_frame(0x80, message.substr(20));
    std::vector<json> events;
    for (;;) {
      auto f = ws.next();
      BOOST_REQUIRE(f);
      if (f->opcode == 10)
        continue;
      BOOST_REQUIRE(f->opcode == 1);
      events.push_back(json::parse(f->payload));
      if (ends_turn(events.back()))
        break;
    }
    expect_completed(events);
    ws.send_frame(0x88, std::string{"\x03\xe8", 2});
    BOOST_TEST(ws.wait_close().value_or(0) == 1000);
  }
  // Nothing of that stayed: the process is as big as before, and serves.
  BOOST_TEST(vm_rss_kib(r.process().pid()) < rss_before + 64 * 1024);
  BOOST_TEST(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "ok"}}).status == 200);
  BOOST_TEST(open_connections_settled(r) == 0);
}

BOOST_AUTO_TEST_CASE(a_tenant_holds_a_bounded_number_of_connections) {
  scripted_backend b;
  riposte_server r{
      b.url(),
      {"--api-key", "ka:alice", "--api-key", "kb:bob", "--max-websockets-per-tenant", "2"}};
  std::vector<std::unique_ptr<ws_client>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<ws_client>(
        r.port(), std::vector<std::string>{"Authorization: Bearer ka"}));
    BOOST_REQUIRE(held.back()->upgraded());
  }
  ws_client third{r.port(), {"Authorization: Bearer ka"}};
  BOOST_TEST(third.handshake().status == 429);
  BOOST_TEST(json::parse(third.handshake().body)["error"]["code"] ==
             "websocket_connection_limit_reached");
  ws_client bob{r.port(), {"Authorization: Bearer kb"}};
  BOOST_TEST(bob.upgraded());
  held.pop_back(); // one closes: its place is free again
  bool upgraded = false;
  for (int i = 0; i < 50 && !upgraded; ++i) {
    ws_client again{r.port(), {"Authorization: Bearer ka"}};
    upgraded = again.upgraded();
    if (!upgraded)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_TEST(upgraded);
}

BOOST_AUTO_TEST_SUITE_END()
