// Conversations end to end: /v1/conversations and its items, as OpenAI
// answers them (shapes, order, pagination, errors), tenant-scoped, and kept
// across a restart on both stores.
#include "tests/support/postgres.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"
#include "tests/support/turns.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;

namespace {

const std::string alice = "Authorization: Bearer k-alice";
const std::string bob = "Authorization: Bearer k-bob";
const std::vector<std::string> keys{"--api-key", "k-alice:alice", "--api-key", "k-bob:bob"};

json ok(const http_result& r) {
  BOOST_REQUIRE_MESSAGE(r.status == 200, "status " << r.status << ": " << r.body);
  return json::parse(r.body);
}

void refused(const http_result& r, long status, const json& code, const json& param,
             const std::string& message = {}) {
  BOOST_TEST(r.status == status, r.body);
  auto e = json::parse(r.body, nullptr, false);
  BOOST_REQUIRE_MESSAGE(e.is_object() && e.contains("error"), r.body);
  BOOST_TEST(e["error"]["type"] == "invalid_request_error", r.body);
  BOOST_TEST(e["error"]["code"] == code, r.body);
  BOOST_TEST(e["error"]["param"] == param, r.body);
  if (!message.empty())
    BOOST_TEST(e["error"]["message"] == message, r.body);
}

json user(const std::string& text) {
  return {{"type", "message"}, {"role", "user"}, {"content", text}};
}

std::vector<std::string> texts(const json& page) {
  std::vector<std::string> out;
  for (const auto& item : page["data"])
    out.push_back(item["content"][0].value("text", ""));
  return out;
}

// Every item of a conversation, following `after` as the SDKs do.
std::vector<std::string> all_texts(riposte_server& r, const std::string& conv,
                                   const std::string& order, int limit) {
  std::vector<std::string> out;
  std::string after;
  for (int guard = 0; guard < 100; ++guard) {
    auto page = ok(r.get("/v1/conversations/" + conv + "/items?order=" + order + "&limit=" +
                             std::to_string(limit) + (after.empty() ? "" : "&after=" + after),
                         {alice}));
    for (const auto& t : texts(page))
      out.push_back(t);
    if (!page["has_more"].get<bool>())
      return out;
    after = page["last_id"].get<std::string>();
  }
  BOOST_FAIL("pagination did not end");
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(conversations)

BOOST_AUTO_TEST_CASE(a_conversation_and_its_items_have_the_apis_shapes_and_order) {
  scripted_backend b;
  riposte_server r{b.url(), keys};
  // The SDK sessions send {} and {"items": []}.
  auto empty = ok(r.post("/v1/conversations", json::object(), {alice}));
  BOOST_TEST(empty["object"] == "conversation");
  BOOST_TEST(empty["metadata"] == json::object());
  BOOST_TEST(ok(r.post("/v1/conversations", {{"items", json::array()}}, {alice}))["object"] ==
             "conversation");
  auto listed =
      ok(r.get("/v1/conversations/" + empty["id"].get<std::string>() + "/items", {alice}));
  BOOST_TEST(listed == json::parse(R"({"object":"list","data":[],"first_id":null,
                                       "last_id":null,"has_more":false})"));

  auto conv = ok(r.post(
      "/v1/conversations",
      {{"metadata", {{"topic", "demo"}}}, {"items", json::array({user("one"), user("two")})}},
      {alice}));
  auto id = conv["id"].get<std::string>();
  BOOST_TEST(id.rfind("conv_", 0) == 0u);
  BOOST_TEST(id.size() == 5u + 48u);
  BOOST_TEST(conv["created_at"].is_number_integer());
  BOOST_TEST(conv["metadata"] == json({{"topic", "demo"}}));
  BOOST_TEST(ok(r.get("/v1/conversations/" + id, {alice})) == conv);

  // Items added: the envelope of what was added, normalized.
  auto added = ok(r.post(
      "/v1/conversations/" + id + "/items?include[]=message.output_text.logprobs",
      {{"items", json::array({user("three"),
                              {{"type", "message"}, {"role", "assistant"}, {"content", "four"}}})}},
      {alice}));
  BOOST_TEST(added["object"] == "list");
  BOOST_TEST(added["has_more"] == false);
  BOOST_REQUIRE(added["data"].size() == 2u);
  const auto& three = added["data"][0];
  BOOST_TEST(three["id"].get<std::string>().rfind("msg_", 0) == 0u);
  BOOST_TEST(three["status"] == "completed");
  BOOST_TEST(three["content"] == json::parse(R"([{"type":"input_text","text":"three"}])"));
  BOOST_TEST(added["data"][1]["content"][0]["type"] == "output_text");
  BOOST_TEST(added["first_id"] == three["id"]);

  // desc by default; asc on request; `after` counts in the order asked.
  auto desc = ok(r.get("/v1/conversations/" + id + "/items", {alice}));
  BOOST_TEST(texts(desc) == (std::vector<std::string>{"four", "three", "two", "one"}));
  auto asc = ok(r.get("/v1/conversations/" + id + "/items?order=asc&limit=2", {alice}));
  BOOST_TEST(texts(asc) == (std::vector<std::string>{"one", "two"}));
  BOOST_TEST(asc["has_more"] == true);
  BOOST_TEST(all_texts(r, id, "asc", 1) ==
             (std::vector<std::string>{"one", "two", "three", "four"}));
  BOOST_TEST(all_texts(r, id, "desc", 3) ==
             (std::vector<std::string>{"four", "three", "two", "one"}));

  // One item; deleting it answers the conversation, and it is gone.
  auto item_id = three["id"].get<std::string>();
  BOOST_TEST(ok(r.get("/v1/conversations/" + id + "/items/" + item_id, {alice})) == three);
  BOOST_TEST(ok(r.del("/v1/conversations/" + id + "/items/" + item_id, {alice})) ==
             ok(r.get("/v1/conversations/" + id, {alice})));
  BOOST_TEST(texts(ok(r.get("/v1/conversations/" + id + "/items?order=asc", {alice}))) ==
             (std::vector<std::string>{"one", "two", "four"}));
  refused(r.get("/v1/conversations/" + id + "/items/" + item_id, {alice}), 404, nullptr, "item_id");
  refused(r.del("/v1/conversations/" + id + "/items/" + item_id, {alice}), 404, nullptr, "item_id");
  refused(r.get("/v1/conversations/" + id + "/items?after=" + item_id, {alice}), 404, nullptr,
          "after", "No item found with id '" + item_id + "'");

  // Metadata is replaced as a whole; null clears it.
  auto updated = ok(r.post("/v1/conversations/" + id, {{"metadata", {{"k", "v"}}}}, {alice}));
  BOOST_TEST(updated["metadata"] == json({{"k", "v"}}));
  BOOST_TEST(updated["created_at"] == conv["created_at"]);
  BOOST_TEST(ok(r.post("/v1/conversations/" + id, {{"metadata", nullptr}}, {alice}))["metadata"] ==
             json::object());

  // Deleted: gone everywhere, a second delete is a 404, its items stay
  // findable by reference.
  auto one_id =
      ok(r.get("/v1/conversations/" + id + "/items?order=asc&limit=1", {alice}))["first_id"]
          .get<std::string>();
  BOOST_TEST(ok(r.del("/v1/conversations/" + id, {alice})) ==
             json({{"id", id}, {"object", "conversation.deleted"}, {"deleted", true}}));
  auto gone = "Conversation with id '" + id + "' not found.";
  refused(r.get("/v1/conversations/" + id, {alice}), 404, nullptr, nullptr, gone);
  refused(r.del("/v1/conversations/" + id, {alice}), 404, nullptr, nullptr, gone);
  refused(r.get("/v1/conversations/" + id + "/items", {alice}), 404, nullptr, nullptr, gone);
  refused(
      r.post("/v1/conversations/" + id + "/items", {{"items", json::array({user("x")})}}, {alice}),
      404, nullptr, nullptr, gone);
  auto other = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  auto copied =
      ok(r.post("/v1/conversations/" + other + "/items",
                {{"items", json::array({{{"type", "item_reference"}, {"id", one_id}}})}}, {alice}));
  BOOST_TEST(copied["data"][0]["content"][0]["text"] == "one");
  BOOST_TEST(copied["data"][0]["id"] == one_id);
}

BOOST_AUTO_TEST_CASE(every_documented_error_is_the_apis) {
  scripted_backend b;
  riposte_server r{b.url(), keys};
  auto id = ok(r.post("/v1/conversations", {{"items", json::array({user("hi")})}}, {alice}))["id"]
                .get<std::string>();
  auto items = "/v1/conversations/" + id + "/items";

  json many = json::array();
  for (int i = 0; i < 21; ++i)
    many.push_back(user(std::to_string(i)));
  refused(r.post("/v1/conversations", {{"items", many}}, {alice}), 400, "array_above_max_length",
          "items",
          "Invalid 'items': array too long. Expected an array with maximum length 20, but got an "
          "array with length 21 instead.");
  refused(r.post(items, {{"items", many}}, {alice}), 400, "array_above_max_length", "items");
  json meta = json::object();
  for (int i = 0; i < 17; ++i)
    meta[std::to_string(i)] = "v";
  refused(r.post("/v1/conversations", {{"metadata", meta}}, {alice}), 400,
          "object_above_max_properties", "metadata",
          "Invalid 'metadata': too many properties. Expected an object with at most 16 "
          "properties, but got an object with 17 properties instead.");
  refused(r.post("/v1/conversations/" + id, {{"metadata", meta}}, {alice}), 400,
          "object_above_max_properties", "metadata");
  refused(r.post("/v1/conversations", {{"metadata", {{"k", std::string(513, 'x')}}}}, {alice}), 400,
          "invalid_value", "metadata.k");
  refused(r.post("/v1/conversations/" + id, json::object(), {alice}), 400,
          "missing_required_parameter", "metadata");
  refused(r.post(items, json::object(), {alice}), 400, "missing_required_parameter", "items");
  refused(r.post("/v1/conversations", {{"title", "x"}}, {alice}), 400, "unknown_parameter",
          "title");

  // Client ids: the type's prefix, or refused; an id already here is refused.
  auto wrong_id = user("x");
  wrong_id["id"] = "abc_1";
  refused(r.post(items, {{"items", json::array({user("ok"), wrong_id})}}, {alice}), 400,
          "invalid_value", "items[1].id",
          "Invalid 'items[1].id': 'abc_1'. Expected an ID that begins with 'msg'.");
  json call{{"type", "function_call"},
            {"id", "call_1"},
            {"call_id", "c1"},
            {"name", "f"},
            {"arguments", "{}"}};
  refused(r.post(items, {{"items", json::array({call})}}, {alice}), 400, "invalid_value",
          "items[0].id");
  auto mine = user("mine");
  mine["id"] = "msg_client_1";
  auto stored = ok(r.post(items, {{"items", json::array({mine})}}, {alice}));
  BOOST_TEST(stored["data"][0]["id"] == "msg_client_1");
  refused(r.post(items, {{"items", json::array({mine})}}, {alice}), 400,
          "item_already_in_conversation", "items", "Item already in conversation");
  // The same id twice in one request is added twice; one known elsewhere
  // brings the stored item, whatever the body says.
  auto twice = user("twice");
  twice["id"] = "msg_twice";
  auto other = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  auto pair = ok(r.post("/v1/conversations/" + other + "/items",
                        {{"items", json::array({twice, twice})}}, {alice}));
  BOOST_TEST(pair["data"].size() == 2u);
  auto changed = user("changed");
  changed["id"] = "msg_client_1";
  auto ref = ok(r.post("/v1/conversations/" + other + "/items", {{"items", json::array({changed})}},
                       {alice}));
  BOOST_TEST(ref["data"][0]["content"][0]["text"] == "mine");
  refused(r.post(items,
                 {{"items", json::array({{{"type", "item_reference"}, {"id", "msg_none"}}})}},
                 {alice}),
          404, nullptr, "items[0]");
  refused(r.post(items,
                 {{"items", json::array({{{"type", "reasoning"}, {"summary", json::array()}}})}},
                 {alice}),
          400, "invalid_value", "items[0]");
  refused(r.post(items, {{"items", json::array({{{"role", "robot"}, {"content", "x"}}})}}, {alice}),
          400, "invalid_value", "items[0].role");

  // List parameters.
  refused(r.get(items + "?limit=0", {alice}), 400, "invalid_value", "limit");
  refused(r.get(items + "?limit=101", {alice}), 400, "invalid_value", "limit");
  refused(r.get(items + "?order=up", {alice}), 400, "invalid_value", "order");
  refused(r.get(items + "?after=msg_nothing", {alice}), 404, nullptr, "after",
          "No item found with id 'msg_nothing'");
  refused(r.get(items + "?colour=red", {alice}), 400, "unknown_parameter", "colour");
  BOOST_TEST(r.get(items + "?include=message.output_text.logprobs&include[]=x", {alice}).status ==
             200);

  // Unknown, malformed and foreign conversations are one and the same 404.
  for (const auto& bad :
       {std::string{"conv_0123"}, std::string{"resp_123"}, std::string{"conv_%2e%2e"}}) {
    refused(r.get("/v1/conversations/" + bad, {alice}), 404, nullptr, nullptr);
    refused(r.get("/v1/conversations/" + bad + "/items", {alice}), 404, nullptr, nullptr);
  }
  auto foreign = "Conversation with id '" + id + "' not found.";
  refused(r.get("/v1/conversations/" + id, {bob}), 404, nullptr, nullptr, foreign);
  refused(r.post("/v1/conversations/" + id, {{"metadata", json::object()}}, {bob}), 404, nullptr,
          nullptr, foreign);
  refused(r.del("/v1/conversations/" + id, {bob}), 404, nullptr, nullptr, foreign);
  refused(r.get(items, {bob}), 404, nullptr, nullptr, foreign);
  refused(r.post(items, {{"items", json::array({user("x")})}}, {bob}), 404, nullptr, nullptr,
          foreign);
  // A reference to another tenant's item finds nothing.
  auto bobs = ok(r.post("/v1/conversations", json::object(), {bob}))["id"].get<std::string>();
  refused(r.post("/v1/conversations/" + bobs + "/items",
                 {{"items", json::array({{{"type", "item_reference"}, {"id", "msg_client_1"}}})}},
                 {bob}),
          404, nullptr, "items[0]");
  BOOST_TEST(ok(r.get(items, {alice}))["data"].size() == 2u);
}

// An idle conversation's actor goes, and the next operation rebuilds it from
// the log; a turn's lock keeps it until the turn ends.
BOOST_AUTO_TEST_CASE(an_idle_conversation_passivates_and_comes_back_from_its_log) {
  json slow = json::array();
  for (int i = 0; i < 6; ++i)
    slow.push_back({{"content", std::to_string(i) + " "}});
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "slow"}}}, {"reply", {{"chunks", slow}, {"delay_ms", 100}}}}}}}};
  auto flags = keys;
  flags.insert(flags.end(), {"--passivate-after-ms", "50"});
  riposte_server r{b.url(), flags};
  auto id = ok(r.post("/v1/conversations", {{"items", json::array({user("a")})}}, {alice}))["id"]
                .get<std::string>();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BOOST_TEST(texts(ok(r.get("/v1/conversations/" + id + "/items", {alice}))) ==
             (std::vector<std::string>{"a"}));
  // A slow turn outlives many passivation periods and still holds the lock.
  auto queued = ok(r.post(
      "/v1/responses",
      {{"model", "llama3.2:1b"}, {"input", "slow"}, {"conversation", id}, {"background", true}},
      {alice}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  refused(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "x"}, {"conversation", id}},
                 {alice}),
          400, "conversation_locked", "conversation");
  for (int i = 0; i < 100; ++i) {
    auto got = ok(r.get("/v1/responses/" + queued["id"].get<std::string>(), {alice}));
    if (got["status"] == "completed")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BOOST_TEST(ok(r.get("/v1/conversations/" + id + "/items", {alice}))["data"].size() == 3u);

  // Branching off that turn once everything was passivated: its context is
  // what the conversation held before it, and the turn; nothing added later.
  ok(r.post("/v1/conversations/" + id + "/items", {{"items", json::array({user("later")})}},
            {alice}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto branch = ok(r.post(
      "/v1/responses",
      {{"model", "llama3.2:1b"}, {"input", "branch"}, {"previous_response_id", queued["id"]}},
      {alice}));
  BOOST_TEST(branch["status"] == "completed");
  auto sent = b.requests().back()["messages"];
  std::vector<std::string> seen;
  for (const auto& m : sent)
    seen.push_back(m.value("content", ""));
  BOOST_TEST(seen == (std::vector<std::string>{"a", "slow", "0 1 2 3 4 5 ", "branch"}));
}

// Concurrent adds to one conversation all land, each batch whole and in one
// piece, in the order the conversation's actor took them.
BOOST_AUTO_TEST_CASE(concurrent_adds_to_one_conversation_all_land_whole) {
  scripted_backend b;
  riposte_server r{b.url(), keys};
  auto id = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  constexpr int writers = 8, batches = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      for (int i = 0; i < batches; ++i) {
        auto tag = std::to_string(w) + "." + std::to_string(i);
        auto res = r.post("/v1/conversations/" + id + "/items",
                          {{"items", json::array({user(tag + "a"), user(tag + "b")})}}, {alice});
        if (res.status != 200 && failures++ == 0)
          BOOST_TEST_MESSAGE("first failure: " << res.status << " " << res.body);
      }
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(failures.load() == 0);
  auto all = all_texts(r, id, "asc", 100);
  BOOST_REQUIRE(all.size() == static_cast<std::size_t>(writers * batches * 2));
  std::set<std::string> seen;
  for (std::size_t i = 0; i < all.size(); i += 2) {
    BOOST_TEST(all[i].back() == 'a');
    BOOST_TEST(all[i + 1] == all[i].substr(0, all[i].size() - 1) + "b");
    seen.insert(all[i]);
  }
  BOOST_TEST(seen.size() == static_cast<std::size_t>(writers * batches));
}

namespace {

const json weather_tool = {
    {"type", "function"},
    {"name", "get_weather"},
    {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}};

json turn(const std::string& conv, const json& input, json extra = json::object()) {
  json body{{"model", "llama3.2:1b"}, {"input", input}, {"conversation", conv}};
  body.update(extra);
  return body;
}

std::vector<std::string> roles_and_texts(const json& page) {
  std::vector<std::string> out;
  for (const auto& item : page["data"]) {
    auto text = item.contains("content") ? item["content"][0].value("text", "") : "";
    out.push_back(item.value("role", item.value("type", "")) + ":" + text);
  }
  return out;
}

json wait_terminal(riposte_server& r, const std::string& id) {
  for (int i = 0; i < 200; ++i) {
    auto got = ok(r.get("/v1/responses/" + id, {alice}));
    auto status = got["status"].get<std::string>();
    if (status != "queued" && status != "in_progress")
      return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  BOOST_FAIL("response " << id << " did not end");
  return {};
}

} // namespace

// A response with `conversation` reads the conversation before its input and
// appends its input, then its output, once it completes: blocking, streamed
// and in the background.
BOOST_AUTO_TEST_CASE(a_turn_reads_the_conversation_and_appends_input_then_output) {
  scripted_backend b;
  riposte_server r{b.url(), keys};
  auto conv =
      ok(r.post("/v1/conversations", {{"items", json::array({user("remember 7")})}}, {alice}))["id"]
          .get<std::string>();
  auto first = ok(r.post("/v1/responses", turn(conv, "hello"), {alice}));
  BOOST_TEST(first["conversation"] == json({{"id", conv}}));
  BOOST_TEST(first["status"] == "completed");
  auto sent = b.requests().back()["messages"];
  BOOST_REQUIRE(sent.size() >= 2u);
  BOOST_TEST(sent[sent.size() - 2]["content"] == "remember 7");
  BOOST_TEST(sent.back()["content"] == "hello");
  auto items = ok(r.get("/v1/conversations/" + conv + "/items?order=asc", {alice}));
  BOOST_TEST(roles_and_texts(items) ==
             (std::vector<std::string>{"user:remember 7", "user:hello", "assistant:Echo: hello"}));
  BOOST_TEST(items["data"][2]["id"] == first["output"][0]["id"]);
  BOOST_TEST(items["data"][1]["status"] == "completed");
  // The Response keeps its conversation; instructions never become items.
  BOOST_TEST(ok(r.get("/v1/responses/" + first["id"].get<std::string>(),
                      {alice}))["conversation"] == json({{"id", conv}}));

  // Streamed, with {id}: every lifecycle event names it, and the turn is
  // there by the time response.completed is read.
  auto body = turn(conv, "again", {{"stream", true}, {"instructions", "be brief"}});
  body["conversation"] = {{"id", conv}};
  std::size_t at_completed = 0;
  auto stream =
      sse_call("POST", r.url("/v1/responses"), body.dump(), -1,
               [&](const std::string& raw) {
                 if (at_completed == 0 && raw.find("response.completed") != std::string::npos) {
                   auto now = ok(r.get("/v1/conversations/" + conv + "/items", {alice}));
                   at_completed = now["data"].size();
                 }
               },
               {alice});
  BOOST_TEST(stream.status == 200);
  int lifecycle = 0;
  for (const auto& e : stream.events)
    if (e.contains("response")) {
      ++lifecycle;
      BOOST_TEST(e["response"]["conversation"] == json({{"id", conv}}), e.dump());
    }
  BOOST_TEST(lifecycle >= 3);
  BOOST_TEST(at_completed == 5u);
  auto sent2 = b.requests().back()["messages"];
  BOOST_TEST(sent2.front()["content"] == "be brief");
  BOOST_TEST(sent2.size() == 5u); // instructions, 3 items, the input

  // In the background: appended when it completes.
  auto queued = ok(r.post("/v1/responses", turn(conv, "later", {{"background", true}}), {alice}));
  BOOST_TEST(queued["conversation"] == json({{"id", conv}}));
  BOOST_TEST(wait_terminal(r, queued["id"].get<std::string>())["status"] == "completed");
  BOOST_TEST(ok(r.get("/v1/conversations/" + conv + "/items",
                      {alice}))["data"][0]["content"][0]["text"] == "Echo: later");

  // store: false still appends (as OpenAI does); the Response itself is
  // not kept.
  auto unstored = ok(r.post("/v1/responses", turn(conv, "quiet", {{"store", false}}), {alice}));
  BOOST_TEST(r.get("/v1/responses/" + unstored["id"].get<std::string>(), {alice}).status == 404);
  BOOST_TEST(ok(r.get("/v1/conversations/" + conv + "/items?limit=2",
                      {alice}))["data"][0]["content"][0]["text"] == "Echo: quiet");

  // A token count reads the conversation and changes nothing.
  auto with = ok(r.post("/v1/responses/input_tokens", turn(conv, "count"), {alice}));
  auto without = ok(r.post("/v1/responses/input_tokens",
                           {{"model", "llama3.2:1b"}, {"input", "count"}}, {alice}));
  BOOST_TEST(with["input_tokens"].get<int>() > without["input_tokens"].get<int>());
  BOOST_TEST(ok(r.get("/v1/conversations/" + conv + "/items?limit=100", {alice}))["data"].size() ==
             9u);

  // Chaining from a conversation's response with previous_response_id is
  // allowed and does not join the conversation.
  auto branch = ok(
      r.post("/v1/responses",
             {{"model", "llama3.2:1b"}, {"input", "branch"}, {"previous_response_id", first["id"]}},
             {alice}));
  BOOST_TEST(!branch.contains("conversation"));
  BOOST_TEST(ok(r.get("/v1/conversations/" + conv + "/items?limit=100", {alice}))["data"].size() ==
             9u);
}

// Function calls are appended, so the next turn's output finds its call.
BOOST_AUTO_TEST_CASE(a_tool_loop_over_a_conversation_finds_its_calls) {
  json tool_calls =
      json::array({{{"function", {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}}});
  scripted_backend b{{{"rules",
                       {{{"match", {{"contains", "weather"}}},
                         {"reply", {{"chunks", json::array({{{"tool_calls", tool_calls}}})}}}}}}}};
  riposte_server r{b.url(), keys};
  auto conv = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  auto first = ok(r.post("/v1/responses",
                         turn(conv, "weather in Paris?", {{"tools", {weather_tool}}}), {alice}));
  const auto& call = first["output"][0];
  BOOST_REQUIRE(call["type"] == "function_call");
  // An output whose call is nowhere is refused, naming the input.
  auto orphan = r.post("/v1/responses",
                       turn(conv, json::array({{{"type", "function_call_output"},
                                                {"call_id", "call_nope"},
                                                {"output", "x"}}})),
                       {alice});
  refused(orphan, 400, "invalid_value", "input[0].call_id");
  auto second = ok(r.post("/v1/responses",
                          turn(conv,
                               json::array({{{"type", "function_call_output"},
                                             {"call_id", call["call_id"]},
                                             {"output", "{\"temp\":18}"}}}),
                               {{"tools", {weather_tool}}}),
                          {alice}));
  BOOST_TEST(second["status"] == "completed");
  auto sent = b.requests().back()["messages"];
  BOOST_TEST(sent[sent.size() - 2]["tool_calls"][0]["function"]["name"] == "get_weather");
  BOOST_TEST(sent.back()["role"] == "tool");
  auto types = ok(r.get("/v1/conversations/" + conv + "/items?order=asc", {alice}));
  std::vector<std::string> seen;
  for (const auto& item : types["data"])
    seen.push_back(item["type"].get<std::string>());
  // (the scripted model calls the tool again: "weather" is still in its context)
  BOOST_REQUIRE(seen.size() == 4u);
  seen.pop_back();
  BOOST_TEST(seen ==
             (std::vector<std::string>{"message", "function_call", "function_call_output"}));
  BOOST_TEST(types["data"][3]["id"] == second["output"][0]["id"]);
}

// Concurrent creates on one conversation: each either runs its whole turn
// or is told conversation_locked; the conversation holds exactly the turns
// that ran, each whole.
BOOST_AUTO_TEST_CASE(concurrent_turns_on_one_conversation_run_one_at_a_time) {
  json chunks = json::array();
  for (int i = 0; i < 4; ++i)
    chunks.push_back({{"content", std::string(1, 'w') += std::to_string(i)}});
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "t"}}}, {"reply", {{"chunks", chunks}, {"delay_ms", 20}}}}}}}};
  riposte_server r{b.url(), keys};
  auto conv = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  std::atomic<int> ran{0}, locked{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        std::string tag(1, 't');
        tag += std::to_string(t);
        tag += '.';
        tag += std::to_string(i);
        auto res = r.post("/v1/responses", turn(conv, tag), {alice});
        if (res.status == 200)
          ++ran;
        else if (res.status == 400 && res.body.find("conversation_locked") != std::string::npos)
          ++locked;
        else
          ++other;
      }
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(other.load() == 0);
  BOOST_TEST(ran.load() >= 1);
  BOOST_TEST(locked.load() >= 1);
  auto items = all_texts(r, conv, "asc", 100);
  BOOST_REQUIRE(items.size() == static_cast<std::size_t>(2 * ran.load()));
  for (std::size_t i = 0; i < items.size(); i += 2) {
    BOOST_TEST(items[i].front() == 't');
    BOOST_TEST(items[i + 1] == "w0w1w2w3");
  }
}

