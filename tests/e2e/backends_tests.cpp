// riposte in front of Chat Completions servers, and of several backends at
// once: each model reaches the backend that serves it, /readyz says which
// backend is down, and the others keep serving.
#include "tests/support/json_body.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <set>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;
using namespace std::chrono_literals;

namespace {

json chat_script(const std::string& profile) {
  json slow = json::array();
  for (int i = 0; i < 300; ++i) {
    std::string token = "t";
    token += std::to_string(i);
    token += ' ';
    slow.push_back({{"content", token}});
  }
  return {{"profile", profile},
          {"models", {{{"name", "big-model"}, {"context_length", 32768}}}},
          {"rules",
           {{{"match", {{"contains", "weather"}, {"has_tool_result", false}}},
             {"reply",
              {{"chunks",
                {{{"thinking", "The user wants weather."}},
                 {{"tool_calls",
                   {{{"function",
                      {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}}}}}}}}}},
            {{"match", {{"contains", "refuse"}}},
             {"reply", {{"status", 400}, {"error", "This model's maximum context length is 8"}}}},
            {{"match", {{"contains", "slow"}}}, {"reply", {{"chunks", slow}, {"delay_ms", 20}}}},
            {{"match", {{"contains", "pause"}}},
             {"reply",
              {{"chunks", json::array({{{"content", "after"}}, {{"content", " a pause"}}})},
               {"delay_ms", 250}}}}}}};
}

json weather_tool() {
  return {{"type", "function"},
          {"name", "get_weather"},
          {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}};
}

std::string output_text(const json& response) {
  std::string text;
  for (const auto& item : response.value("output", json::array()))
    if (item.value("type", "") == "message")
      for (const auto& part : item["content"])
        text += part.value("text", "");
  return text;
}

int disconnects(scripted_backend& b) {
  return json::parse(http_call("GET", b.url() + "/_scripted/disconnects").body)
      .value("disconnects", -1);
}

json readyz(riposte_server& r, long& status) {
  auto res = r.get("/readyz");
  status = res.status;
  return json::parse(res.body);
}

} // namespace

BOOST_AUTO_TEST_SUITE(backends)

BOOST_AUTO_TEST_CASE(a_chat_completions_server_serves_the_responses_api) {
  scripted_backend vllm{chat_script("vllm")};
  riposte_server r{"vllm:" + vllm.url() + "/v1"};

  // Blocking: the finished answer, asked for without a stream.
  auto res = r.post("/v1/responses", {{"model", "big-model"}, {"input", "Hello there"}});
  BOOST_TEST(res.status == 200, res.body);
  auto done = json_body(res);
  BOOST_TEST(done["status"] == "completed");
  BOOST_TEST(output_text(done) == "Echo: Hello there");
  BOOST_TEST(done["usage"].value("input_tokens", 0) > 0);
  auto sent = vllm.requests();
  BOOST_REQUIRE_EQUAL(sent.size(), 1u);
  BOOST_TEST(sent[0]["model"] == "big-model");
  BOOST_TEST(sent[0]["messages"].back() == json({{"role", "user"}, {"content", "Hello there"}}));

  // Streamed with a tool: reasoning and a call, in a valid event stream; the
  // call's output continues the chain in chat form.
  auto s = sse_call("POST", r.url("/v1/responses"),
                    json{{"model", "big-model"},
                         {"input", "What is the weather in Paris?"},
                         {"tools", {weather_tool()}},
                         {"stream", true}}
                        .dump());
  BOOST_TEST(s.status == 200);
  for (const auto& problem : validate_stream(s.events))
    BOOST_ERROR(problem);
  auto completed = s.events.back()["response"];
  BOOST_TEST(completed["status"] == "completed");
  json call;
  for (const auto& item : completed["output"])
    if (item["type"] == "function_call")
      call = item;
  BOOST_REQUIRE(call.is_object());
  BOOST_TEST(call["name"] == "get_weather");
  BOOST_TEST(json::parse(call["arguments"].get<std::string>()) == json({{"city", "Paris"}}));
  BOOST_TEST(completed["output"][0]["type"] == "reasoning");
  BOOST_TEST(vllm.requests().back()["stream_options"]["include_usage"] == true);

  res = r.post("/v1/responses", {{"model", "big-model"},
                                 {"previous_response_id", completed["id"]},
                                 {"tools", {weather_tool()}},
                                 {"input",
                                  {{{"type", "function_call_output"},
                                    {"call_id", call["call_id"]},
                                    {"output", "18C and sunny"}}}}});
  BOOST_TEST(res.status == 200, res.body);
  auto messages = vllm.requests().back()["messages"];
  BOOST_REQUIRE(messages.size() >= 3u);
  auto tool_message = messages.back();
  BOOST_TEST(tool_message["role"] == "tool");
  BOOST_TEST(tool_message["tool_call_id"] == call["call_id"]);
  BOOST_TEST(messages[messages.size() - 2]["tool_calls"][0]["id"] == call["call_id"]);

  // The server's own refusal is the response's failure, with its message.
  res = r.post("/v1/responses", {{"model", "big-model"}, {"input", "please refuse"}});
  auto failed = json::parse(res.body);
  auto message = failed.contains("error") && failed["error"].is_object()
                     ? failed["error"].value("message", "")
                     : std::string{};
  BOOST_TEST(message.find("maximum context length is 8") != std::string::npos, res.body);

  // Models: the server's list; an unknown model is refused as the API
  // refuses it (400 model_not_found on /v1/responses).
  auto models = json_body(r.get("/v1/models"));
  BOOST_REQUIRE_EQUAL(models["data"].size(), 1u);
  BOOST_TEST(models["data"][0]["id"] == "big-model");
  res = r.post("/v1/responses", {{"model", "no-such-model"}, {"input", "hi"}});
  BOOST_TEST(res.status == 400, res.body);
  BOOST_TEST(json::parse(res.body)["error"]["code"] == "model_not_found");

  // Cancelling a background response closes the backend's connection.
  auto bg = json_body(r.post("/v1/responses",
                             {{"model", "big-model"}, {"input", "go slow"}, {"background", true}}));
  std::this_thread::sleep_for(300ms);
  res = r.post("/v1/responses/" + bg["id"].get<std::string>() + "/cancel", json::object());
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(json::parse(res.body)["status"] == "cancelled");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (disconnects(vllm) < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  BOOST_TEST(disconnects(vllm) == 1);
}

BOOST_AUTO_TEST_CASE(two_backends_of_two_kinds_serve_their_own_models) {
  scripted_backend ollama; // llama3.2:1b, qwen3:0.6b, llava:7b, native API
  auto script = chat_script("llamacpp");
  // Both list llama3.2:1b: the first backend configured serves it.
  script["models"].push_back({{"name", "llama3.2:1b"}, {"context_length", 8192}});
  scripted_backend llama{script};
  riposte_server r{"ollama:" + ollama.url(), {"--backend", "llamacpp:" + llama.url()}};

  auto res = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "one"}});
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(output_text(json::parse(res.body)) == "Echo: one");
  res = r.post("/v1/responses", {{"model", "big-model"}, {"input", "two"}});
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(output_text(json::parse(res.body)) == "Echo: two");
  BOOST_REQUIRE_EQUAL(ollama.requests().size(), 1u);
  BOOST_TEST(ollama.requests()[0]["model"] == "llama3.2:1b");
  BOOST_REQUIRE_EQUAL(llama.requests().size(), 1u);
  BOOST_TEST(llama.requests()[0]["model"] == "big-model");

  // The union, each model with the backend that serves it.
  auto models = json_body(r.get("/v1/models"));
  std::map<std::string, std::string> owner;
  for (const auto& m : models["data"])
    owner[m["id"].get<std::string>()] = m["owned_by"].get<std::string>();
  BOOST_TEST(owner.size() == 4u);
  BOOST_TEST(owner["big-model"] == "llamacpp");
  BOOST_TEST(owner["llama3.2:1b"] == "ollama");
  BOOST_TEST(owner["qwen3:0.6b"] == "ollama");

  long status = 0;
  auto ready = readyz(r, status);
  BOOST_TEST(status == 200, ready.dump());
  BOOST_TEST(ready["checks"]["backend"]["backends"]["ollama"]["ok"] == true, ready.dump());
  BOOST_TEST(ready["checks"]["backend"]["backends"]["llamacpp"]["ok"] == true, ready.dump());

  // One backend down: /readyz names it and stays ready; the other model
  // keeps working, and the lost one fails with a clear error.
  llama.stop();
  ready = readyz(r, status);
  BOOST_TEST(status == 200, ready.dump());
  BOOST_TEST(ready["checks"]["backend"]["backends"]["llamacpp"]["ok"] == false, ready.dump());
  BOOST_TEST(ready["checks"]["backend"]["backends"]["ollama"]["ok"] == true, ready.dump());
  res = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "three"}});
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(output_text(json::parse(res.body)) == "Echo: three");
  res = r.post("/v1/responses", {{"model", "big-model"}, {"input", "four"}});
  auto body = json::parse(res.body);
  bool failed = res.status >= 500 || body.value("status", "") == "failed";
  BOOST_TEST(failed, res.body);
}

