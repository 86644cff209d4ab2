// Context planning end to end: windows from the backend and the operator,
// truncation, and counting input tokens without storing anything.
#include "tests/support/backend_wire.hpp"
#include "tests/support/json_body.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/turns.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <string>

using json = nlohmann::json;
using namespace riposte::tests;

BOOST_AUTO_TEST_SUITE(context)

// A conversation over 1 MiB goes to the backend in one piece: libcurl would
// first send `Expect: 100-continue` and wait up to a second for an answer
// that not every server gives (the scripted backend never does).
BOOST_AUTO_TEST_CASE(a_body_over_a_mebibyte_reaches_the_backend_without_asking_first) {
  scripted_backend b;
  riposte_server r{b.url(), {"--context-window", "llama3.2:1b=2000000"}};
  std::string input;
  while (input.size() < (1u << 20) + 4096)
    input += "lorem ipsum dolor sit amet ";
  auto res = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", input}});
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  BOOST_TEST(json_body(res)["status"] == "completed");
  BOOST_TEST(b.requests().back().dump().find(input) != std::string::npos);
  auto expects = json::parse(http_call("GET", b.url() + "/_scripted/expects").body);
  BOOST_TEST(expects["expects"] == 0);
}

BOOST_AUTO_TEST_CASE(a_200_turn_conversation_crosses_the_window_with_auto_and_fails_with_disabled) {
  scripted_backend b;
  riposte_server r{b.url(), {"--context-window", "llama3.2:1b=1500"}};
  std::string prev;
  int first_truncated = -1;
  for (int turn = 0; turn < 200; ++turn) {
    json body{{"model", "llama3.2:1b"},
              {"instructions", "Answer briefly."},
              {"input", words(turn)},
              {"truncation", "auto"}};
    if (!prev.empty())
      body["previous_response_id"] = prev;
    auto res = r.post("/v1/responses", body);
    BOOST_REQUIRE_MESSAGE(res.status == 200, "turn " << turn << ": " << res.body);
    auto resp = json_body(res);
    BOOST_REQUIRE(resp["status"] == "completed");
    BOOST_TEST(resp["truncation"] == "auto");
    if (resp.contains("truncation_details")) {
      if (first_truncated < 0)
        first_truncated = turn;
      const auto& d = resp["truncation_details"];
      BOOST_TEST(d["dropped_items"].get<int>() > 0);
      BOOST_TEST(d["dropped_item_ids"].size() == d["dropped_items"].get<std::size_t>());
      BOOST_TEST(d["input_tokens_before"].get<int>() > 1500);
    } else {
      BOOST_TEST(first_truncated < 0, "turn " << turn << " fits again after truncating");
    }
    prev = resp["id"].get<std::string>();
  }
  BOOST_TEST_MESSAGE("first truncated turn: " << first_truncated);
  BOOST_TEST(first_truncated > 5);
  BOOST_TEST(first_truncated < 100);

  // The backend was asked to run with the window, and got what fits: the
  // instructions and the newest turn, not the oldest.
  auto last = b.requests().back();
  if (wire::native()) // Ollama is told the window; a Chat Completions server has its own
    BOOST_TEST(last["options"]["num_ctx"] == 1500);
  BOOST_TEST(last["messages"][0]["role"] == "system");
  BOOST_TEST(last["messages"][0]["content"] == "Answer briefly.");
  BOOST_TEST(mentions(last["messages"], "Turn 199:"));
  BOOST_TEST(!mentions(last["messages"], "Turn 0:"));
  BOOST_TEST(mentions(last["messages"], "Turn 190:"));
  auto counted =
      json_body(r.post("/v1/responses/input_tokens", {{"model", "llama3.2:1b"},
                                                      {"instructions", "Answer briefly."},
                                                      {"input", words(200)},
                                                      {"previous_response_id", prev},
                                                      {"truncation", "auto"}}));
  BOOST_TEST(counted["input_tokens"].get<int>() <= 1500);
  BOOST_TEST(counted["input_tokens"].get<int>() > 1000);

  // The same conversation without truncation: a clean 400 naming the
  // input, the backend never called, the chain untouched.
  b.clear_requests();
  auto refused =
      r.post("/v1/responses",
             {{"model", "llama3.2:1b"}, {"input", words(200)}, {"previous_response_id", prev}});
  BOOST_TEST(refused.status == 400, refused.body);
  auto err = json_body(refused)["error"];
  BOOST_TEST(err["code"] == "context_length_exceeded");
  BOOST_TEST(err["type"] == "invalid_request_error");
  BOOST_TEST(err["param"] == "input");
  BOOST_TEST(err["message"].get<std::string>().find("1500") != std::string::npos);
  BOOST_TEST(b.requests().empty());
  BOOST_TEST(r.get("/v1/responses/" + prev).status == 200);
  auto still = r.post("/v1/responses", {{"model", "llama3.2:1b"},
                                        {"input", "short"},
                                        {"truncation", "auto"},
                                        {"previous_response_id", prev}});
  BOOST_TEST(still.status == 200, still.body);
}

