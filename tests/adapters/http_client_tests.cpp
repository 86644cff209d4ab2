// The backend HTTP client, both loops (libcurl's and riposte's own) held to
// one contract against a loopback server that writes exactly the bytes each
// case scripts: sized, chunked and close-ended replies, interim 100s,
// keep-alive reuse, a connection the server dropped while idle, the per-host
// connection cap, timeouts, aborts, refused connections and malformed replies.
#include "adapters/backends/http_client.hpp"
#include "adapters/backends/http_reader.hpp"
#include "adapters/backends/native_http.hpp"

#include <arpa/inet.h>
#include <boost/test/unit_test.hpp>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace riposte::adapters::backends;
using namespace std::chrono_literals;

namespace {

// One request as the server read it.
struct seen_request {
  std::string head; // request line and headers
  std::string body;
  int connection = 0; // which accepted connection (from 1)
};

// A loopback server: every request read whole (Content-Length bodies) is
// answered by `script`, which writes to the socket as it likes and returns
// false to close the connection.
class wire_server {
public:
  using script_fn = std::function<bool(int fd, const seen_request&)>;

  explicit wire_server(script_fn script)
    : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 64) != 0)
      throw std::runtime_error("cannot listen");
    socklen_t size = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &size);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~wire_server() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    std::vector<std::thread> workers;
    {
      std::lock_guard guard{mutex_};
      for (int c : open_)
        ::shutdown(c, SHUT_RDWR);
      workers.swap(workers_);
    }
    for (auto& w : workers)
      w.join();
  }

  std::string url(const std::string& path = "/x") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int accepted() const { return accepted_; }
  int most_at_once() const { return most_; }
  std::vector<seen_request> requests() {
    std::lock_guard guard{mutex_};
    return requests_;
  }

private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        continue;
      int index = ++accepted_;
      std::lock_guard guard{mutex_};
      open_.push_back(c);
      most_ = std::max<int>(most_, static_cast<int>(open_.size()));
      workers_.emplace_back([this, c, index] { serve(c, index); });
    }
  }

  void serve(int c, int index) {
    std::string in;
    char buf[65536];
    for (bool open = true; open;) {
      auto end = in.find("\r\n\r\n");
      while (end == std::string::npos) {
        auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) {
          open = false;
          break;
        }
        in.append(buf, static_cast<std::size_t>(n));
        end = in.find("\r\n\r\n");
      }
      if (!open)
        break;
      seen_request r;
      r.connection = index;
      r.head = in.substr(0, end + 2);
      std::size_t length = 0;
      std::string lower = r.head;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos)
        length = std::stoul(lower.substr(at + 17));
      while (in.size() < end + 4 + length) {
        auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) {
          open = false;
          break;
        }
        in.append(buf, static_cast<std::size_t>(n));
      }
      if (!open)
        break;
      r.body = in.substr(end + 4, length);
      in.erase(0, end + 4 + length);
      {
        std::lock_guard guard{mutex_};
        requests_.push_back(r);
      }
      open = script_(c, r);
    }
    std::lock_guard guard{mutex_};
    std::erase(open_, c);
    ::close(c);
  }

  script_fn script_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  int most_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> open_;
  std::vector<std::thread> workers_;
  std::vector<seen_request> requests_;
};

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0)
      return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string sized(std::string_view body, std::string_view extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + std::string{extra} +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string{body};
}

// What one transfer delivered.
struct result {
  std::string body;
  long data_status = 0;
  http_outcome out;
};

result call(http_client& client, http_request req, std::chrono::seconds wait = 10s,
            std::function<void(std::uint64_t)> after_start = {}) {
  auto body = std::make_shared<result>();
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  auto user_on_data = req.on_data;
  req.on_data = [body, user_on_data](long status, std::string_view bytes) {
    body->data_status = status;
    body->body.append(bytes);
    if (user_on_data)
      user_on_data(status, bytes);
  };
  req.on_done = [body, done](const http_outcome& out) {
    body->out = out;
    done->set_value();
  };
  auto id = client.start(std::move(req));
  if (after_start)
    after_start(id);
  if (future.wait_for(wait) != std::future_status::ready)
    throw std::runtime_error("the transfer never ended");
  return *body;
}

http_request get(const std::string& url) {
  http_request r;
  r.url = url;
  return r;
}

const http_engine engines[] = {http_engine::curl, http_engine::native};
const char* name_of(http_engine e) {
  return e == http_engine::curl ? "curl" : "native";
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_client_contract)

