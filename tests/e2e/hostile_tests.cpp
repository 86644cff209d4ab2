// End to end: hostile clients. Bytes that are not text at the edge, data URLs
// that are not what they say, JSON nested to blow a stack, bodies, URLs and
// headers past their caps, slow and idle connections, a full descriptor
// table, races on quotas and idempotency keys, pipelining, stuck downloads,
// nulls where objects go, names that would break a header, and floods of
// unknown ids. After every hostile request riposte must still be running and
// serve a normal create, and the request itself must have had an OpenAI error.
#include "tests/support/basics.hpp"
#include "tests/support/forms.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <optional>
#include <random>
#include <set>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;
using namespace std::chrono_literals;

namespace {

#if defined(RIPOSTE_SANITIZED_BUILD)
constexpr bool sanitized = true; // riposte built with ASan (this suite is not)
#else
constexpr bool sanitized = false;
#endif

// A 4xx (or whatever `status` says) with the OpenAI error shape
// {"error": {"message", "type", "param", "code"}}; `code` and `param` are
// checked when given.
json expect_error(const std::string& what, long got_status, const std::string& body, long status,
                  const std::optional<std::string>& code = std::nullopt,
                  const std::optional<json>& param = std::nullopt) {
  BOOST_TEST(got_status == status, what << ": status " << got_status << ", body " << body);
  auto j = json::parse(body, nullptr, false);
  bool shaped = j.is_object() && j.contains("error") && j["error"].is_object();
  BOOST_TEST(shaped, what << ": not an OpenAI error body: " << body.substr(0, 300));
  if (!shaped)
    return json();
  const auto& e = j["error"];
  for (const char* key : {"message", "type", "param", "code"})
    BOOST_TEST(e.contains(key), what << ": the error has no '" << key << "': " << body);
  BOOST_TEST(e.value("message", json()).is_string(), what << ": " << body);
  BOOST_TEST(e.value("type", json()).is_string(), what << ": " << body);
  if (status >= 400 && status < 500 && status != 401 && status != 403)
    BOOST_TEST(e.value("type", json()) == "invalid_request_error", what << ": " << body);
  if (code)
    BOOST_TEST(e.value("code", json()) == *code, what << ": " << body);
  if (param)
    BOOST_TEST(e.value("param", json()) == *param, what << ": " << body);
  return e;
}

json expect_error(const std::string& what, const http_result& res, long status,
                  const std::optional<std::string>& code = std::nullopt,
                  const std::optional<json>& param = std::nullopt) {
  return expect_error(what, res.status, res.body, status, code, param);
}

// Riposte is still running and a normal create succeeds.
void still_serving(riposte_server& r, const std::string& after,
                   const std::vector<std::string>& headers = {}) {
  BOOST_REQUIRE_MESSAGE(process_alive(r.process().pid()),
                        "riposte died after " << after << ":\n"
                                              << r.process().output().substr(0, 4000));
  auto res = r.post("/v1/responses", hi, headers);
  BOOST_TEST(res.status == 200,
             "a create after " << after << ": " << res.status << " " << res.body);
}

// Whether nothing that looks like an HTTP reply came back.
bool no_reply(const raw_connection& c) {
  return c.received().find("HTTP/1.") == std::string::npos;
}

int depth_of(const json& j) {
  int deepest = 0;
  if (j.is_object() || j.is_array())
    for (const auto& v : j)
      deepest = std::max(deepest, depth_of(v));
  return (j.is_object() || j.is_array()) ? deepest + 1 : 0;
}

std::string random_hex(std::mt19937_64& rng, int n) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < n; ++i)
    out.push_back(hex[rng() & 15u]);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hostile)

BOOST_AUTO_TEST_CASE(
    bytes_that_are_not_utf8_text_in_paths_queries_or_headers_are_a_400_naming_them) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto made = r.post("/v1/responses", hi);
  BOOST_REQUIRE_EQUAL(made.status, 200);
  auto id = json::parse(made.body)["id"].get<std::string>();

  struct bad {
    std::string method, target;
    std::vector<std::string> headers;
    std::string param;
  };
  const std::string body = hi.dump();
  const std::string ct = "Content-Type: application/json";
  std::vector<bad> cases{
      {"GET", "/v1/files/%ff", {}, "id"},
      {"GET", "/v1/files/file-%01x", {}, "id"}, // a control character
      {"GET", "/v1/prompts/%ff", {}, "id"},
      {"GET", "/v1/prompts/pmpt_x?version=%ff", {}, "version"},
      {"GET", "/v1/files?after=%ff", {}, "after"},
      {"GET", "/v1/files?after=a%0Ab", {}, "after"},
      {"GET", "/v1/responses/resp_%ff", {}, "id"},
      {"GET", "/v1/models/%ff", {}, "id"},
      {"GET", "/v1/responses/resp_abc/input_items?after=%ff", {}, "after"},
      {"GET", "/v1/files?order=%ff", {}, "order"},
      {"GET", "/v1/responses/" + id + "?stream=%c0%80", {}, "stream"}, // overlong NUL
      {"POST", "/v1/responses", {ct, "Idempotency-Key: k\xff"}, "Idempotency-Key"},
      {"POST", "/v1/responses", {ct, "Authorization: Bearer \xff"}, "Authorization"},
      {"POST", "/v1/responses", {"Content-Type: application/json\xff"}, "Content-Type"},
  };
  for (const auto& c : cases) {
    auto what = c.method + " " + c.target + (c.headers.empty() ? "" : " + " + c.headers.back());
    auto res = http_call(c.method, r.url(c.target), c.method == "POST" ? body : "", c.headers);
    expect_error(what, res, 400, "invalid_value", json(c.param));
    still_serving(r, what);
  }
  // This one used to kill the registry: what it holds is still served.
  auto again = r.get("/v1/responses/" + id);
  BOOST_TEST(again.status == 200, again.body);
  BOOST_TEST(json::parse(again.body)["id"] == id);
  BOOST_TEST(r.get("/v1/responses/resp_%ff").status == 400);
  BOOST_TEST(r.get("/v1/responses/" + id).status == 200);
  still_serving(r, "GET /v1/responses/resp_%ff twice");
  // Nothing was created by the refused creates: 1 + the creates of still_serving.
  auto feed = json::parse(r.get("/v1/audit/events?limit=1000").body);
  int created = 0;
  for (const auto& e : feed["data"])
    created += e["type"] == "response_created";
  BOOST_TEST(created == 1 + static_cast<int>(cases.size()) + 1);
}