// A long conversation (more batches than its chain keeps as segments) sends
// the backend every item in order, and a turn of it can be continued with
// previous_response_id.
BOOST_AUTO_TEST_CASE(a_long_conversation_keeps_every_item_in_order) {
  scripted_backend b;
  riposte_server r{b.url(), keys};
  auto conv = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  json last;
  for (int i = 0; i < 80; ++i)
    last = ok(r.post("/v1/responses", turn(conv, std::to_string(i)), {alice}));
  auto sent = b.requests().back()["messages"];
  BOOST_REQUIRE(sent.size() == 159u);
  for (int i = 0; i < 80; ++i)
    BOOST_TEST(sent[static_cast<std::size_t>(2 * i)]["content"] == std::to_string(i));
  auto child =
      ok(r.post("/v1/responses",
                {{"model", "llama3.2:1b"}, {"input", "next"}, {"previous_response_id", last["id"]}},
                {alice}));
  BOOST_TEST(child["status"] == "completed");
  BOOST_TEST(b.requests().back()["messages"].size() == 161u);
}

namespace {

std::size_t item_count(riposte_server& r, const std::string& conv) {
  std::size_t n = 0;
  std::string after;
  for (int guard = 0; guard < 100; ++guard) {
    auto page = ok(r.get("/v1/conversations/" + conv + "/items?order=asc&limit=100" +
                             (after.empty() ? "" : "&after=" + after),
                         {alice}));
    n += page["data"].size();
    if (!page["has_more"].get<bool>())
      return n;
    after = page["last_id"].get<std::string>();
  }
  return n;
}

} // namespace

