// End to end: faults injected inside riposte (RIPOSTE_TEST_FAULTS=1 turns on
// POST /v1/_test/fault). An exception in a supervised actor fails only the
// request it was handling; a killed one is restarted by its supervisor; a
// response whose actor faults mid-generation ends failed instead of leaving
// its client hanging; and after all of it riposte still stops cleanly.
#include "tests/support/basics.hpp"
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <regex>
#include <thread>

using json = nlohmann::json;
using namespace riposte::tests;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> supervised{"registry", "backend_pool", "files", "prompts"};

// A scripted reply: `n` chunks `delay_ms` apart, for inputs containing `word`.
json slow_rule(const std::string& word, int n, int delay_ms) {
  json chunks = json::array();
  for (int i = 0; i < n; ++i)
    chunks.push_back({{"content", (i ? " w" : "w") + std::to_string(i)}});
  return {{"match", {{"contains", word}}}, {"reply", {{"chunks", chunks}, {"delay_ms", delay_ms}}}};
}

// Riposte with its test hooks.
std::unique_ptr<riposte_server> start(scripted_backend& b, std::vector<std::string> extra = {}) {
  return std::make_unique<riposte_server>(
      b.url(), std::move(extra), std::string{},
      std::vector<std::string>{"/usr/bin/env", "RIPOSTE_TEST_FAULTS=1"});
}

http_result fault(riposte_server& r, const json& body) {
  return r.post("/v1/_test/fault", body);
}

void expect_server_error(const std::string& what, long status, const std::string& body) {
  BOOST_TEST(status == 500, what << ": " << status << " " << body);
  auto j = json::parse(body, nullptr, false);
  BOOST_TEST((j.is_object() && j.contains("error")), what << ": " << body);
  if (j.is_object() && j.contains("error")) {
    BOOST_TEST(j["error"].value("code", json()) == "server_error", body);
    BOOST_TEST(j["error"].value("type", json()) == "server_error", body);
    BOOST_TEST(j["error"].contains("param"), body);
    BOOST_TEST(j["error"].value("message", json()).is_string(), body);
  }
}

// Everything the supervised actors serve works.
void all_served(riposte_server& r, const std::string& after) {
  BOOST_REQUIRE_MESSAGE(process_alive(r.process().pid()), "riposte died after " << after);
  auto created = r.post("/v1/responses", hi);
  BOOST_TEST(created.status == 200, after << ": create: " << created.body);
  if (created.status == 200) {
    auto id = json::parse(created.body)["id"].get<std::string>();
    auto got = r.get("/v1/responses/" + id);
    BOOST_TEST(got.status == 200, after << ": get: " << got.body);
  }
  auto files = r.get("/v1/files");
  BOOST_TEST(files.status == 200, after << ": files: " << files.body);
  auto models = r.get("/v1/models");
  BOOST_TEST(models.status == 200, after << ": models: " << models.body);
  auto prompt = r.post("/v1/prompts", {{"name", "p"}, {"instructions", "Be brief about {{x}}."}});
  BOOST_TEST(prompt.status == 200, after << ": prompt create: " << prompt.body);
  if (prompt.status == 200) {
    auto id = json::parse(prompt.body)["id"].get<std::string>();
    auto got = r.get("/v1/prompts/" + id);
    BOOST_TEST(got.status == 200, after << ": prompt get: " << got.body);
  }
}