// RESTinio's HTTP parser refuses control characters in a header value
// before any route runs: like a header over the caps, the request loses its
// connection without a reply (documented in the README); nothing else does.
BOOST_AUTO_TEST_CASE(a_control_character_in_a_header_value_loses_only_its_connection) {
  scripted_backend b;
  riposte_server r{b.url()};
  for (const std::string value : {"k\x01z", "k\x7fz", "k\x1bz"}) {
    raw_connection c{r.port()};
    c.send(request_bytes("POST", "/v1/responses", hi.dump(),
                         {"Content-Type: application/json", "Idempotency-Key: " + value}));
    auto res = c.read_response(3s);
    if (res)
      expect_error("a control character in Idempotency-Key", res->status, res->body, 400,
                   "invalid_value", json("Idempotency-Key"));
    else
      BOOST_TEST(c.closed(),
                 "neither a reply nor a closed connection; got '" << c.received() << "'");
    still_serving(r, "a control character in a header");
  }
}

BOOST_AUTO_TEST_CASE(an_upload_whose_filename_or_purpose_is_not_utf8_is_a_400_and_stores_nothing) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto bad_name = upload(r, form({{"file", "abc", "\xff.txt"}, {"purpose", "user_data", ""}}));
  auto e = expect_error("filename \\xff.txt", bad_name, 400);
  BOOST_TEST((e.value("param", json()) == "file" || e.value("param", json()).is_null()),
             bad_name.body);
  still_serving(r, "an upload named \\xff.txt");
  auto bad_purpose = upload(r, form({{"file", "abc", "a.txt"}, {"purpose", "\xff", ""}}));
  expect_error("purpose \\xff", bad_purpose, 400, "invalid_value", json("purpose"));
  still_serving(r, "an upload with purpose \\xff");
  auto listed = r.get("/v1/files");
  BOOST_TEST(listed.status == 200);
  BOOST_TEST(json::parse(listed.body)["data"].empty(), listed.body);
  // The same form with clean bytes is stored.
  BOOST_TEST(upload(r, form({{"file", "abc", "a.txt"}, {"purpose", "user_data", ""}})).status ==
             200);
}

BOOST_AUTO_TEST_CASE(
    data_urls_that_are_not_base64_text_are_a_400_and_a_good_one_reaches_the_model) {
  scripted_backend b;
  riposte_server r{b.url()};
  auto ask = [&](const std::string& data) {
    return r.post("/v1/responses",
                  {{"model", "llama3.2:1b"},
                   {"input",
                    {{{"role", "user"},
                      {"content",
                       {{{"type", "input_text"}, {"text", "read this"}},
                        {{"type", "input_file"}, {"filename", "a.txt"}, {"file_data", data}}}}}}}});
  };
  for (const std::string data : {
           "data:,QUJD",                      // not base64, no type
           "data:text/plain;base64,wIA=",     // C0 80: an overlong NUL
           "data:text/plain;base64,7aCA",     // ED A0 80: a lone surrogate
           "data:text/plain;base64",          // no comma
           "data:text/plain;base64,%%%%",     // not base64
           "data:text/plain;base64,AAECAw==", // control bytes: not text
       }) {
    auto res = ask(data);
    auto e = expect_error("file_data " + data, res, 400);
    BOOST_TEST(e.value("param", json()).is_string(), res.body);
    if (e.value("param", json()).is_string())
      BOOST_TEST(e["param"].get<std::string>().rfind("input[0].content[1]", 0) == 0u, res.body);
    still_serving(r, "file_data " + data);
  }
  auto good = ask("data:text/plain;base64,aGVsbG8=");
  BOOST_TEST(good.status == 200, good.body);
  bool seen = false;
  for (const auto& req : b.requests())
    for (const auto& m : req["messages"])
      seen = seen || (m["content"].is_string() &&
                      m["content"].get<std::string>().find("<file name=\"a.txt\">\nhello") !=
                          std::string::npos);
  BOOST_TEST(seen);
}