// truncation and input_tokens over a conversation, as over a chain: "auto"
// leaves the oldest items out of what the model is sent (the conversation
// keeps them all), "disabled" is the 400 before the backend is called, and
// that refusal neither appends nor keeps the conversation locked.
BOOST_AUTO_TEST_CASE(truncation_over_a_conversation_drops_from_the_prompt_not_the_conversation) {
  scripted_backend b;
  riposte_server r{b.url(), [] {
                     auto args = keys;
                     args.insert(args.end(), {"--context-window", "llama3.2:1b=1500"});
                     return args;
                   }()};
  auto conv = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  int first_truncated = -1;
  constexpr int turns = 40;
  for (int t = 0; t < turns; ++t) {
    auto resp =
        ok(r.post("/v1/responses", turn(conv, words(t), {{"truncation", "auto"}}), {alice}));
    BOOST_REQUIRE(resp["status"] == "completed");
    if (resp.contains("truncation_details") && first_truncated < 0) {
      first_truncated = t;
      BOOST_TEST(resp["truncation_details"]["dropped_items"].get<int>() > 0);
    }
  }
  BOOST_TEST(first_truncated > 3);
  BOOST_TEST(first_truncated < turns - 5);
  auto last = b.requests().back()["messages"];
  BOOST_TEST(says(last, "user", "Turn 39:"));
  BOOST_TEST(!says(last, "user", "Turn 0:"));
  BOOST_TEST(item_count(r, conv) == static_cast<std::size_t>(2 * turns));
  auto counted = ok(r.post("/v1/responses/input_tokens",
                           {{"model", "llama3.2:1b"},
                            {"input", words(99)},
                            {"conversation", conv},
                            {"truncation", "auto"}},
                           {alice}));
  BOOST_TEST(counted["input_tokens"].get<int>() <= 1500);
  BOOST_TEST(counted["input_tokens"].get<int>() > 1000);

  b.clear_requests();
  auto refused = r.post("/v1/responses", turn(conv, words(98)), {alice});
  BOOST_TEST(refused.status == 400, refused.body);
  BOOST_TEST(json::parse(refused.body)["error"]["code"] == "context_length_exceeded");
  BOOST_TEST(b.requests().empty());
  BOOST_TEST(item_count(r, conv) == static_cast<std::size_t>(2 * turns));
  auto again =
      ok(r.post("/v1/responses", turn(conv, words(97), {{"truncation", "auto"}}), {alice}));
  BOOST_TEST(again["status"] == "completed");
  BOOST_TEST(item_count(r, conv) == static_cast<std::size_t>(2 * turns + 2));
}