BOOST_AUTO_TEST_CASE(input_tokens_counts_what_a_create_would_send_and_stores_nothing) {
  scripted_backend b;
  riposte_server r{b.url(), {"--default-model", "llama3.2:1b"}};
  auto one = r.post("/v1/responses/input_tokens", {{"model", "llama3.2:1b"}, {"input", "hello"}});
  BOOST_REQUIRE_MESSAGE(one.status == 200, one.body);
  auto j = json_body(one);
  BOOST_TEST(j["object"] == "response.input_tokens");
  auto small = j["input_tokens"].get<int>();
  BOOST_TEST(small > 0);
  BOOST_TEST(small < 20);
  // More input, instructions and tools all count.
  auto more =
      json_body(r.post("/v1/responses/input_tokens",
                       {{"model", "llama3.2:1b"},
                        {"instructions", "You are a careful assistant who answers briefly."},
                        {"input", words(1)},
                        {"tools", json::array({{{"type", "function"},
                                                {"name", "get_weather"},
                                                {"parameters", {{"type", "object"}}}}})}}));
  BOOST_TEST(more["input_tokens"].get<int>() > small + 40);
  // The chain counts: a follow-up carries its parent's conversation.
  auto parent = json_body(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", words(2)}}));
  auto follow = json_body(r.post(
      "/v1/responses/input_tokens",
      {{"model", "llama3.2:1b"}, {"input", "hello"}, {"previous_response_id", parent["id"]}}));
  BOOST_TEST(follow["input_tokens"].get<int>() > small + 40);
  // No model: the default one. Nothing was generated or stored.
  auto by_default = r.post("/v1/responses/input_tokens", {{"input", "hello"}});
  BOOST_TEST(by_default.status == 200, by_default.body);
  BOOST_TEST(json_body(by_default)["input_tokens"] == small);
  BOOST_TEST(b.requests().size() == 1u);
  // Errors are a create's.
  auto unknown = r.post("/v1/responses/input_tokens", {{"model", "nope"}, {"input", "x"}});
  BOOST_TEST(unknown.status == 400, unknown.body);
  BOOST_TEST(json_body(unknown)["error"]["code"] == "model_not_found");
  auto orphan =
      r.post("/v1/responses/input_tokens",
             {{"model", "llama3.2:1b"}, {"input", "x"}, {"previous_response_id", "resp_x"}});
  BOOST_TEST(orphan.status == 404, orphan.body);
  auto bad = r.post("/v1/responses/input_tokens", {{"model", "llama3.2:1b"}, {"input", 7}});
  BOOST_TEST(bad.status == 400, bad.body);
  BOOST_TEST(json_body(bad)["error"]["param"] == "input");
}

BOOST_AUTO_TEST_CASE(a_modelfile_num_ctx_is_the_window_and_a_too_long_input_never_reaches_it) {
  if (!wire::native()) // a Modelfile is Ollama's
    return;
  scripted_backend b{{{"models", json::array({{{"name", "tiny"},
                                               {"capabilities", {"completion"}},
                                               {"context_length", 8192},
                                               {"num_ctx", 300},
                                               {"family", "llama"}}})}}};
  riposte_server r{b.url()};
  auto ok = r.post("/v1/responses", {{"model", "tiny"}, {"input", "hello"}});
  BOOST_REQUIRE_MESSAGE(ok.status == 200, ok.body);
  BOOST_TEST(b.requests().back()["options"]["num_ctx"] == 300);
  std::string long_text;
  for (int i = 0; i < 20; ++i)
    long_text += words(i) + "\n";
  b.clear_requests();
  for (const char* truncation : {"disabled", "auto"}) { // auto never cuts the new input
    auto res = r.post("/v1/responses",
                      {{"model", "tiny"}, {"input", long_text}, {"truncation", truncation}});
    BOOST_TEST(res.status == 400, res.body);
    BOOST_TEST(json_body(res)["error"]["code"] == "context_length_exceeded");
  }
  // max_output_tokens is kept free for the answer.
  auto reserved = r.post(
      "/v1/responses",
      {{"model", "tiny"}, {"input", words(1) + words(2) + words(3)}, {"max_output_tokens", 250}});
  BOOST_TEST(reserved.status == 400, reserved.body);
  BOOST_TEST(b.requests().empty());
}

BOOST_AUTO_TEST_CASE(cached_tokens_count_the_prefix_a_follow_up_shares_with_its_parent) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto create = [&](json body) {
    auto res = r.post("/v1/responses", body);
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
    return json_body(res);
  };
  auto cached = [](const json& resp) {
    return resp["usage"]["input_tokens_details"]["cached_tokens"].get<std::int64_t>();
  };
  json base{{"model", "llama3.2:1b"}, {"instructions", "Be brief."}};
  auto first = base;
  first["input"] = "hello there, how are you today?";
  auto one = create(first);
  BOOST_TEST(cached(one) == 0); // nothing before it
  auto prefix = one["usage"]["input_tokens"].get<std::int64_t>() +
                one["usage"]["output_tokens"].get<std::int64_t>();

  auto next = base;
  next["input"] = "and tomorrow?";
  next["previous_response_id"] = one["id"];
  auto two = create(next);
  BOOST_TEST(cached(two) == prefix);
  BOOST_TEST(cached(two) < two["usage"]["input_tokens"].get<std::int64_t>());

  // Other instructions or another model change the prompt's start: nothing shared.
  auto other = next;
  other["instructions"] = "Be verbose.";
  BOOST_TEST(cached(create(other)) == 0);
  other = next;
  other["model"] = "qwen3:0.6b";
  BOOST_TEST(cached(create(other)) == 0);

  // The parent read back from the store after a restart gives the same.
  r.restart();
  BOOST_TEST(cached(create(next)) == prefix);
}