BOOST_AUTO_TEST_CASE(json_nested_past_the_depth_limit_anywhere_is_a_400_invalid_json) {
  scripted_backend b;
  riposte_server r{b.url()};
  const std::string deep_array = std::string(100'000, '[') + std::string(100'000, ']');
  std::string deep_object;
  for (int i = 0; i < 5'000; ++i)
    deep_object += "{\"a\":";
  deep_object += "{}" + std::string(5'000, '}');
  const std::string head = R"({"model":"llama3.2:1b",)";
  std::vector<std::pair<std::string, std::string>> bodies{
      {"text.x", head + R"("input":"hi","text":{"x":)" + deep_array + "}}"},
      {"reasoning.x", head + R"("input":"hi","reasoning":{"x":)" + deep_array + "}}"},
      {"input[0].x", head + R"("input":[{"role":"user","content":"hi","x":)" + deep_array + "}]}"},
      {"function_call_output.output",
       head + R"("input":[{"type":"function_call_output","call_id":"call_1","output":)" +
           deep_array + "}]}"},
      {"text.format.schema",
       head + R"("input":"hi","text":{"format":{"type":"json_schema","name":"s","schema":)" +
           deep_object + "}}}"},
      {"tools[0].parameters",
       head + R"("input":"hi","tools":[{"type":"function","name":"f","parameters":)" + deep_object +
           "}]}"},
  };
  for (const auto& [where, text] : bodies) {
    auto res = http_call("POST", r.url("/v1/responses"), text, {"Content-Type: application/json"});
    auto e = expect_error("deep " + where, res, 400, "invalid_json");
    BOOST_TEST(e.value("message", std::string{}).find("nest") != std::string::npos, res.body);
    still_serving(r, "a deep " + where);
  }

  // 50 levels of schema (53 in the body, under the default 64): judged as a
  // schema, and the model's answer that fits it is accepted.
  json schema{{"type", "array"}, {"items", {{"type", "string"}}}};
  json answer = json::array({"x"});
  for (int i = 0; i < 24; ++i) {
    schema = {{"type", "object"}, {"properties", {{"a", schema}}}, {"required", {"a"}}};
    answer = {{"a", answer}};
  }
  BOOST_REQUIRE_EQUAL(depth_of(schema), 50);
  b.set_script({{"rules",
                 {{{"match", {{"contains", "deep schema"}}},
                   {"reply", {{"chunks", {{{"content", answer.dump()}}}}}}}}}});
  auto fifty = r.post(
      "/v1/responses",
      {{"model", "llama3.2:1b"},
       {"input", "deep schema"},
       {"text", {{"format", {{"type", "json_schema"}, {"name", "deep"}, {"schema", schema}}}}}});
  BOOST_TEST_MESSAGE("a 50-deep schema: " << fifty.status << " " << fifty.body.substr(0, 200));
  BOOST_TEST((fifty.status == 200 || fifty.status == 400), fifty.status << " " << fifty.body);
  if (fifty.status == 400)
    expect_error("a 50-deep schema", fifty, 400);
  if (fifty.status == 400)
    BOOST_TEST(json::parse(fifty.body)["error"]["code"] != "invalid_json", fifty.body);
  still_serving(r, "a 50-deep schema");
}

BOOST_AUTO_TEST_CASE(max_json_depth_is_configurable_and_counts_every_level_of_the_body) {
  scripted_backend b;
  riposte_server r{b.url(), {"--max-json-depth", "16"}};
  // A create whose body nests exactly `depth` levels (even, > 4): a function
  // tool whose parameters nest object schemas.
  auto body_of_depth = [](int depth) {
    json schema{{"type", "string"}};
    for (int d = depth; d > 4; d -= 2)
      schema = {{"type", "object"}, {"properties", {{"a", schema}}}};
    return json{{"model", "llama3.2:1b"},
                {"input", "hi"},
                {"tools", {{{"type", "function"}, {"name", "f"}, {"parameters", schema}}}}};
  };
  for (int depth : {10, 16}) {
    auto body = body_of_depth(depth);
    BOOST_REQUIRE_EQUAL(depth_of(body), depth);
    auto res = r.post("/v1/responses", body);
    BOOST_TEST(res.status == 200, "depth " << depth << ": " << res.body);
  }
  for (int depth : {18, 20}) {
    auto body = body_of_depth(depth);
    BOOST_REQUIRE_EQUAL(depth_of(body), depth);
    auto res = r.post("/v1/responses", body);
    auto e = expect_error("depth " + std::to_string(depth), res, 400, "invalid_json");
    BOOST_TEST(e.value("message", std::string{}).find("16") != std::string::npos, res.body);
    still_serving(r, "depth " + std::to_string(depth));
  }
}

BOOST_AUTO_TEST_CASE(
    bodies_past_the_route_limit_get_413_and_past_the_server_cap_lose_the_connection) {
  scripted_backend b;
  riposte_server r{b.url(), {"--max-body-bytes", "65536", "--max-upload-bytes", "1048576"}};
  // Content-Length over the cap (1 MiB + 64 KiB): closed unread, no reply.
  {
    raw_connection c{r.port()};
    BOOST_TEST(c.send("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      "application/json\r\nContent-Length: 8388608\r\n\r\n"));
    BOOST_TEST(c.wait_closed(3s), "still open; got: " << c.received());
    BOOST_TEST(no_reply(c), c.received());
    still_serving(r, "an 8 MiB Content-Length");
  }
  // Over the route's 64 KiB, under the cap: an answer.
  {
    json big{{"model", "llama3.2:1b"}, {"input", std::string(200 * 1024, 'x')}};
    auto res = r.post("/v1/responses", big);
    expect_error("a 200 KiB create", res, 413, "request_too_large");
    still_serving(r, "a 200 KiB create");
  }
  // Chunked, 2 MiB in all: closed without a reply.
  {
    raw_connection c{r.port()};
    c.send("POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
           "application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    std::string piece(64 * 1024, 'z');
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
    for (int i = 0; i < 32 && c.send(size_line + piece + "\r\n"); ++i) {
    }
    c.send("0\r\n\r\n");
    BOOST_TEST(c.wait_closed(5s), "still open; got: " << c.received().substr(0, 300));
    BOOST_TEST(no_reply(c), c.received().substr(0, 300));
    still_serving(r, "a 2 MiB chunked body");
  }
  // Chunked, 10 KiB: served as usual.
  {
    auto text = json{{"model", "llama3.2:1b"}, {"input", std::string(10 * 1024, 'y')}}.dump();
    raw_connection c{r.port()};
    std::string wire = "POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                       "application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (std::size_t at = 0; at < text.size(); at += 1000) {
      auto part = text.substr(at, 1000);
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", part.size());
      wire += size_line + part + "\r\n";
    }
    BOOST_TEST(c.send(wire + "0\r\n\r\n"));
    auto res = c.read_response(10s);
    BOOST_REQUIRE_MESSAGE(res.has_value(), "no reply to a 10 KiB chunked create: " << c.received());
    BOOST_TEST(res->status == 200, res->body);
    BOOST_TEST(json::parse(res->body, nullptr, false).value("object", "") == "response", res->body);
  }
}

BOOST_AUTO_TEST_CASE(long_urls_too_many_headers_and_slow_requests_lose_their_connection) {
  scripted_backend b;
  riposte_server r{b.url(),
                   {"--max-url-bytes", "1024", "--max-headers", "20", "--read-timeout-ms", "1000"}};
  // Under the caps: answered.
  {
    raw_connection c{r.port()};
    c.send(request_bytes("GET", "/healthz?pad=" + std::string(900, 'a')));
    auto res = c.read_response(5s);
    BOOST_TEST((res && res->status == 200), c.received().substr(0, 300));
    std::vector<std::string> headers;
    for (int i = 0; i < 15; ++i)
      headers.push_back("X-Filler-" + std::to_string(i) + ": v");
    c.send(request_bytes("GET", "/healthz", "", headers));
    res = c.read_response(5s);
    BOOST_TEST((res && res->status == 200), c.received().substr(0, 300));
  }
  {
    raw_connection c{r.port()};
    c.send(request_bytes("GET", "/v1/files?after=" + std::string(4096, 'a')));
    BOOST_TEST(c.wait_closed(3s), "a 4 KiB URL: still open");
    BOOST_TEST(no_reply(c), c.received().substr(0, 300));
    still_serving(r, "a 4 KiB URL");
  }
  {
    std::vector<std::string> headers;
    for (int i = 0; i < 40; ++i)
      headers.push_back("X-Filler-" + std::to_string(i) + ": v");
    raw_connection c{r.port()};
    c.send(request_bytes("GET", "/healthz", "", headers));
    BOOST_TEST(c.wait_closed(3s), "40 headers: still open");
    BOOST_TEST(no_reply(c), c.received().substr(0, 300));
    still_serving(r, "40 headers");
  }
  // Slowloris: a header byte every 300 ms; others are served meanwhile.
  {
    raw_connection c{r.port()};
    auto start = clock_type::now();
    c.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    int served = 0, asked = 0;
    while (ms_since(start) < 6000) {
      if (!c.send("a") || c.wait_closed(300ms))
        break;
      ++asked;
      served += r.get("/healthz").status == 200;
    }
    auto took = ms_since(start);
    BOOST_TEST(c.wait_closed(0ms), "a slow client still connected after " << took << " ms");
    BOOST_TEST(took <= 2500, "the slow client was disconnected after " << took << " ms");
    BOOST_TEST(served == asked);
    BOOST_TEST(asked >= 2);
    still_serving(r, "a slow client");
  }
}

BOOST_AUTO_TEST_CASE(under_a_descriptor_limit_idle_connections_give_way_to_waiting_ones) {
  scripted_backend b;
  riposte_server r{b.url(), {}, {}, {"/usr/bin/prlimit", "--nofile=200:200"}};
  // 200 descriptors: max(64, 200/4) kept back, 136 for clients.
  auto out = r.process().output();
  auto warn = out.find("--max-connections lowered");
  BOOST_TEST(warn != std::string::npos, out.substr(0, 2000));
  if (warn != std::string::npos) {
    auto line = out.substr(out.rfind('\n', warn) + 1);
    line = line.substr(0, line.find('\n'));
    BOOST_TEST(json::parse(line, nullptr, false).value("max_connections", 0) == 136, line);
  }
  // 300 connections that never send a byte: 136 take every slot, the rest
  // wait in the backlog behind them.
  std::vector<std::unique_ptr<raw_connection>> idle;
  for (int i = 0; i < 300; ++i)
    idle.push_back(std::make_unique<raw_connection>(r.port()));
  std::this_thread::sleep_for(300ms);
  BOOST_REQUIRE(process_alive(r.process().pid()));
  raw_connection late{r.port()};
  auto start = clock_type::now();
  late.send(request_bytes("GET", "/healthz"));
  // Not at once: a connection is closed only after a second of idleness...
  auto early = late.read_response(500ms);
  BOOST_TEST(!early.has_value(),
             "answered at once with 300 idle connections open: " << late.received().substr(0, 200));
  // ...but the idle ones give way, the longest idle first, and the late one
  // is served while the client still holds all 300 open.
  auto res = early ? early : late.read_response(8s);
  BOOST_TEST((res && res->status == 200), "no answer while idle connections held every slot");
  BOOST_TEST_MESSAGE("answered after " << ms_since(start) << " ms");
  int closed = 0;
  for (auto& c : idle)
    closed += c->wait_closed(5ms) ? 1 : 0;
  BOOST_TEST(closed >= 136, closed << " of the 300 idle connections were closed");
  idle.clear();
  still_serving(r, "300 idle connections");
  BOOST_TEST(r.get("/v1/files").status == 200);
  BOOST_TEST(series(r.get("/metrics").body, "riposte_http_idle_connections_closed_total") >= 136.0);
}

BOOST_AUTO_TEST_CASE(at_the_connection_limit_only_the_longest_idle_connection_gives_way) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "slow"}}},
          {"reply", {{"chunks", {{{"content", "late"}}}}, {"first_delay_ms", 4000}}}}}}}};
  riposte_server r{b.url(), {"--max-connections", "4"}};
  auto ask = [](raw_connection& c, const std::string& what) {
    c.send(request_bytes("GET", "/healthz"));
    auto res = c.read_response(5s);
    BOOST_REQUIRE_MESSAGE(res && res->status == 200, what << ": " << c.received());
  };
  // The oldest idle: a keep-alive connection after its request.
  raw_connection oldest{r.port()};
  ask(oldest, "the oldest");
  std::this_thread::sleep_for(300ms);
  // Busy: a blocking create the backend answers in 4 s.
  raw_connection busy{r.port()};
  busy.send(request_bytes("POST", "/v1/responses",
                          json{{"model", "llama3.2:1b"}, {"input", "slow please"}}.dump(),
                          {"Content-Type: application/json"}));
  // Busy: half a request's headers, arriving slowly.
  raw_connection partial{r.port()};
  partial.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  // Idle, but for less time than the oldest.
  raw_connection newer{r.port()};
  ask(newer, "the newer");
  std::this_thread::sleep_for(1200ms);

  raw_connection waiting{r.port()};
  auto start = clock_type::now();
  ask(waiting, "the waiting one");
  auto took = ms_since(start);
  BOOST_TEST(took < 1500, "the waiting connection was answered after " << took << " ms");
  BOOST_TEST(oldest.wait_closed(1s), "the longest idle connection is still open");
  // One waited, one gave way: the others are untouched.
  BOOST_TEST(!newer.wait_closed(300ms), "the newer idle connection was closed too");
  BOOST_TEST(!partial.wait_closed(5ms), "a connection half way through a request was closed");
  BOOST_TEST(!busy.wait_closed(5ms), "a connection waiting for its create was closed");
  auto created = busy.read_response(8s);
  BOOST_REQUIRE_MESSAGE(created, "the slow create was not answered: " << busy.received());
  BOOST_TEST(created->status == 200);
  BOOST_TEST(json::parse(created->body).value("status", "") == "completed", created->body);
  partial.send("\r\n");
  auto finished = partial.read_response(5s);
  BOOST_TEST((finished && finished->status == 200), "the slow request was not answered");
  newer.send(request_bytes("GET", "/metrics"));
  auto metrics = newer.read_response(5s);
  BOOST_REQUIRE(metrics);
  BOOST_TEST(series(metrics->body, "riposte_http_idle_connections_closed_total") == 1.0);
}