// Automatic compaction in a conversation: the turn that compacts appends its
// compaction item with its output (as the API does: the item carries the
// context), the conversation keeps every earlier item, and later turns send
// the model the user's messages, the summary and what came after it, also
// when the conversation is read back from the log after a restart.
BOOST_AUTO_TEST_CASE(a_compacting_turn_appends_its_compaction_and_later_turns_use_it) {
  scripted_backend b{summarizing_script("SUMMARY: twelve turns of words.")};
  riposte_server r{b.url(), keys};
  auto conv = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  json cm = json::array({{{"type", "compaction"}, {"compact_threshold", 200}}});
  json compacted;
  int t = 0;
  for (; t < 12 && compacted.is_null(); ++t) {
    auto resp =
        ok(r.post("/v1/responses", turn(conv, words(t), {{"context_management", cm}}), {alice}));
    BOOST_REQUIRE(resp["status"] == "completed");
    if (resp["output"][0]["type"] == "compaction")
      compacted = resp;
  }
  BOOST_REQUIRE_MESSAGE(compacted.is_object(), "no turn was compacted");
  // The conversation holds every turn whole, the compaction between the
  // compacting turn's input and its answer.
  auto items = ok(r.get("/v1/conversations/" + conv + "/items?order=asc&limit=100", {alice}));
  BOOST_REQUIRE(items["data"].size() == static_cast<std::size_t>(2 * t + 1));
  const auto& tail = items["data"];
  auto n = tail.size();
  BOOST_TEST(tail[n - 3]["role"] == "user");
  BOOST_TEST(tail[n - 2]["type"] == "compaction");
  BOOST_TEST(tail[n - 2]["id"] == compacted["output"][0]["id"]);
  BOOST_TEST(tail[n - 2]["encrypted_content"].is_string());
  BOOST_TEST(tail[n - 1]["id"] == compacted["output"][1]["id"]);
  // The compaction's own item is found by reference too.
  ok(r.get("/v1/conversations/" + conv + "/items/" +
               compacted["output"][0]["id"].get<std::string>(),
           {alice}));

  json next_turn;
  auto check_next = [&](const std::string& text) {
    b.clear_requests();
    auto next = ok(r.post("/v1/responses", turn(conv, text), {alice}));
    BOOST_TEST(next["status"] == "completed");
    if (next_turn.is_null())
      next_turn = next;
    auto sent = b.requests().back()["messages"];
    BOOST_TEST(says(sent, "user", "SUMMARY: twelve turns of words."));
    BOOST_TEST(says(sent, "user", "Turn 0:")); // the user's messages stay
    int answers = 0;
    for (const auto& m : sent)
      answers += m.value("role", "") == "assistant" ? 1 : 0;
    return answers;
  };
  BOOST_TEST(check_next("one more") == 1); // only the compacted turn's answer
  r.restart();
  BOOST_TEST(check_next("after restart") == 2); // and the one just before
  // Branches from the compacting turn and from the turn after it, read back
  // from the log, see the summary too.
  for (const auto& from : {compacted["id"], next_turn["id"]}) {
    b.clear_requests();
    ok(r.post("/v1/responses",
              {{"model", "llama3.2:1b"}, {"input", "branch"}, {"previous_response_id", from}},
              {alice}));
    BOOST_TEST(says(b.requests().back()["messages"], "user", "SUMMARY: twelve turns of words."));
  }
}