// SIGTERM ends riposte within 15 s, whatever was done to it.
void stops_in_time(riposte_server& r) {
  auto start = clock_type::now();
  int rc = r.stop();
  auto took = ms_since(start);
  BOOST_TEST(rc != -1, "riposte did not exit within 20 s of SIGTERM");
  BOOST_TEST(took < 15'000, "riposte took " << took << " ms to stop");
  BOOST_WARN_MESSAGE(rc == 0,
                     "riposte exited with " << rc << " (not a clean stop) after " << took << " ms");
  BOOST_TEST_MESSAGE("stopped in " << took << " ms with exit code " << rc);
}

json readyz_until_ok(riposte_server& r, std::chrono::milliseconds within) {
  auto deadline = clock_type::now() + within;
  json body;
  long status = 0;
  do {
    auto res = r.get("/readyz");
    status = res.status;
    body = json::parse(res.body, nullptr, false);
    if (status == 200 && body.is_object() && body["checks"]["actors"].value("ok", false))
      return body;
    std::this_thread::sleep_for(50ms);
  } while (clock_type::now() < deadline);
  BOOST_ERROR("readyz stayed " << status << ": " << body.dump());
  return body;
}

// A streamed create over a raw connection, read a little at a time so the
// test decides when to wait and for how long (a hung stream must not hang
// the test).
class raw_stream {
public:
  raw_stream(riposte_server& r, const json& body)
    : conn_(r.port()) {
    conn_.send(request_bytes("POST", "/v1/responses", body.dump(),
                             {"Content-Type: application/json", "Accept: text/event-stream"}));
  }
  // Reads until `needle` has arrived; false if it did not within `timeout`.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    while (conn_.received().find(needle) == std::string::npos) {
      if (clock_type::now() >= deadline || done_ || conn_.closed())
        return conn_.received().find(needle) != std::string::npos;
      done_ = conn_.read_response(50ms);
    }
    return true;
  }
  // The response id, from response.created.
  std::string response_id() const {
    std::smatch m;
    static const std::regex id_re{R"re("id":"(resp_[0-9A-Za-z]+)")re"};
    const auto& got = conn_.received();
    return std::regex_search(got, m, id_re) ? m[1].str() : std::string{};
  }
  // The whole stream once it ends (chunked: its last chunk), or nullopt if it
  // does not end within `timeout`.
  std::optional<sse_result> finish(std::chrono::milliseconds timeout) {
    if (!done_)
      done_ = conn_.read_response(timeout);
    if (!done_)
      return std::nullopt;
    sse_result s;
    s.status = done_->status;
    s.raw = done_->body;
    parse_frames(s);
    return s;
  }
  const std::string& received() const { return conn_.received(); }
  bool closed() const { return conn_.closed(); }

private:
  raw_connection conn_;
  std::optional<raw_response> done_;
};

// The response created most recently, from the audit feed (admin routes are
// open when no keys are configured).
std::string newest_response(riposte_server& r) {
  std::string id;
  for (std::uint64_t after = 0;;) {
    auto page = json::parse(
        r.get("/v1/audit/events?limit=1000&after=" + std::to_string(after)).body, nullptr, false);
    if (!page.is_object())
      return id;
    for (const auto& e : page["data"]) {
      after = e["global_position"].get<std::uint64_t>();
      if (e["type"] == "response_created")
        id = e["stream"].get<std::string>();
    }
    if (!page.value("has_more", false))
      return id;
  }
}

json get_until_terminal(riposte_server& r, const std::string& id,
                        std::chrono::milliseconds within) {
  auto deadline = clock_type::now() + within;
  json got;
  do {
    got = json::parse(r.get("/v1/responses/" + id).body, nullptr, false);
    auto status = got.is_object() ? got.value("status", "") : "";
    if (status == "completed" || status == "failed" || status == "incomplete" ||
        status == "cancelled")
      return got;
    std::this_thread::sleep_for(50ms);
  } while (clock_type::now() < deadline);
  return got;
}

} // namespace

BOOST_AUTO_TEST_SUITE(faults)

BOOST_AUTO_TEST_CASE(an_exception_in_a_supervised_actor_fails_only_the_request_it_was_handling) {
  scripted_backend b;
  auto r = start(b);
  all_served(*r, "start");
  for (const auto& target : supervised) {
    auto res = fault(*r, {{"target", target}, {"mode", "throw"}});
    expect_server_error("a fault thrown in " + target, res.status, res.body);
    all_served(*r, "a fault thrown in " + target);
    auto metrics = r->get("/metrics").body;
    auto name = "riposte_faults_total{where=\"" + target + "\"}";
    BOOST_TEST(series(metrics, name) >= 1.0, name << " = " << series(metrics, name));
    BOOST_TEST(series(metrics, "riposte_actor_restarts_total{actor=\"" + target + "\"}") <= 0.0,
               target << " was restarted: a contained fault must not kill it");
  }
  // Twice more each, back to back: still contained.
  for (int i = 0; i < 2; ++i)
    for (const auto& target : supervised) {
      auto res = fault(*r, {{"target", target}, {"mode", "throw"}});
      expect_server_error(target, res.status, res.body);
    }
  all_served(*r, "repeated faults");
  stops_in_time(*r);
}