BOOST_AUTO_TEST_CASE(an_acceptor_out_of_descriptors_starts_again_once_they_are_free) {
  scripted_backend b;
  riposte_server r{
      b.url(),
      {},
      {},
      {"/usr/bin/prlimit", "--nofile=1024:1024", "/usr/bin/env", "RIPOSTE_TEST_FAULTS=1"}};
  raw_connection kept{r.port()};
  kept.send(request_bytes("GET", "/healthz"));
  auto first = kept.read_response(5s);
  BOOST_REQUIRE_MESSAGE(first && first->status == 200, kept.received());
  kept.send(request_bytes("POST", "/v1/_test/descriptors", R"({"hold":true})",
                          {"Content-Type: application/json"}));
  auto held = kept.read_response(5s);
  BOOST_REQUIRE_MESSAGE(held && held->status == 200, kept.received());
  BOOST_TEST(json::parse(held->body).value("held", 0) > 0, held->body);

  raw_connection fresh{r.port()}; // waits in the backlog
  fresh.send(request_bytes("GET", "/healthz"));
  auto during = fresh.read_response(1s);
  BOOST_TEST(!during.has_value(),
             "answered while every descriptor was held: " << fresh.received().substr(0, 200));
  // Another one after it, which the acceptor certainly cannot take.
  raw_connection second{r.port()};
  second.send(request_bytes("GET", "/healthz"));
  auto second_during = second.read_response(1s);
  BOOST_TEST(!second_during.has_value(), "a second connection answered while every descriptor "
                                         "was held: "
                                             << second.received().substr(0, 200));

  kept.send(request_bytes("POST", "/v1/_test/descriptors", R"({"hold":false})",
                          {"Content-Type: application/json"}));
  auto released = kept.read_response(5s);
  BOOST_REQUIRE_MESSAGE(released && released->status == 200, kept.received());
  auto start = clock_type::now();
  auto late = during ? during : fresh.read_response(3s);
  BOOST_TEST((late && late->status == 200),
             "the waiting connection was not answered within 3 s of the release");
  auto second_late = second_during ? second_during : second.read_response(3s);
  BOOST_TEST((second_late && second_late->status == 200),
             "the second waiting connection was not answered within 3 s of the release");
  BOOST_TEST_MESSAGE("the waiting connections answered " << ms_since(start) << " ms after release");
  raw_connection newer{r.port()};
  newer.send(request_bytes("GET", "/healthz"));
  auto answered = newer.read_response(3s);
  BOOST_TEST((answered && answered->status == 200), "a new connection is not answered");
  auto metrics = r.get("/metrics").body;
  BOOST_TEST(series(metrics, "riposte_http_accept_restarts_total") >= 1.0,
             "riposte_http_accept_restarts_total = "
                 << series(metrics, "riposte_http_accept_restarts_total"));
  still_serving(r, "holding every descriptor");
}