BOOST_AUTO_TEST_CASE(prefixes_and_fixed_lists_route_without_asking_and_all_can_be_required) {
  scripted_backend ollama;
  scripted_backend sglang{chat_script("sglang")};
  scripted_backend tgi{chat_script("tgi")};
  riposte_server r{"ollama:" + ollama.url(),
                   {"--backend", "remote=sglang:" + sglang.url() + ",prefix=remote/", "--backend",
                    "tgi:" + tgi.url() + ",models=house-model", "--ready-requires-all-backends"}};
  // remote/big-model is big-model on the SGLang server.
  auto res = r.post("/v1/responses", {{"model", "remote/big-model"}, {"input", "hello"}});
  BOOST_TEST(res.status == 200, res.body);
  BOOST_TEST(json::parse(res.body)["model"] == "remote/big-model");
  BOOST_REQUIRE_EQUAL(sglang.requests().size(), 1u);
  BOOST_TEST(sglang.requests()[0]["model"] == "big-model");
  // TGI serves whatever it is configured for, listed or not.
  res = r.post("/v1/responses", {{"model", "house-model"}, {"input", "hi"}});
  BOOST_TEST(res.status == 200, res.body);
  BOOST_REQUIRE_EQUAL(tgi.requests().size(), 1u);
  BOOST_TEST(tgi.requests()[0]["model"] == "tgi");
  BOOST_TEST(ollama.requests().empty());
  auto models = json_body(r.get("/v1/models"));
  std::set<std::string> ids;
  for (const auto& m : models["data"])
    ids.insert(m["id"].get<std::string>());
  BOOST_TEST(ids.count("remote/big-model") == 1u);
  BOOST_TEST(ids.count("house-model") == 1u);
  BOOST_TEST(ids.count("big-model") == 0u);

  // The manifest says, per configured backend, what riposte cannot send it.
  auto manifest = json_body(r.get("/compatibility/responses"));
  BOOST_REQUIRE_EQUAL(manifest["backends"].size(), 3u);
  BOOST_TEST(manifest["backends"][0]["kind"] == "ollama");
  BOOST_TEST(manifest["backends"][1]["name"] == "remote");
  BOOST_TEST(manifest["backends"][2]["not_sent"].contains("parallel_tool_calls"));

  long status = 0;
  auto ready = readyz(r, status);
  BOOST_TEST(status == 200, ready.dump());
  tgi.stop();
  ready = readyz(r, status);
  BOOST_TEST(status == 503, ready.dump());
  BOOST_TEST(ready["checks"]["backend"]["backends"]["tgi"]["ok"] == false, ready.dump());
  BOOST_TEST(ready["checks"]["backend"]["require"] == "all");
}

