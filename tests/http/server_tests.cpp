// Which thread handles a request (http/server.cpp): small bodies on the io
// thread, large ones off it, so that one large body holds up no other
// connection. The server on a real loopback port, driven by raw connections.
#include "actors/runtime/thread_pool.hpp"
#include "http/server.hpp"
#include "tests/support/process.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace riposte::http;
using riposte::tests::raw_connection;
using riposte::tests::request_bytes;
using namespace std::chrono_literals;

namespace {

// Where each route ran, and a gate the /wait route waits at until /open ran.
struct witness {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  std::thread::id wait_thread, open_thread;
};

// One io thread; bodies of `offload_bytes` or more go to a pool of one.
class test_server {
public:
  explicit test_server(std::uint64_t offload_bytes)
    : pool_("test.parse", 1) {
    auto w = witness_;
    std::vector<route> routes;
    // Waits (on whichever thread handles it) until /open has run: on the io
    // thread it could never see that, and says so after a second.
    routes.push_back({"POST", "/wait", [w](const request&, const auto&, reply_fn reply) {
                        std::unique_lock lock{w->mutex};
                        w->wait_thread = std::this_thread::get_id();
                        bool opened = w->changed.wait_for(lock, 1s, [&] { return w->open; });
                        reply({200, opened ? "opened" : "never opened", "text/plain", {}, {}});
                      }});
    routes.push_back({"GET", "/open", [w](const request&, const auto&, reply_fn reply) {
                        {
                          std::lock_guard guard{w->mutex};
                          w->open = true;
                          w->open_thread = std::this_thread::get_id();
                        }
                        w->changed.notify_all();
                        reply({200, "open", "text/plain", {}, {}});
                      }});
    routes.push_back({"POST", "/throw", [](const request&, const auto&, reply_fn) {
                        throw std::runtime_error("a handler that throws");
                      }});
    server_options opts;
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.threads = 1;
    opts.offload = {[this](std::function<void()> job) { pool_.post(std::move(job)); },
                    offload_bytes};
    auto started = start_server(opts, std::move(routes));
    if (!started)
      throw std::runtime_error(started.error().message);
    server_ = std::move(*started);
  }
  ~test_server() { server_->stop(); }

  std::uint16_t port() const { return server_->port(); }
  witness& seen() { return *witness_; }

private:
  std::shared_ptr<witness> witness_ = std::make_shared<witness>();
  riposte::actors::thread_pool pool_;
  std::unique_ptr<server> server_;
};

// One request on a new connection, and its answer's body ("" if none came).
std::string ask(std::uint16_t port, const std::string& method, const std::string& target,
                const std::string& body = "") {
  raw_connection c(port);
  if (!c.send(request_bytes(method, target, body)))
    return "";
  auto r = c.read_response(5s);
  return r ? r->body : "";
}

} // namespace

BOOST_AUTO_TEST_SUITE(server_threads)

BOOST_AUTO_TEST_CASE(a_large_body_is_handled_off_the_io_thread_while_other_connections_go_on) {
  test_server s(1024);
  raw_connection large(s.port());
  BOOST_REQUIRE(large.send(request_bytes("POST", "/wait", std::string(4096, 'x'))));
  // Until the large body's handler has started, /open might run first.
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard guard{s.seen().mutex};
      if (s.seen().wait_thread != std::thread::id{})
        break;
    }
    std::this_thread::sleep_for(2ms);
  }
  raw_connection small(s.port());
  BOOST_REQUIRE(small.send(request_bytes("GET", "/open")));
  auto opened = small.read_response(5s);
  BOOST_REQUIRE(opened);
  BOOST_TEST(opened->body == "open");
  auto waited = large.read_response(5s);
  BOOST_REQUIRE(waited);
  BOOST_TEST(waited->body == "opened");
  BOOST_TEST((s.seen().wait_thread != s.seen().open_thread));
}

BOOST_AUTO_TEST_CASE(a_body_below_the_threshold_is_handled_on_the_io_thread) {
  test_server s(1024);
  BOOST_TEST(ask(s.port(), "GET", "/open") == "open");
  BOOST_TEST(ask(s.port(), "POST", "/wait", std::string(1023, 'x')) == "opened");
  BOOST_TEST((s.seen().wait_thread == s.seen().open_thread));
}

BOOST_AUTO_TEST_CASE(with_the_threshold_at_zero_every_body_stays_on_the_io_thread) {
  test_server s(0);
  // /open has no thread to run on while /wait waits.
  BOOST_TEST(ask(s.port(), "POST", "/wait", std::string(4096, 'x')) == "never opened");
  BOOST_TEST(ask(s.port(), "GET", "/open") == "open");
  BOOST_TEST((s.seen().wait_thread == s.seen().open_thread));
}

BOOST_AUTO_TEST_CASE(an_offloaded_handler_that_throws_is_that_request_s_500) {
  test_server s(16);
  raw_connection c(s.port());
  BOOST_REQUIRE(c.send(request_bytes("POST", "/throw", std::string(64, 'x'))));
  auto r = c.read_response(5s);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 500);
  auto body = nlohmann::json::parse(r->body);
  BOOST_TEST(body["error"]["type"] == "server_error");
  // The server goes on.
  BOOST_REQUIRE(c.send(request_bytes("GET", "/open")));
  auto next = c.read_response(5s);
  BOOST_REQUIRE(next);
  BOOST_TEST(next->body == "open");
}

BOOST_AUTO_TEST_SUITE_END()