// What the API refuses, and what a turn that does not complete leaves: nothing.
BOOST_AUTO_TEST_CASE(turns_are_refused_locked_and_never_half_appended) {
  json slow = json::array();
  for (int i = 0; i < 10; ++i)
    slow.push_back({{"content", std::to_string(i) + " "}});
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "slow"}}}, {"reply", {{"chunks", slow}, {"delay_ms", 100}}}},
         {{"match", {{"contains", "explode"}}}, {"reply", {{"status", 500}}}}}}}};
  riposte_server r{b.url(), keys};
  auto conv = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  auto items = "/v1/conversations/" + conv + "/items";
  auto first = ok(r.post("/v1/responses", turn(conv, "hi"), {alice}));

  refused(
      r.post("/v1/responses", turn(conv, "x", {{"previous_response_id", first["id"]}}), {alice}),
      400, "mutually_exclusive_parameters", nullptr,
      "Mutually exclusive parameters: Ensure you are only providing one of: "
      "'previous_response_id' or 'conversation'.");
  refused(r.post("/v1/responses", turn("conv_0000", "x"), {alice}), 404, nullptr, nullptr,
          "Conversation with id 'conv_0000' not found.");
  for (const char* bad : {"conv_ABC", "abc", "resp_1"}) {
    refused(r.post("/v1/responses", turn(bad, "x"), {alice}), 404, nullptr, nullptr,
            std::string{"Conversation with id '"} + bad + "' not found.");
    refused(r.post("/v1/responses/input_tokens", turn(bad, "x"), {alice}), 404, nullptr, nullptr);
  }
  refused(r.post("/v1/responses", turn("", "x"), {alice}), 400, "invalid_value", "conversation");
  refused(r.post("/v1/conversations?colour=red", json::object(), {alice}), 400, "unknown_parameter",
          "colour");
  refused(r.post("/v1/responses", turn(conv, "x"), {bob}), 404, nullptr, nullptr,
          "Conversation with id '" + conv + "' not found.");
  refused(r.post("/v1/responses", turn(conv, "x", {{"conversation", {{"name", "x"}}}}), {alice}),
          400, "missing_required_parameter", "conversation.id");
  refused(r.post("/v1/responses", turn(conv, "x", {{"conversation", 7}}), {alice}), 400,
          "invalid_type", "conversation");
  // No new input is fine: the conversation is the context.
  auto bare =
      ok(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"conversation", conv}}, {alice}));
  BOOST_TEST(bare["status"] == "completed");
  auto count = ok(r.get(items + "?limit=100", {alice}))["data"].size();

  // A failed turn appends nothing and unlocks.
  auto failed = r.post("/v1/responses", turn(conv, "explode"), {alice});
  BOOST_TEST(failed.status >= 500, failed.body);
  BOOST_TEST(ok(r.get(items + "?limit=100", {alice}))["data"].size() == count);

  // One turn at a time: a second one while the first runs is locked out.
  auto queued = ok(r.post("/v1/responses", turn(conv, "slow", {{"background", true}}), {alice}));
  auto locked = r.post("/v1/responses", turn(conv, "meanwhile"), {alice});
  refused(locked, 400, "conversation_locked", "conversation",
          "Another process is currently operating on this conversation. Please retry in a few "
          "seconds.");
  // Items may still be added meanwhile.
  ok(r.post(items, {{"items", json::array({user("aside")})}}, {alice}));
  // Cancelled: nothing appended, and the lock is gone.
  ok(r.post("/v1/responses/" + queued["id"].get<std::string>() + "/cancel", json::object(),
            {alice}));
  BOOST_TEST(wait_terminal(r, queued["id"].get<std::string>())["status"] == "cancelled");
  BOOST_TEST(ok(r.get(items + "?limit=100", {alice}))["data"].size() == count + 1);
  auto after = ok(r.post("/v1/responses", turn(conv, "after"), {alice}));
  BOOST_TEST(after["status"] == "completed");
  BOOST_TEST(ok(r.get(items + "?limit=100", {alice}))["data"].size() == count + 3);
  // A deleted conversation takes no more turns.
  ok(r.del("/v1/conversations/" + conv, {alice}));
  refused(r.post("/v1/responses", turn(conv, "x"), {alice}), 404, nullptr, nullptr);

  auto metrics = r.get("/metrics").body;
  for (const char* line : {"riposte_conversation_turns_total{result=\"appended\"} 3",
                           "riposte_conversation_turns_total{result=\"released\"} 2",
                           "riposte_conversation_turns_total{result=\"locked\"} 1",
                           "riposte_conversation_events_total{type=\"conversation_deleted\"} 1"})
    BOOST_TEST(metrics.find(line) != std::string::npos, line);
}