BOOST_AUTO_TEST_CASE(compact_summarizes_through_the_model_and_its_item_stands_in_for_the_past) {
  scripted_backend b{summarizing_script("SUMMARY: Paris weather asked; sunny today.")};
  riposte_server r{b.url(), {"--api-key", "k-alice:alice", "--api-key", "k-bob:bob"}};
  const std::string alice = "Authorization: Bearer k-alice";
  auto one = json_body(
      r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "weather in Paris?"}}, {alice}));
  auto two = json_body(r.post(
      "/v1/responses",
      {{"model", "llama3.2:1b"}, {"input", "and tomorrow?"}, {"previous_response_id", one["id"]}},
      {alice}));
  auto res = r.post("/v1/responses/compact",
                    {{"model", "llama3.2:1b"}, {"previous_response_id", two["id"]}}, {alice});
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  auto compacted = json_body(res);
  BOOST_TEST(compacted["object"] == "response.compaction");
  BOOST_TEST(compacted["usage"]["output_tokens"].get<int>() > 0);
  auto output = compacted["output"];
  BOOST_REQUIRE(output.size() == 3u); // both user messages, then the compaction
  BOOST_TEST(output[0]["content"][0]["text"] == "weather in Paris?");
  BOOST_TEST(output[1]["content"][0]["text"] == "and tomorrow?");
  BOOST_TEST(output[2]["type"] == "compaction");
  BOOST_TEST(output[2]["id"].get<std::string>().rfind("cmp_", 0) == 0u);
  BOOST_TEST(output[2]["encrypted_content"].get<std::string>().find("SUMMARY") ==
             std::string::npos);
  // The model summarized the whole chain under the compaction instructions.
  auto asked = b.requests().back()["messages"];
  BOOST_TEST(asked[0]["content"].get<std::string>().find("compacting a conversation") !=
             std::string::npos);
  BOOST_TEST(says(asked, "assistant", "Echo: weather in Paris?"));
  // Nothing was stored under the compaction's id.
  BOOST_TEST(r.get("/v1/responses/" + compacted["id"].get<std::string>(), {alice}).status == 404);

  // A stateless continuation: the compacted output, then a new message. The
  // model sees the user's messages and the summary, not the old answers.
  auto next = output;
  next.push_back({{"role", "user"}, {"content", "so, an umbrella?"}});
  auto cont = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"store", false}, {"input", next}},
                     {alice});
  BOOST_TEST(cont.status == 200, cont.body);
  auto sent = b.requests().back()["messages"];
  BOOST_TEST(says(sent, "user", "weather in Paris?"));
  BOOST_TEST(says(sent, "user", "SUMMARY: Paris weather asked; sunny today."));
  BOOST_TEST(says(sent, "user", "so, an umbrella?"));
  BOOST_TEST(!says(sent, "assistant", "Echo:"));

  // The item opens only for its tenant, untouched.
  auto bob = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", next}},
                    {"Authorization: Bearer k-bob"});
  BOOST_TEST(bob.status == 400, bob.body);
  BOOST_TEST(json_body(bob)["error"]["param"] == "input[2].encrypted_content");
  auto bent = next;
  bent[2]["encrypted_content"] = "AAAA" + bent[2]["encrypted_content"].get<std::string>().substr(4);
  BOOST_TEST(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", bent}}, {alice}).status ==
             400);
  // Bad requests name their param.
  auto unknown = r.post("/v1/responses/compact",
                        {{"model", "llama3.2:1b"}, {"input", "x"}, {"stream", true}}, {alice});
  BOOST_TEST(unknown.status == 400, unknown.body);
  BOOST_TEST(json_body(unknown)["error"]["param"] == "stream");
}