BOOST_AUTO_TEST_CASE(each_kind_says_its_window_and_a_too_long_input_never_reaches_it) {
  // vLLM in its model list; llama.cpp, TGI and LM Studio on their own
  // endpoints. A window of 300 tokens: a long input is refused up front.
  std::string long_text;
  for (int i = 0; i < 400; ++i)
    long_text += "word ";
  for (const std::string kind : {"vllm", "llamacpp", "tgi", "lmstudio"}) {
    auto script = chat_script(kind);
    script["models"] = {
        {{"name", kind == "tgi" ? "org/small-model-hf" : "small-model"}, {"context_length", 300}}};
    scripted_backend b{script};
    // TGI lists its model by another name, and answers to any.
    riposte_server r{kind + ":" + b.url() + (kind == "tgi" ? ",models=small-model" : "")};
    auto ok = r.post("/v1/responses", {{"model", "small-model"}, {"input", "hello"}});
    BOOST_TEST(ok.status == 200, kind << ": " << ok.body);
    b.clear_requests();
    auto res = r.post("/v1/responses", {{"model", "small-model"}, {"input", long_text}});
    BOOST_TEST(res.status == 400, kind << ": " << res.body);
    BOOST_TEST(json::parse(res.body)["error"]["code"] == "context_length_exceeded", kind);
    BOOST_TEST(b.requests().empty(), kind);
  }
}

