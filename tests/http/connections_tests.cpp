// Which connections the server may close for others waiting: the policy of
// http/connections.hpp on real loopback sockets.
#include "http/connections.hpp"

#include <arpa/inet.h>
#include <boost/test/unit_test.hpp>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace riposte::http;
using namespace std::chrono_literals;

namespace {

class listener {
public:
  listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("cannot listen");
    socklen_t size = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &size);
    port_ = ntohs(a.sin_port);
  }
  ~listener() { ::close(fd_); }
  int fd() const { return fd_; }
  int connect() const {
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("cannot connect");
    return c;
  }
  int accept() const { return ::accept(fd_, nullptr, nullptr); }

private:
  int fd_;
  std::uint16_t port_ = 0;
};

// A connected pair: the client's end and the server's.
struct pair {
  explicit pair(const listener& l)
    : client(l.connect())
    , server(l.accept()) {}
  ~pair() {
    ::close(client);
    ::close(server);
  }
  // The server shut the connection down: the client reads end of file.
  bool client_sees_end() const {
    pollfd p{client, POLLIN, 0};
    if (::poll(&p, 1, 500) != 1)
      return false;
    char c;
    return ::recv(client, &c, 1, MSG_DONTWAIT) == 0;
  }
  int client, server;
};

const auto later = connection_watch::clock::now() + 10s;

} // namespace

BOOST_AUTO_TEST_SUITE(connections)

BOOST_AUTO_TEST_CASE(a_connection_waiting_for_its_first_request_is_idle_and_can_be_closed) {
  listener l;
  pair p{l};
  connection_watch w{p.server};
  BOOST_TEST(!w.idle_since().has_value()); // no read waiting yet
  w.read_started();
  BOOST_TEST(w.idle_since().has_value());
  // Not before it has been idle long enough.
  BOOST_TEST(!w.close_if_idle(connection_watch::clock::now(), 1s));
  BOOST_TEST(w.close_if_idle(later, 1s));
  BOOST_TEST(p.client_sees_end());
  // Once only.
  BOOST_TEST(!w.close_if_idle(later, 1s));
}

BOOST_AUTO_TEST_CASE(a_request_in_flight_or_an_answer_being_written_is_not_idle) {
  listener l;
  pair p{l};
  connection_watch w{p.server};
  w.read_started();
  w.read_done(120);  // a whole request...
  w.request_began(); // ...handed to a route
  w.read_started();  // reading ahead (pipelining)
  BOOST_TEST(!w.close_if_idle(later, 1s));
  w.request_ended();
  w.write_started();
  BOOST_TEST(!w.close_if_idle(later, 1s));
  w.write_done();
  BOOST_TEST(w.idle_since().has_value());
  BOOST_TEST(w.close_if_idle(later, 1s));
}

BOOST_AUTO_TEST_CASE(part_of_a_next_request_read_or_waiting_in_the_kernel_is_not_idle) {
  listener l;
  {
    pair p{l};
    connection_watch w{p.server};
    w.read_started();
    w.read_done(10); // "GET /heal"
    w.read_started();
    BOOST_TEST(!w.idle_since().has_value());
    BOOST_TEST(!w.close_if_idle(later, 1s));
  }
  {
    pair p{l};
    connection_watch w{p.server};
    w.read_started();
    BOOST_REQUIRE(::send(p.client, "GET", 3, 0) == 3);
    // Give loopback a moment to deliver.
    pollfd in{p.server, POLLIN, 0};
    BOOST_REQUIRE(::poll(&in, 1, 1000) == 1);
    BOOST_TEST(!w.close_if_idle(later, 1s));
    BOOST_TEST(!p.client_sees_end());
  }
}

BOOST_AUTO_TEST_CASE(a_websocket_or_a_closing_socket_is_never_closed_here) {
  listener l;
  pair p{l};
  connection_watch pinned{p.server};
  pinned.read_started();
  pinned.pin();
  BOOST_TEST(!pinned.close_if_idle(later, 1s));
  pair q{l};
  connection_watch gone{q.server};
  gone.read_started();
  gone.closing(); // its descriptor may belong to someone else from now on
  BOOST_TEST(!gone.close_if_idle(later, 1s));
  BOOST_TEST(!q.client_sees_end());
}

BOOST_AUTO_TEST_CASE(a_ticket_keeps_its_connection_busy_until_released_or_dropped) {
  listener l;
  pair p{l};
  auto w = std::make_shared<connection_watch>(p.server);
  w->read_started();
  {
    flight_ticket t{w};
    BOOST_TEST(!w->idle_since().has_value());
    flight_ticket moved = std::move(t);
    t.release(); // a moved-from ticket holds nothing
    BOOST_TEST(!w->idle_since().has_value());
  }
  BOOST_TEST(w->idle_since().has_value());
  flight_ticket t{w};
  t.release();
  t.release();
  BOOST_TEST(w->idle_since().has_value());
}

BOOST_AUTO_TEST_CASE(the_registry_closes_as_many_as_asked_the_longest_idle_first) {
  listener l;
  std::vector<std::unique_ptr<pair>> pairs;
  connection_registry r;
  for (std::uint64_t id = 1; id <= 4; ++id) {
    pairs.push_back(std::make_unique<pair>(l));
    auto w = std::make_shared<connection_watch>(pairs.back()->server);
    r.enroll(id, w);
    if (id != 3) // 3 is busy: no read waiting
      w->read_started();
    std::this_thread::sleep_for(5ms); // 1 idle longest, then 2, then 4
  }
  BOOST_TEST(r.size() == 4u);
  BOOST_TEST(r.find(2) != nullptr);
  BOOST_TEST(r.find(9) == nullptr);
  auto now = connection_watch::clock::now();
  // None idle for a minute.
  BOOST_TEST(r.close_idle(4, 1min, now) == 0u);
  BOOST_TEST(r.close_idle(0, 0s, now) == 0u);
  BOOST_TEST(r.close_idle(1, 0s, now) == 1u);
  BOOST_TEST(pairs[0]->client_sees_end());
  BOOST_TEST(r.close_idle(5, 0s, now) == 2u); // 2 and 4; not 3, not 1 again
  BOOST_TEST(pairs[1]->client_sees_end());
  BOOST_TEST(pairs[3]->client_sees_end());
  BOOST_TEST(!pairs[2]->client_sees_end());
  r.forget(3);
  BOOST_TEST(r.size() == 3u);
}

BOOST_AUTO_TEST_CASE(the_accept_queue_of_a_listener_is_counted) {
  listener l;
  BOOST_TEST(accept_queue_length(l.fd()) == 0u);
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(l.connect());
  BOOST_TEST(accept_queue_length(l.fd()) == 3u);
  int taken = l.accept();
  BOOST_TEST(accept_queue_length(l.fd()) == 2u);
  ::close(taken);
  for (int c : clients)
    ::close(c);
  BOOST_TEST(accept_queue_length(-1) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