BOOST_AUTO_TEST_CASE(context_management_compacts_a_chain_past_its_threshold) {
  scripted_backend b{summarizing_script("SUMMARY: Paris weather asked; sunny today.")};
  riposte_server r{b.url()};
  json cm = json::array({{{"type", "compaction"}, {"compact_threshold", 200}}});
  std::string prev;
  json compacted_turn;
  for (int turn = 0; turn < 12 && compacted_turn.is_null(); ++turn) {
    json body{{"model", "llama3.2:1b"}, {"input", words(turn)}, {"context_management", cm}};
    if (!prev.empty())
      body["previous_response_id"] = prev;
    auto resp = json_body(r.post("/v1/responses", body));
    BOOST_REQUIRE_MESSAGE(resp["status"] == "completed", resp.dump());
    if (resp["output"][0]["type"] == "compaction")
      compacted_turn = resp;
    prev = resp["id"].get<std::string>();
  }
  BOOST_REQUIRE_MESSAGE(compacted_turn.is_object(), "no turn was compacted");
  BOOST_TEST(compacted_turn["output"].size() == 2u); // the compaction, then the answer
  BOOST_TEST(compacted_turn["output"][1]["type"] == "message");
  BOOST_TEST(compacted_turn["output"][0]["encrypted_content"].is_string());
  // That turn ran on the summary: earlier answers were left out.
  auto sent = b.requests().back()["messages"];
  BOOST_TEST(says(sent, "user", "SUMMARY: Paris weather asked"));
  BOOST_TEST(!says(sent, "assistant", "Echo:"));
  BOOST_TEST(says(sent, "user", "Turn 0:"));

  // The next turn of the chain uses the compaction in place of what it
  // replaced: the user's messages and the summary, then the newer turns.
  auto next = json_body(
      r.post("/v1/responses",
             {{"model", "llama3.2:1b"}, {"input", "one more"}, {"previous_response_id", prev}}));
  BOOST_TEST(next["status"] == "completed");
  sent = b.requests().back()["messages"];
  BOOST_TEST(says(sent, "user", "SUMMARY: Paris weather asked"));
  int echoes = 0;
  for (const auto& m : sent)
    echoes += m.value("role", "") == "assistant" ? 1 : 0;
  BOOST_TEST(echoes == 1); // only the compacted turn's own answer
  // Read back from the store after a restart, the same.
  r.restart();
  b.clear_requests();
  (void)json_body(r.post(
      "/v1/responses",
      {{"model", "llama3.2:1b"}, {"input", "after restart"}, {"previous_response_id", prev}}));
  BOOST_TEST(says(b.requests().back()["messages"], "user", "SUMMARY: Paris weather asked"));
}

BOOST_AUTO_TEST_SUITE_END()