json tokenize_calls(scripted_backend& b) {
  return json::parse(http_call("GET", b.url() + "/_scripted/tokenize").body);
}

std::string header_of(const http_result& res, const std::string& name) {
  for (const auto& [k, v] : res.headers)
    if (k == name)
      return v;
  return {};
}

std::string repeated(const std::string& word, int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += word + std::to_string(i) + " ";
  return out;
}

BOOST_AUTO_TEST_CASE(near_the_window_each_kinds_tokenizer_decides_and_far_from_it_nobody_asks) {
  // The scripted tokenizer makes every word 3 tokens, so the estimate (about
  // one per word) and the exact count disagree, as they do for real text in
  // a language the estimate knows less well.
  for (const std::string kind : {"vllm", "llamacpp", "tgi"}) {
    auto script = chat_script(kind);
    script["tokens_per_word"] = 3;
    script["models"] = {{{"name", "small-model"}, {"context_length", 1000}}};
    scripted_backend b{script};
    riposte_server r{kind + ":" + b.url() + ",models=small-model"};
    std::size_t calls_per_count = kind == "llamacpp" ? 2 : 1; // template, then tokens

    // A count always asks: 3 markers, "user", the 3 words and "assistant".
    json question{{"model", "small-model"}, {"input", "one two three"}};
    auto counted = r.post("/v1/responses/input_tokens", question);
    BOOST_REQUIRE_MESSAGE(counted.status == 200, kind << ": " << counted.body);
    BOOST_TEST(json::parse(counted.body)["input_tokens"] == 3 + 5 * 3, kind);
    BOOST_TEST(header_of(counted, "x-riposte-token-count") == "exact", kind);
    BOOST_TEST(tokenize_calls(b).size() == calls_per_count, kind);
    // The same question again: counted once.
    counted = r.post("/v1/responses/input_tokens", question);
    BOOST_TEST(json::parse(counted.body)["input_tokens"] == 18, kind);
    BOOST_TEST(tokenize_calls(b).size() == calls_per_count, kind);

    // Far from the window: the estimate decides, no round trip.
    auto small = r.post("/v1/responses", {{"model", "small-model"}, {"input", "hello"}});
    BOOST_TEST(small.status == 200, kind << ": " << small.body);
    BOOST_TEST(tokenize_calls(b).size() == calls_per_count, kind);

    // 880 words: about 890 tokens by the estimate, which would fit 1000;
    // near enough that the tokenizer is asked, and it says 2,600-odd.
    b.clear_requests();
    auto near = r.post("/v1/responses", {{"model", "small-model"}, {"input", repeated("w", 880)}});
    BOOST_TEST(near.status == 400, kind << ": " << near.body);
    auto err = json::parse(near.body)["error"];
    BOOST_TEST(err["code"] == "context_length_exceeded", kind);
    BOOST_TEST(err["message"].get<std::string>().find("by the model's tokenizer") !=
                   std::string::npos,
               err["message"]);
    BOOST_TEST(b.requests().empty(), kind);
    BOOST_TEST(tokenize_calls(b).size() == 2 * calls_per_count, kind);
  }
}