// A conversation's events: GET .../events (tenant-scoped, paged by seq),
// the audit feed, and `riposte replay` beside the running server.
BOOST_AUTO_TEST_CASE(a_conversations_events_are_served_audited_and_replayed) {
  scripted_backend b;
  riposte_server r{
      b.url(), {"--api-key", "k-alice:alice", "--api-key", "k-bob:bob", "--admin-key", "k-admin"}};
  auto conv = ok(r.post("/v1/conversations", {{"items", json::array({user("a")})}}, {alice}))["id"]
                  .get<std::string>();
  ok(r.post("/v1/responses", turn(conv, "b"), {alice}));
  ok(r.post("/v1/conversations/" + conv, {{"metadata", {{"k", "v"}}}}, {alice}));
  auto events = ok(r.get("/v1/conversations/" + conv + "/events", {alice}));
  std::vector<std::string> types;
  for (const auto& e : events["data"])
    types.push_back(e["type"].get<std::string>());
  BOOST_TEST(types ==
             (std::vector<std::string>{"conversation_created", "conversation_items_added",
                                       "conversation_items_added", "conversation_updated"}));
  BOOST_TEST(events["data"][2]["data"]["response_id"].get<std::string>().rfind("resp_", 0) == 0u);
  auto page = ok(r.get("/v1/conversations/" + conv + "/events?after=1&limit=1", {alice}));
  BOOST_TEST(page["data"][0]["seq"] == 2);
  BOOST_TEST(page["has_more"] == true);
  refused(r.get("/v1/conversations/" + conv + "/events", {bob}), 404, nullptr, nullptr);
  auto audit = ok(r.get("/v1/audit/events?limit=1000", {"Authorization: Bearer k-admin"}));
  int in_feed = 0;
  for (const auto& e : audit["data"])
    in_feed += e["stream"] == conv ? 1 : 0;
  BOOST_TEST(in_feed == 4);

  auto out = r.tool({"replay", conv});
  BOOST_TEST(std::count(out.begin(), out.end(), '\n') == 5);
  auto last = json::parse(out.substr(out.rfind('\n', out.size() - 2) + 1));
  BOOST_TEST(last["id"] == conv);
  BOOST_TEST(last["metadata"] == json({{"k", "v"}}));
  BOOST_TEST(last["items"].size() == 3u);
}