BOOST_AUTO_TEST_CASE(sized_chunked_and_close_ended_replies_arrive_whole) {
  wire_server server([](int fd, const seen_request& r) {
    if (r.head.find(" /sized ") != std::string::npos) {
      write_all(fd, sized("hello"));
      return true;
    }
    if (r.head.find(" /chunked ") != std::string::npos) {
      write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
      std::this_thread::sleep_for(20ms);
      write_all(fd, "4;ext=1\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n");
      return true;
    }
    write_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the close");
    return false;
  });
  for (auto engine : engines) {
    BOOST_TEST_CONTEXT(name_of(engine)) {
      http_client client(4, engine);
      auto a = call(client, get(server.url("/sized")));
      BOOST_TEST(a.out.error == "");
      BOOST_TEST(a.out.status == 200);
      BOOST_TEST(a.data_status == 200);
      BOOST_TEST(a.body == "hello");
      auto b = call(client, get(server.url("/chunked")));
      BOOST_TEST(b.out.error == "");
      BOOST_TEST(b.body == "abcdefg");
      auto c = call(client, get(server.url("/close")));
      BOOST_TEST(c.out.error == "");
      BOOST_TEST(c.body == "until the close");
      BOOST_TEST((c.out.timing.first_byte >= c.out.timing.sent));
      BOOST_TEST((c.out.timing.done >= c.out.timing.first_byte));
    }
  }
}