BOOST_AUTO_TEST_CASE(a_prefixed_model_is_counted_under_its_own_name_and_101_never_asks) {
  auto script = chat_script("vllm");
  script["tokens_per_word"] = 3;
  script["models"] = {{{"name", "small-model"}, {"context_length", 1000}}};
  scripted_backend b{script};
  riposte_server r{"vllm:" + b.url() + ",prefix=edge/"};
  auto counted = r.post("/v1/responses/input_tokens",
                        {{"model", "edge/small-model"}, {"input", "one two three"}});
  BOOST_REQUIRE_MESSAGE(counted.status == 200, counted.body);
  BOOST_TEST(json::parse(counted.body)["input_tokens"] == 18);
  BOOST_TEST(header_of(counted, "x-riposte-token-count") == "exact");
  BOOST_REQUIRE_EQUAL(tokenize_calls(b).size(), 1u);
  BOOST_TEST(tokenize_calls(b)[0]["body"]["model"] == "small-model");
  // 101: a create never asks, even over the window by the estimate.
  riposte_server never{"vllm:" + b.url() + ",prefix=edge/", {"--exact-count-percent", "101"}};
  auto over =
      never.post("/v1/responses", {{"model", "edge/small-model"}, {"input", repeated("w", 1200)}});
  BOOST_TEST(over.status == 400, over.body);
  BOOST_TEST(over.body.find("by the model's tokenizer") == std::string::npos, over.body);
  BOOST_TEST(tokenize_calls(b).size() == 1u);
}

BOOST_AUTO_TEST_CASE(
    truncation_drops_what_the_tokenizer_says_and_a_failed_tokenizer_leaves_the_estimate) {
  auto script = chat_script("vllm");
  script["tokens_per_word"] = 3;
  script["models"] = {{{"name", "small-model"}, {"context_length", 700}}};
  scripted_backend b{script};
  riposte_server r{"vllm:" + b.url(), {"--exact-count-percent", "0"}};
  // Each turn is 100 words and its echo another 100: the second turn is
  // about 300 tokens by the estimate (all fits), 900-odd by the tokenizer.
  auto first = json_body(
      r.post("/v1/responses",
             {{"model", "small-model"}, {"input", repeated("a", 100)}, {"truncation", "auto"}}));
  BOOST_REQUIRE(first["status"] == "completed");
  BOOST_TEST(!first.contains("truncation_details"));
  auto second = r.post("/v1/responses", {{"model", "small-model"},
                                         {"input", repeated("b", 100)},
                                         {"previous_response_id", first["id"]},
                                         {"truncation", "auto"}});
  BOOST_REQUIRE_MESSAGE(second.status == 200, second.body);
  auto resp = json_body(second);
  BOOST_REQUIRE(resp.contains("truncation_details"));
  const auto& d = resp["truncation_details"];
  BOOST_TEST(d["counted_by"] == "tokenizer");
  BOOST_TEST(d["dropped_items"] == 1); // the first question; its echo and the turn fit
  BOOST_TEST(d["input_tokens_before"].get<int>() > 900);
  BOOST_TEST(resp["usage"]["input_tokens"].get<int>() <= 700);
  auto sent = b.requests().back()["messages"];
  BOOST_REQUIRE_EQUAL(sent.size(), 2u);
  BOOST_TEST(sent[0]["role"] == "assistant");
  BOOST_TEST(sent[1]["content"].get<std::string>().find("b0") == 0);

  // The tokenizer fails: the estimate decides (nothing dropped), and the
  // metrics say so.
  script["tokenize_status"] = 500;
  b.set_script(script);
  auto third = r.post("/v1/responses", {{"model", "small-model"},
                                        {"input", repeated("c", 100)},
                                        {"previous_response_id", first["id"]},
                                        {"truncation", "auto"}});
  BOOST_REQUIRE_MESSAGE(third.status == 200, third.body);
  BOOST_TEST(!json_body(third).contains("truncation_details"));
  auto metrics = r.get("/metrics").body;
  BOOST_TEST(metrics.find("riposte_prompt_token_counts_total{method=\"estimate_fallback\"} 1") !=
                 std::string::npos,
             metrics);
  BOOST_TEST(metrics.find("riposte_prompt_token_counts_total{method=\"exact\"} 2") !=
             std::string::npos);
  auto counted = r.post("/v1/responses/input_tokens", {{"model", "small-model"}, {"input", "x"}});
  BOOST_TEST(header_of(counted, "x-riposte-token-count") == "estimate");
}