namespace {

void survives_a_restart(const std::string& store) {
  scripted_backend b;
  riposte_server r{b.url(), keys, store};
  auto id = ok(r.post("/v1/conversations",
                      {{"metadata", {{"k", "v"}}}, {"items", json::array({user("a"), user("b")})}},
                      {alice}))["id"]
                .get<std::string>();
  ok(r.post("/v1/conversations/" + id + "/items", {{"items", json::array({user("c")})}}, {alice}));
  // Past a snapshot (one per 32 events): the restart reads it, then the rest.
  for (int i = 0; i < 40; ++i) {
    std::string text = "n";
    text += std::to_string(i);
    ok(r.post("/v1/conversations/" + id + "/items", {{"items", json::array({user(text)})}},
              {alice}));
  }
  auto b_id = ok(r.get("/v1/conversations/" + id + "/items?order=asc", {alice}))["data"][1]["id"]
                  .get<std::string>();
  ok(r.del("/v1/conversations/" + id + "/items/" + b_id, {alice}));
  auto before = ok(r.get("/v1/conversations/" + id + "/items", {alice}));
  auto gone = ok(r.post("/v1/conversations", json::object(), {alice}))["id"].get<std::string>();
  ok(r.del("/v1/conversations/" + gone, {alice}));
  r.restart();
  BOOST_TEST(ok(r.get("/v1/conversations/" + id, {alice}))["metadata"] == json({{"k", "v"}}));
  BOOST_TEST(ok(r.get("/v1/conversations/" + id + "/items", {alice})) == before);
  BOOST_TEST(texts(before).size() == 20u);
  BOOST_TEST(all_texts(r, id, "asc", 50).size() == 42u);
  refused(r.get("/v1/conversations/" + gone, {alice}), 404, nullptr, nullptr);
  // And it goes on from where it was.
  ok(r.post("/v1/conversations/" + id + "/items", {{"items", json::array({user("d")})}}, {alice}));
  auto after = all_texts(r, id, "asc", 7);
  BOOST_REQUIRE(after.size() == 43u);
  BOOST_TEST((std::vector<std::string>(after.begin(), after.begin() + 3)) ==
             (std::vector<std::string>{"a", "c", "n0"}));
  BOOST_TEST(after[41] == "n39");
  BOOST_TEST(after[42] == "d");
}

} // namespace

BOOST_AUTO_TEST_CASE(a_conversation_survives_a_restart_on_rocksdb) {
  survives_a_restart({});
}

BOOST_AUTO_TEST_CASE(a_conversation_survives_a_restart_on_postgres) {
  own_postgres pg;
  survives_a_restart(pg.url());
}

BOOST_AUTO_TEST_SUITE_END()