BOOST_AUTO_TEST_CASE(concurrent_uploads_past_a_quota_store_exactly_one) {
  scripted_backend b;
  riposte_server r{b.url(), {"--tenant-quota-bytes", "1000000"}};
  auto body = form({{"file", std::string(600'000, 'q'), "q.txt"}, {"purpose", "user_data", ""}});
  std::vector<http_result> results(10);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < 10)
        std::this_thread::yield();
      results[static_cast<std::size_t>(i)] = upload(r, body);
    });
  for (auto& t : threads)
    t.join();
  int stored = 0, refused = 0;
  for (const auto& res : results) {
    if (res.status == 200) {
      ++stored;
    } else {
      ++refused;
      expect_error("an upload past the quota", res, 413, "request_too_large");
    }
  }
  BOOST_TEST(stored == 1);
  BOOST_TEST(refused == 9);
  auto listed = json::parse(r.get("/v1/files").body);
  BOOST_TEST(listed["data"].size() == 1u, listed.dump());
  still_serving(r, "racing uploads");
}

BOOST_AUTO_TEST_CASE(concurrent_creates_with_one_idempotency_key_all_get_the_same_response) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "slow"}}},
          {"reply",
           {{"chunks", {{{"content", "one"}}, {{"content", " two"}}, {{"content", " three"}}}},
            {"delay_ms", 100}}}}}}}};
  riposte_server r{b.url()};
  json body{{"model", "llama3.2:1b"}, {"input", "slow please"}};
  std::vector<http_result> results(15);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 15; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < 15)
        std::this_thread::yield();
      results[static_cast<std::size_t>(i)] =
          r.post("/v1/responses", body, {"Idempotency-Key: race-1"});
    });
  for (auto& t : threads)
    t.join();
  std::set<std::string> ids;
  for (const auto& res : results) {
    BOOST_TEST(res.status == 200, res.status << " " << res.body);
    auto j = json::parse(res.body, nullptr, false);
    if (res.status == 200 && j.is_object()) {
      ids.insert(j.value("id", ""));
      BOOST_TEST(j["output"][0]["content"][0]["text"] == "one two three", res.body);
    }
  }
  BOOST_TEST(ids.size() == 1u, json(ids).dump());
  BOOST_TEST(b.requests().size() == 1u); // the model was asked once
}