BOOST_AUTO_TEST_CASE(a_killed_supervised_actor_is_restarted_and_serves_again_within_two_seconds) {
  scripted_backend b;
  auto r = start(b);
  // Something each actor holds, to find again after its restart.
  auto made = r->post("/v1/responses", hi);
  BOOST_REQUIRE_EQUAL(made.status, 200);
  auto response_id = json::parse(made.body)["id"].get<std::string>();
  for (const auto& target : supervised) {
    auto res = fault(*r, {{"target", target}, {"mode", "kill"}});
    BOOST_TEST(res.status == 200, target << ": " << res.body);
    BOOST_TEST(json::parse(res.body, nullptr, false) == json({{"killed", true}}), res.body);
    auto start_wait = clock_type::now();
    auto ready = readyz_until_ok(*r, 2s);
    BOOST_TEST_MESSAGE(target << " ready again after " << ms_since(start_wait) << " ms");
    BOOST_TEST(ready["checks"]["actors"].value("ok", false) == true, ready.dump());
    all_served(*r, "killing " + target);
    BOOST_TEST(r->get("/v1/responses/" + response_id).status == 200);
    auto metrics = r->get("/metrics").body;
    auto name = "riposte_actor_restarts_total{actor=\"" + target + "\"}";
    BOOST_TEST(series(metrics, name) >= 1.0, name << " = " << series(metrics, name));
  }
  // Killed twice in a row: restarted again.
  for (const auto& target : supervised)
    BOOST_TEST(fault(*r, {{"target", target}, {"mode", "kill"}}).status == 200);
  readyz_until_ok(*r, 3s);
  all_served(*r, "killing every actor again");
  stops_in_time(*r);
}

BOOST_AUTO_TEST_CASE(a_stream_outlives_a_killed_registry) {
  scripted_backend b{{{"rules", {slow_rule("slow", 10, 200)}}}};
  auto r = start(b);
  raw_stream s{*r, {{"model", "llama3.2:1b"}, {"input", "slow please"}, {"stream", true}}};
  BOOST_REQUIRE_MESSAGE(s.wait_for("response.output_text.delta", 5s), s.received());
  auto id = s.response_id();
  BOOST_REQUIRE(!id.empty());
  auto killed = fault(*r, {{"target", "registry"}, {"mode", "kill"}});
  BOOST_TEST(killed.status == 200, killed.body);
  auto done = s.finish(10s);
  BOOST_REQUIRE_MESSAGE(done.has_value(), "the stream did not end: " << s.received());
  auto problems = validate_stream(done->events);
  BOOST_TEST(problems.empty(), json(problems).dump());
  BOOST_REQUIRE(!done->events.empty());
  BOOST_TEST(done->events.back().value("type", "") == "response.completed", done->raw);
  auto got = r->get("/v1/responses/" + id);
  BOOST_TEST(got.status == 200, got.body);
  auto view = json::parse(got.body, nullptr, false);
  BOOST_TEST(view.value("status", "") == "completed", got.body);
  BOOST_TEST(view["output"][0]["content"][0]["text"] == "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9", got.body);
  BOOST_TEST(done->events.back()["response"] == view);
  all_served(*r, "a registry killed under a stream");
  stops_in_time(*r);
}

BOOST_AUTO_TEST_CASE(a_fault_in_a_generating_response_ends_its_stream_failed) {
  scripted_backend b{{{"rules", {slow_rule("slow", 15, 200)}}}};
  auto r = start(b);
  raw_stream s{*r, {{"model", "llama3.2:1b"}, {"input", "slow please"}, {"stream", true}}};
  BOOST_REQUIRE_MESSAGE(s.wait_for("response.output_text.delta", 5s), s.received());
  auto id = s.response_id();
  BOOST_REQUIRE(!id.empty());
  auto hook = fault(*r, {{"target", "response"}, {"id", id}, {"mode", "throw"}});
  BOOST_TEST_MESSAGE("the hook answered " << hook.status << " " << hook.body);
  auto start_wait = clock_type::now();
  auto done = s.finish(5s);
  BOOST_REQUIRE_MESSAGE(done.has_value(), "the stream did not end: " << s.received());
  BOOST_TEST(ms_since(start_wait) < 2500,
             "the stream ended " << ms_since(start_wait) << " ms later");
  BOOST_REQUIRE(!done->events.empty());
  BOOST_TEST(done->events.back().value("type", "") == "response.failed", done->raw);
  auto problems = validate_stream(done->events);
  BOOST_TEST(problems.empty(), json(problems).dump());
  auto got = json::parse(r->get("/v1/responses/" + id).body, nullptr, false);
  BOOST_TEST(got.value("status", "") == "failed", got.dump());
  BOOST_TEST(got["error"].value("code", json()) == "server_error", got.dump());
  auto metrics = r->get("/metrics").body;
  BOOST_TEST(series(metrics, "riposte_faults_total{where=\"response\"}") >= 1.0);
  all_served(*r, "a fault in a streaming response");
  stops_in_time(*r);
}