BOOST_AUTO_TEST_CASE(requests_go_out_whole_without_expect_and_reuse_one_connection) {
  wire_server server([](int fd, const seen_request& r) {
    write_all(fd, sized(std::to_string(r.body.size())));
    return true;
  });
  for (auto engine : engines) {
    BOOST_TEST_CONTEXT(name_of(engine)) {
      int before = server.accepted();
      http_client client(4, engine);
      for (int i = 0; i < 3; ++i) {
        http_request r;
        r.method = "POST";
        r.url = server.url("/api/chat?stream=true");
        r.headers = {"Content-Type: application/json", "Authorization: Bearer k"};
        r.body = std::string(i == 2 ? (2u << 20) : 10u, 'b'); // 2 MiB: no Expect either
        auto out = call(client, r);
        BOOST_TEST(out.out.error == "");
        BOOST_TEST(out.body == std::to_string(r.body.size()));
      }
      BOOST_TEST(server.accepted() - before == 1); // one keep-alive connection
      auto seen = server.requests().back();
      BOOST_TEST(seen.head.rfind("POST /api/chat?stream=true HTTP/1.1\r\n", 0) == 0, seen.head);
      BOOST_TEST(seen.head.find("Authorization: Bearer k\r\n") != std::string::npos);
      BOOST_TEST(seen.head.find("Host: 127.0.0.1:") != std::string::npos);
      std::string lower = seen.head;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      BOOST_TEST(lower.find("expect:") == std::string::npos);
      BOOST_TEST(seen.body.size() == 2u << 20);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_interim_continue_is_skipped_and_a_reused_connection_dropped_is_retried) {
  // Each connection answers its first request and closes on its second
  // unanswered: what a server that drops idle connections does to a request
  // that crossed the close.
  std::mutex mutex;
  std::map<int, int> on_connection;
  std::atomic<int> answered{0};
  wire_server server([&](int fd, const seen_request& r) {
    {
      std::lock_guard guard{mutex};
      if (++on_connection[r.connection] > 1)
        return false;
    }
    ++answered; // before the answer: the client may look as soon as it has it
    write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n" + sized("final"));
    return true;
  });
  for (auto engine : engines) {
    BOOST_TEST_CONTEXT(name_of(engine)) {
      http_client client(4, engine);
      for (int i = 0; i < 3; ++i) {
        auto r = call(client, get(server.url()));
        BOOST_TEST(r.out.error == "");
        BOOST_TEST(r.out.status == 200);
        BOOST_TEST(r.body == "final");
      }
    }
  }
  BOOST_TEST(answered == 6);
}

BOOST_AUTO_TEST_CASE(no_more_connections_to_a_host_than_the_cap_and_the_rest_wait) {
  for (auto engine : engines) {
    BOOST_TEST_CONTEXT(name_of(engine)) {
      wire_server server([](int fd, const seen_request&) {
        std::this_thread::sleep_for(100ms);
        write_all(fd, sized("ok"));
        return true;
      });
      http_client client(2, engine);
      std::vector<std::future<result>> calls;
      for (int i = 0; i < 6; ++i)
        calls.push_back(
            std::async(std::launch::async, [&] { return call(client, get(server.url())); }));
      for (auto& f : calls) {
        auto r = f.get();
        BOOST_TEST(r.out.error == "");
        BOOST_TEST(r.body == "ok");
      }
      BOOST_TEST(server.most_at_once() == 2);
    }
  }
}

BOOST_AUTO_TEST_CASE(refused_silent_aborted_and_throwing_transfers_end_with_their_reason) {
  // A port nothing listens on: refused.
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t size = sizeof a;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &size);
  auto closed_port = ntohs(a.sin_port);
  ::close(probe);

  std::mutex release_mutex;
  std::condition_variable release;
  bool released = false;
  wire_server server([&](int fd, const seen_request& r) {
    if (r.head.find(" /stream ") != std::string::npos)
      write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    std::unique_lock lock{release_mutex};
    release.wait_for(lock, 5s, [&] { return released; });
    return false;
  });
  for (auto engine : engines) {
    BOOST_TEST_CONTEXT(name_of(engine)) {
      http_client client(8, engine);
      auto refused = call(client, get("http://127.0.0.1:" + std::to_string(closed_port) + "/"));
      BOOST_TEST(refused.out.connect_failed);
      BOOST_TEST(!refused.out.timed_out);
      BOOST_TEST(refused.out.status == 0);
      BOOST_TEST(refused.out.error != "");

      auto slow = get(server.url("/silent"));
      slow.timeout_ms = 200;
      auto silent = call(client, slow);
      BOOST_TEST(silent.out.timed_out);
      BOOST_TEST(!silent.out.connect_failed); // the request went out
      BOOST_TEST(silent.out.error != "");

      auto streamed = call(client, get(server.url("/stream")), 10s, [&](std::uint64_t id) {
        std::this_thread::sleep_for(100ms);
        client.abort(id);
      });
      BOOST_TEST(streamed.out.aborted);
      BOOST_TEST(streamed.body == "first");

      auto throwing = get(server.url("/stream"));
      throwing.on_data = [](long, std::string_view) { throw std::runtime_error("no room"); };
      auto threw = call(client, throwing);
      BOOST_TEST(threw.out.error.find("could not be handled: no room") != std::string::npos,
                 threw.out.error);
      BOOST_TEST(threw.out.status == 200);
    }
  }
  {
    std::lock_guard guard{release_mutex};
    released = true;
  }
  release.notify_all();
}

BOOST_AUTO_TEST_CASE(malformed_and_cut_short_replies_are_errors) {
  wire_server server([](int fd, const seen_request& r) {
    if (r.head.find(" /garbage ") != std::string::npos)
      write_all(fd, "SMTP ready\r\n\r\n");
    else if (r.head.find(" /short ") != std::string::npos)
      write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
    else if (r.head.find(" /badchunk ") != std::string::npos)
      write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n");
    return false;
  });
  for (auto engine : engines) {
    BOOST_TEST_CONTEXT(name_of(engine)) {
      http_client client(4, engine);
      for (const char* path : {"/garbage", "/short", "/badchunk", "/nothing"}) {
        auto r = call(client, get(server.url(path)));
        BOOST_TEST(r.out.error != "", path);
        BOOST_TEST(!r.out.aborted, path);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_native_loop_serves_plain_http_to_addresses_and_localhost_only) {
  auto t = native_target_of("http://localhost:11434/api/chat");
  BOOST_REQUIRE(t);
  BOOST_TEST(t->host == "127.0.0.1");
  BOOST_TEST(t->port == 11434);
  BOOST_TEST(t->host_header == "localhost:11434");
  BOOST_TEST(t->path == "/api/chat");
  auto v6 = native_target_of("http://[::1]:8080");
  BOOST_REQUIRE(v6);
  BOOST_TEST(v6->host == "::1");
  BOOST_TEST(v6->path == "/");
  auto query = native_target_of("http://10.0.0.2?x=1#frag");
  BOOST_REQUIRE(query);
  BOOST_TEST(query->port == 80);
  BOOST_TEST(query->path == "/?x=1");
  for (const char* other : {"https://127.0.0.1/", "http://ollama:11434/", "http://127.0.0.1:0/",
                            "http://127.0.0.1:99999/", "http://u:p@127.0.0.1/", "http://[::1/",
                            "http://127.0.0.1:8a/", "ftp://127.0.0.1/"})
    BOOST_TEST(!native_target_of(other), other);
}

BOOST_AUTO_TEST_CASE(the_reader_takes_a_reply_in_any_pieces) {
  std::string reply = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: "
                      "chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
  for (std::size_t piece = 1; piece <= reply.size(); ++piece) {
    http_reader r;
    std::string body;
    r.on_body = [&](long status, std::string_view b) {
      BOOST_TEST(status == 201);
      body.append(b);
    };
    for (std::size_t i = 0; i < reply.size(); i += piece)
      BOOST_REQUIRE(r.feed(std::string_view{reply}.substr(i, piece)));
    BOOST_TEST(r.complete());
    BOOST_TEST(r.reusable());
    BOOST_TEST(body == "abcde");
  }
  http_reader trailing;
  BOOST_TEST(trailing.feed(sized("x") + "HTTP/1.1 200"));
  BOOST_TEST(trailing.complete());
  BOOST_TEST(!trailing.reusable()); // bytes nobody asked for follow it
  http_reader closing;
  BOOST_TEST(closing.feed("HTTP/1.0 200 OK\r\n\r\nbody"));
  BOOST_TEST(!closing.complete());
  BOOST_TEST(closing.closed());
  BOOST_TEST(!closing.reusable());
  http_reader empty;
  BOOST_TEST(!empty.closed());
  BOOST_TEST(empty.error() != "");
}

BOOST_AUTO_TEST_SUITE_END()