BOOST_AUTO_TEST_CASE(pipelined_requests_on_one_connection_are_answered_in_order) {
  scripted_backend b{
      {{"rules",
        {{{"match", {{"contains", "slow"}}},
          {"reply", {{"chunks", {{{"content", "slow answer"}}}}, {"delay_ms", 300}}}}}}}};
  riposte_server r{b.url()};
  raw_connection c{r.port()};
  const std::vector<std::string> ct{"Content-Type: application/json"};
  auto wire = request_bytes("POST", "/v1/responses",
                            json{{"model", "llama3.2:1b"}, {"input", "slow first"}}.dump(), ct) +
              request_bytes("GET", "/healthz") +
              request_bytes("POST", "/v1/responses",
                            json{{"model", "llama3.2:1b"}, {"input", "fast third"}}.dump(), ct);
  BOOST_REQUIRE(c.send(wire));
  std::vector<raw_response> got;
  for (int i = 0; i < 3; ++i) {
    auto res = c.read_response(10s);
    if (!res)
      break;
    got.push_back(*res);
  }
  BOOST_REQUIRE_MESSAGE(got.size() == 3u, "got " << got.size() << " replies: " << c.received());
  for (const auto& g : got)
    BOOST_TEST(g.status == 200, g.body);
  auto first = json::parse(got[0].body, nullptr, false);
  auto third = json::parse(got[2].body, nullptr, false);
  BOOST_TEST(first.value("object", "") == "response", got[0].body);
  BOOST_TEST(first["output"][0]["content"][0]["text"] == "slow answer", got[0].body);
  BOOST_TEST(json::parse(got[1].body, nullptr, false).value("status", "") == "ok", got[1].body);
  BOOST_TEST(third.value("object", "") == "response", got[2].body);
  BOOST_TEST(third["output"][0]["content"][0]["text"] == "Echo: fast third", got[2].body);
}

// curl sends `Expect: 100-continue` with a body over 1 MiB and waits up to
// a second for the answer before sending it. A connection's first request
// is answered at once; a later one is not (a 100 could land inside another
// response still being written), and its client sends the body anyway.
BOOST_AUTO_TEST_CASE(a_first_request_that_expects_100_continue_is_answered_before_its_body) {
  scripted_backend b;
  riposte_server r{b.url()};
  raw_connection c{r.port()};
  auto body = json{{"model", "llama3.2:1b"}, {"input", "hello"}}.dump();
  auto head = request_bytes("POST", "/v1/responses", body,
                            {"Content-Type: application/json", "Expect: 100-continue"});
  head.resize(head.size() - body.size());
  BOOST_REQUIRE(c.send(head));
  auto interim = c.read_response(5s);
  BOOST_REQUIRE_MESSAGE(interim, "no 100 Continue: " << c.received());
  BOOST_TEST(interim->status == 100);
  BOOST_REQUIRE(c.send(body));
  auto done = c.read_response(10s);
  BOOST_REQUIRE(done);
  BOOST_TEST(done->status == 200, done->body);
  BOOST_TEST(json::parse(done->body, nullptr, false).value("object", "") == "response");

  BOOST_REQUIRE(c.send(head));
  BOOST_TEST(!c.read_response(300ms)); // not the first request: no 100
  BOOST_REQUIRE(c.send(body));
  auto second = c.read_response(10s);
  BOOST_REQUIRE(second);
  BOOST_TEST(second->status == 200, second->body);
}