BOOST_AUTO_TEST_CASE(a_backend_runs_within_its_own_concurrency_and_timeout) {
  scripted_backend ollama;
  scripted_backend vllm{chat_script("vllm")};
  riposte_server r{"ollama:" + ollama.url(),
                   {"--backend", "vllm:" + vllm.url() + ",concurrency=1,timeout_ms=2000"}};
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(json_body(
        r.post("/v1/responses",
               {{"model", "big-model"}, {"input", "a pause please"}, {"background", true}}))["id"]);
  std::this_thread::sleep_for(250ms);
  // One at a time on that backend; the other backend is not held up.
  BOOST_TEST(vllm.requests().size() == 1u);
  auto other = r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "meanwhile"}});
  BOOST_TEST(other.status == 200, other.body);
  BOOST_TEST(vllm.requests().size() == 1u);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (const auto& id : ids) {
    json got;
    do {
      std::this_thread::sleep_for(50ms);
      got = json_body(r.get("/v1/responses/" + id));
    } while (got["status"] != "completed" && std::chrono::steady_clock::now() < deadline);
    BOOST_TEST(got["status"] == "completed", got.dump());
    BOOST_TEST(output_text(got) == "after a pause");
  }
  BOOST_TEST(vllm.requests().size() == 3u);
  // Its own timeout: a generation that outlasts it fails as a backend timeout.
  auto slow = r.post("/v1/responses", {{"model", "big-model"}, {"input", "go slow"}});
  BOOST_TEST(slow.status == 504, slow.body);
  BOOST_TEST(json::parse(slow.body)["error"]["code"] == "backend_timeout", slow.body);
}

BOOST_AUTO_TEST_CASE(a_server_still_loading_its_model_is_not_ready) {
  for (const std::string kind : {"llamacpp", "vllm"}) {
    auto script = chat_script(kind);
    script["health_status"] = 503;
    scripted_backend b{script};
    riposte_server r{kind + ":" + b.url()};
    long status = 0;
    auto ready = readyz(r, status);
    BOOST_TEST(status == 503, kind << ": " << ready.dump());
    auto why = ready["checks"]["backend"].value("error", "");
    BOOST_TEST(why.find("503") != std::string::npos, kind << ": " << why);
    if (kind == "llamacpp")
      BOOST_TEST(why.find("Loading model") != std::string::npos, why);
    script.erase("health_status");
    b.set_script(script);
    ready = readyz(r, status);
    BOOST_TEST(status == 200, kind << ": " << ready.dump());
  }
}

BOOST_AUTO_TEST_CASE(a_bad_backend_flag_stops_riposte_with_the_reason) {
  for (const auto& [flag, reason] : std::vector<std::pair<std::string, std::string>>{
           {"mystery:http://127.0.0.1:1", "unknown kind 'mystery'"},
           {"vllm:http://127.0.0.1:1,colour=blue", "unknown option 'colour'"},
           {"vllm:http://127.0.0.1:1,key_env=RIPOSTE_NO_SUCH_VARIABLE", "is not set"},
           {"ollama:http://127.0.0.1:1,key_file=/nonexistent", "no key could be read"},
           {"vllm:ftp://127.0.0.1:1", "no http:// or https:// URL"},
           {"vllm:http://127.0.0.1:1,concurrency=0", "concurrency must be a positive"},
           {"vllm:http://127.0.0.1:1,timeout_ms=soon", "timeout_ms must be a positive"}}) {
    child_process p{{riposte_binary(), "--listen", "127.0.0.1:0", "--backend", flag}};
    BOOST_TEST(p.wait_exit(10s) == 2, flag);
    BOOST_TEST(p.output().find(reason) != std::string::npos, flag << ": " << p.output());
  }
  child_process twice{{riposte_binary(), "--listen", "127.0.0.1:0", "--backend",
                       "a=vllm:http://127.0.0.1:1", "--backend", "a=tgi:http://127.0.0.1:2"}};
  BOOST_TEST(twice.wait_exit(10s) == 2);
  BOOST_TEST(twice.output().find("two backends are named 'a'") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