BOOST_AUTO_TEST_CASE(a_fault_in_a_generating_blocking_response_answers_500_not_a_hang) {
  scripted_backend b{{{"rules", {slow_rule("slow", 15, 200)}}}};
  auto r = start(b);
  raw_connection c{r->port()};
  c.send(request_bytes("POST", "/v1/responses",
                       json{{"model", "llama3.2:1b"}, {"input", "slow please"}}.dump(),
                       {"Content-Type: application/json"}));
  // Generating: the backend has the request.
  auto deadline = clock_type::now() + 5s;
  while (b.requests().empty() && clock_type::now() < deadline)
    std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE(!b.requests().empty());
  std::this_thread::sleep_for(300ms);
  auto id = newest_response(*r);
  BOOST_REQUIRE(!id.empty());
  auto hook = fault(*r, {{"target", "response"}, {"id", id}, {"mode", "throw"}});
  BOOST_TEST_MESSAGE("the hook answered " << hook.status << " " << hook.body);
  auto start_wait = clock_type::now();
  auto res = c.read_response(5s);
  BOOST_REQUIRE_MESSAGE(res.has_value(), "the blocking create did not answer: " << c.received());
  BOOST_TEST(ms_since(start_wait) < 2000, "answered " << ms_since(start_wait) << " ms later");
  expect_server_error("a blocking create whose response faulted", res->status, res->body);
  auto got = get_until_terminal(*r, id, 3s);
  BOOST_TEST(got.value("status", "") == "failed", got.dump());
  BOOST_TEST(got["error"].value("code", json()) == "server_error", got.dump());
  all_served(*r, "a fault in a blocking response");
  stops_in_time(*r);
}

BOOST_AUTO_TEST_CASE(a_killed_generating_response_does_not_leave_its_client_hanging) {
  scripted_backend b{{{"rules", {slow_rule("slow", 30, 200)}}}};
  auto r = start(b);
  raw_stream s{*r, {{"model", "llama3.2:1b"}, {"input", "slow please"}, {"stream", true}}};
  BOOST_REQUIRE_MESSAGE(s.wait_for("response.output_text.delta", 5s), s.received());
  auto id = s.response_id();
  BOOST_REQUIRE(!id.empty());
  auto hook = fault(*r, {{"target", "response"}, {"id", id}, {"mode", "kill"}});
  BOOST_TEST_MESSAGE("the hook answered " << hook.status << " " << hook.body);
  auto start_wait = clock_type::now();
  // The natural end is ~6 s away: the stream must end well before it.
  auto done = s.finish(4s);
  auto took = ms_since(start_wait);
  BOOST_TEST((done.has_value() || s.closed()),
             "the stream neither ended nor closed within 4 s of the kill: "
                 << s.received().substr(s.received().size() > 600 ? s.received().size() - 600 : 0));
  if (done) {
    BOOST_TEST_MESSAGE("the stream ended " << took << " ms after the kill with "
                                           << done->events.back().value("type", ""));
    BOOST_REQUIRE(!done->events.empty());
    auto last = done->events.back().value("type", "");
    BOOST_TEST((last == "error" || last == "response.failed" || last == "response.incomplete" ||
                last == "response.completed"),
               "last event " << last);
  }
  auto got = get_until_terminal(*r, id, 5s);
  BOOST_TEST(got.value("status", "") == "failed", got.dump());
  all_served(*r, "a killed generating response");
  stops_in_time(*r);
}

BOOST_AUTO_TEST_CASE(after_every_kind_of_fault_sigterm_still_stops_riposte) {
  scripted_backend b{{{"rules", {slow_rule("slow", 20, 200)}}}};
  auto r = start(b);
  for (const auto& target : supervised)
    fault(*r, {{"target", target}, {"mode", "throw"}});
  raw_stream one{*r, {{"model", "llama3.2:1b"}, {"input", "slow one"}, {"stream", true}}};
  raw_stream two{*r, {{"model", "llama3.2:1b"}, {"input", "slow two"}, {"stream", true}}};
  BOOST_REQUIRE(one.wait_for("response.output_text.delta", 5s));
  BOOST_REQUIRE(two.wait_for("response.output_text.delta", 5s));
  fault(*r, {{"target", "response"}, {"id", one.response_id()}, {"mode", "throw"}});
  fault(*r, {{"target", "response"}, {"id", two.response_id()}, {"mode", "kill"}});
  for (const auto& target : supervised)
    fault(*r, {{"target", target}, {"mode", "kill"}});
  readyz_until_ok(*r, 3s);
  // A stream still running when the signal comes.
  raw_stream three{*r, {{"model", "llama3.2:1b"}, {"input", "slow three"}, {"stream", true}}};
  BOOST_REQUIRE(three.wait_for("response.output_text.delta", 5s));
  stops_in_time(*r);
}

BOOST_AUTO_TEST_SUITE_END()