BOOST_AUTO_TEST_CASE(clients_that_never_read_a_download_do_not_hold_up_anyone_else) {
  scripted_backend b;
  riposte_server r{b.url(),
                   {"--passivate-after-ms", "200", "--api-key", "k1:t1", "--api-key", "k2:t2"}};
  const std::string k1 = "Authorization: Bearer k1", k2 = "Authorization: Bearer k2";
  auto earlier = r.post("/v1/responses", hi, {k2});
  BOOST_REQUIRE_EQUAL(earlier.status, 200);
  auto earlier_id = json::parse(earlier.body)["id"].get<std::string>();
  std::string bytes;
  bytes.reserve(8'000'000);
  for (int i = 0; i < 8'000'000; ++i)
    bytes.push_back(static_cast<char>('a' + (i * 7) % 26));
  auto made = upload(r, form({{"file", bytes, "big.txt"}, {"purpose", "user_data", ""}}), {k1});
  BOOST_REQUIRE_EQUAL(made.status, 200);
  auto file_id = json::parse(made.body)["id"].get<std::string>();

  std::vector<std::unique_ptr<raw_connection>> stuck;
  for (int i = 0; i < 20; ++i) {
    // A small receive window: most of the 8 MB stays on riposte's side.
    stuck.push_back(std::make_unique<raw_connection>(r.port(), 16 * 1024));
    stuck.back()->send(request_bytes("GET", "/v1/files/" + file_id + "/content", "", {k1}));
  }
  std::this_thread::sleep_for(
      500ms); // the downloads fill their sockets; the earlier response passivates
  for (int round = 0; round < 3; ++round) {
    auto start = clock_type::now();
    auto listed = r.get("/v1/files", {k1});
    auto took = ms_since(start);
    BOOST_TEST(listed.status == 200, listed.body);
    BOOST_TEST(took < 2000, "GET /v1/files took " << took << " ms");
    start = clock_type::now();
    auto got = r.get("/v1/responses/" + earlier_id, {k2});
    took = ms_since(start);
    BOOST_TEST(got.status == 200, got.body);
    BOOST_TEST(took < 2000, "GET of a passivated response took " << took << " ms");
    start = clock_type::now();
    auto meta = r.get("/v1/files/" + file_id, {k1});
    BOOST_TEST(meta.status == 200, meta.body);
    BOOST_TEST(ms_since(start) < 2000);
    std::this_thread::sleep_for(300ms);
  }
  auto start = clock_type::now();
  BOOST_TEST(r.post("/v1/responses", hi, {k2}).status == 200);
  BOOST_TEST(ms_since(start) < 2000);
  BOOST_REQUIRE(process_alive(r.process().pid()));
  stuck.clear();
  // One download read to the end is whole.
  auto content = r.get("/v1/files/" + file_id + "/content", {k1});
  BOOST_TEST(content.status == 200);
  BOOST_TEST((content.body == bytes));
  still_serving(r, "20 stuck downloads", {k1});
}

BOOST_AUTO_TEST_CASE(nulls_are_defaults_and_echoed_names_stay_inside_their_quotes) {
  scripted_backend b;
  riposte_server r{b.url()};
  for (const json& options : {json(nullptr), json{{"include_obfuscation", nullptr}}}) {
    auto s = sse_call("POST", r.url("/v1/responses"),
                      json{{"model", "llama3.2:1b"},
                           {"input", "a b"},
                           {"stream", true},
                           {"stream_options", options}}
                          .dump());
    BOOST_TEST(s.status == 200,
               "stream_options " << options.dump() << ": " << s.raw.substr(0, 300));
    auto problems = validate_stream(s.events);
    BOOST_TEST(problems.empty(), json(problems).dump());
    BOOST_TEST((!s.events.empty() && s.events.back().value("type", "") == "response.completed"),
               s.raw.substr(0, 300));
    still_serving(r, "stream_options " + options.dump());
  }
  // A blocking create takes the same nulls.
  auto blocking = r.post("/v1/responses", {{"model", "llama3.2:1b"},
                                           {"input", "hi"},
                                           {"stream_options", {{"include_obfuscation", nullptr}}}});
  BOOST_TEST_MESSAGE("stream_options on a blocking create: " << blocking.status << " "
                                                             << blocking.body.substr(0, 200));
  BOOST_TEST((blocking.status == 200 || blocking.status == 400), blocking.body);
  if (blocking.status == 400)
    expect_error("stream_options without stream", blocking, 400);

  // A quote in a filename (sent as a quoted-pair) stays out of the header's quotes.
  const std::string name = "a\"b.txt";
  auto made = upload(r, form({{"file", "quoted", "a\\\"b.txt"}, {"purpose", "user_data", ""}}));
  BOOST_REQUIRE_MESSAGE(made.status == 200, made.body);
  auto file = json::parse(made.body);
  BOOST_TEST(file["filename"] == name, made.body);
  auto content = r.get("/v1/files/" + file["id"].get<std::string>() + "/content");
  BOOST_TEST(content.status == 200);
  BOOST_TEST(content.body == "quoted");
  auto disposition = content.header("content-disposition");
  BOOST_TEST_MESSAGE("Content-Disposition: " << disposition);
  auto at = disposition.find("filename=\"");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, disposition);
  auto value_start = at + 10;
  auto value_end = disposition.find('"', value_start);
  BOOST_REQUIRE(value_end != std::string::npos);
  auto rest = disposition.substr(value_end + 1);
  // What follows the closing quote is the next parameter, not the rest of a name.
  BOOST_TEST((rest.empty() || rest.rfind(";", 0) == 0), disposition);
  BOOST_TEST(disposition.find("filename*=UTF-8''a%22b.txt") != std::string::npos, disposition);

  // A 1 MB purpose is refused with a short answer.
  auto huge =
      upload(r, form({{"file", "abc", "a.txt"}, {"purpose", std::string(1'000'000, 'x'), ""}}));
  expect_error("a 1 MB purpose", huge, 400, "invalid_value", json("purpose"));
  BOOST_TEST(huge.body.size() < 2048u, "the error body is " << huge.body.size() << " bytes");
  still_serving(r, "a 1 MB purpose");
}

BOOST_AUTO_TEST_CASE(a_streamed_create_replayed_by_its_idempotency_key_is_byte_identical) {
  scripted_backend b{{{"rules",
                       {{{"match", {{"contains", "tell"}}},
                         {"reply",
                          {{"chunks",
                            {{{"content", "Once"}},
                             {{"content", " upon"}},
                             {{"content", " a"}},
                             {{"content", " time"}}}}}}}}}}};
  riposte_server r{b.url()};
  auto body = json{{"model", "llama3.2:1b"}, {"input", "tell me"}, {"stream", true}}.dump();
  auto first = sse_call("POST", r.url("/v1/responses"), body, -1, {}, {"Idempotency-Key: s-1"});
  auto second = sse_call("POST", r.url("/v1/responses"), body, -1, {}, {"Idempotency-Key: s-1"});
  BOOST_TEST(first.status == 200);
  BOOST_TEST(second.status == 200);
  BOOST_TEST(validate_stream(first.events).empty());
  int deltas = 0;
  for (const auto& e : first.events)
    if (e.value("type", "") == "response.output_text.delta") {
      ++deltas;
      BOOST_TEST(e.contains("obfuscation"), e.dump());
    }
  BOOST_TEST(deltas == 4);
  BOOST_TEST(second.raw == first.raw, "first:\n" << first.raw << "\nsecond:\n" << second.raw);
  BOOST_TEST(b.requests().size() == 1u);
}

BOOST_AUTO_TEST_CASE(twenty_thousand_unknown_ids_are_404_and_cost_little_memory) {
  scripted_backend b;
  riposte_server r{b.url(), {"--passivate-after-ms", "200"}};
  still_serving(r, "start");
  auto pid = r.process().pid();
  // Warm up the paths a lookup takes.
  for (int i = 0; i < 200; ++i)
    r.get("/v1/responses/resp_warmup" + std::to_string(i));
  std::this_thread::sleep_for(500ms);
  const long start_rss = vm_rss_kib(pid);
  std::atomic<long> peak{start_rss};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling.load()) {
      auto now = vm_rss_kib(pid);
      if (now > peak.load())
        peak.store(now);
      std::this_thread::sleep_for(20ms);
    }
  });
  auto round = [&](int seed) {
    std::atomic<int> not_found{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        std::mt19937_64 rng{static_cast<std::uint64_t>(seed * 100 + t)};
        auto c = std::make_unique<raw_connection>(r.port());
        for (int i = 0; i < 5'000; ++i) {
          auto id = "resp_" + random_hex(rng, 48);
          if (!c->send(request_bytes("GET", "/v1/responses/" + id))) {
            c = std::make_unique<raw_connection>(r.port());
            c->send(request_bytes("GET", "/v1/responses/" + id));
          }
          auto res = c->read_response(10s);
          if (res && res->status == 404)
            ++not_found;
          else
            ++other;
          if (!res)
            c = std::make_unique<raw_connection>(r.port());
        }
      });
    for (auto& t : threads)
      t.join();
    BOOST_TEST(not_found.load() == 20'000);
    BOOST_TEST(other.load() == 0);
  };
  auto started = clock_type::now();
  round(1);
  BOOST_TEST_MESSAGE("20,000 lookups took " << ms_since(started) << " ms");
  sampling = false;
  sampler.join();
  auto grown_mib = static_cast<double>(peak.load() - start_rss) / 1024.0;
  BOOST_TEST_MESSAGE("RSS " << start_rss / 1024 << " MiB at the start, peak +" << grown_mib
                            << " MiB");
  // AddressSanitizer holds freed memory in quarantine: memory says nothing
  // there, the 404s still do.
  if (!sanitized)
    BOOST_TEST(grown_mib < 64.0, "RSS grew by " << grown_mib << " MiB");
  std::this_thread::sleep_for(2s);
  auto after_rss = vm_rss_kib(pid);
  BOOST_TEST_MESSAGE("RSS 2 s later: " << after_rss / 1024 << " MiB");
  // What the first round left in memory is reused by a second: a registry
  // that kept its 20,000 entries would grow again.
  sampling = true;
  peak = after_rss;
  std::thread sampler2([&] {
    while (sampling.load()) {
      auto now = vm_rss_kib(pid);
      if (now > peak.load())
        peak.store(now);
      std::this_thread::sleep_for(20ms);
    }
  });
  round(2);
  sampling = false;
  sampler2.join();
  std::this_thread::sleep_for(2s);
  auto final_rss = vm_rss_kib(pid);
  BOOST_TEST_MESSAGE("after a second round: peak " << peak.load() / 1024 << " MiB, 2 s later "
                                                   << final_rss / 1024 << " MiB");
  if (!sanitized) {
    BOOST_TEST(static_cast<double>(final_rss - after_rss) / 1024.0 < 16.0,
               "RSS grew " << (final_rss - after_rss) / 1024 << " MiB over a second round");
    BOOST_TEST(static_cast<double>(final_rss - start_rss) / 1024.0 < 64.0);
  }
  still_serving(r, "40,000 unknown ids");
}

BOOST_AUTO_TEST_SUITE_END()
