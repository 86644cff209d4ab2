// News between replicas as NOTIFY payloads (adapters/store/news_codec).
#include "adapters/store/news_codec.hpp"
#include "adapters/store/postgres_news.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>

namespace store = riposte::adapters::store;
using riposte::events::log_news;

namespace {

std::vector<log_news> heard(const std::vector<std::string>& payloads, const std::string& me) {
  std::vector<log_news> out;
  for (const auto& p : payloads)
    for (auto& n : store::decode_news(p, me))
      out.push_back(std::move(n));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(news_between_replicas)

BOOST_AUTO_TEST_CASE(appends_are_told_once_per_stream_at_their_last_seq_and_cancels_in_order) {
  std::vector<log_news> told{{log_news::kind::appended, "resp_a", 3, {}},
                             {log_news::kind::cancel, "resp_b", 0, "t1"},
                             {log_news::kind::appended, "resp_a", 7, {}},
                             {log_news::kind::appended, "resp_c", 0, {}},
                             {log_news::kind::cancel, "resp_d", 0, "t \"2\""}};
  auto payloads = store::encode_news("a/1", told);
  BOOST_REQUIRE_EQUAL(payloads.size(), 1u);
  auto got = heard(payloads, "b/2");
  BOOST_REQUIRE_EQUAL(got.size(), 4u);
  BOOST_TEST((got[0].what == log_news::kind::cancel));
  BOOST_TEST(got[0].stream == "resp_b");
  BOOST_TEST(got[1].tenant == "t \"2\"");
  std::map<std::string, std::uint64_t> appended;
  for (const auto& n : got)
    if (n.what == log_news::kind::appended)
      appended[n.stream] = n.seq;
  BOOST_TEST(appended == (std::map<std::string, std::uint64_t>{{"resp_a", 7}, {"resp_c", 0}}));
  // Its sender never hears it.
  BOOST_TEST(heard(payloads, "a/1").empty());
}

BOOST_AUTO_TEST_CASE(many_appends_take_several_payloads_each_under_the_limit) {
  std::vector<log_news> told;
  for (int i = 0; i < 2000; ++i)
    told.push_back({log_news::kind::appended,
                    "resp_" + std::string(40, 'a') + std::to_string(i),
                    static_cast<std::uint64_t>(i),
                    {}});
  auto payloads = store::encode_news("a/1", told);
  BOOST_TEST(payloads.size() > 10u);
  for (const auto& p : payloads)
    BOOST_TEST(p.size() <= store::max_news_payload);
  BOOST_TEST(heard(payloads, "b/2").size() == 2000u);
}

BOOST_AUTO_TEST_CASE(what_is_not_news_is_ignored_and_a_hello_is_a_peer_saying_nothing) {
  for (const std::string bad :
       {"", "x", "[]", "{\"o\":1,\"n\":[]}", "{\"o\":\"b\",\"n\":{}}",
        "{\"o\":\"b\",\"n\":[[\"a\",\"resp_x\",-1],[\"a\",\"resp_x\",\"1\"],[\"z\",\"r\",1],"
        "[\"c\",\"resp_x\",5],[\"a\",\"\",1],[\"a\",\"resp\\u0001x\",1],[\"c\",\"r\",\"t\\n\"]]"
        "}"}) {
    bool peer = true;
    BOOST_TEST(store::decode_news(bad, "me").empty(), bad);
    (void)store::decode_news(bad, "me", &peer);
    if (bad.find("resp_x") == std::string::npos)
      BOOST_TEST(!peer, bad);
  }
  bool peer = false;
  BOOST_TEST(store::decode_news(store::hello_news("b/2"), "a/1", &peer).empty());
  BOOST_TEST(peer);
  BOOST_TEST(store::decode_news(store::hello_news("a/1"), "a/1", &peer).empty());
  BOOST_TEST(!peer);
}

// What the shared queue's function sends (PostgreSQL builds the payload):
// each ticket it admitted with its lease holder, heard as such and in order;
// one that names no ticket (0, or not a number) asks for a look.
BOOST_AUTO_TEST_CASE(admissions_name_lease_holders_and_keep_their_order) {
  auto got = store::decode_news(R"({"o":"admission","n":[["j","b/12",7],["j","c-d/3",2],)"
                                R"(["j","b/12",5],["j","",1],["j","x\u0001",1],["j","e/1",0],)"
                                R"(["j","e/1","9"]]})",
                                "a/1");
  BOOST_REQUIRE_EQUAL(got.size(), 5u);
  BOOST_TEST((got[0].what == log_news::kind::admitted));
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  for (const auto& n : got)
    seen.emplace_back(n.stream, n.seq);
  decltype(seen) want{{"b/12", 7}, {"c-d/3", 2}, {"b/12", 5}, {"e/1", 0}, {"e/1", 0}};
  BOOST_TEST((seen == want));
  auto again = heard(store::encode_news("a/1", got), "b/12");
  BOOST_REQUIRE_EQUAL(again.size(), 5u);
  BOOST_TEST((again[2].what == log_news::kind::admitted));
  BOOST_TEST(again[2].stream == "b/12");
  BOOST_TEST(again[2].seq == 5u);
}

// The news connections carry keepalives and timeouts in either form of
// connection string, after what the operator gave.
BOOST_AUTO_TEST_CASE(news_connections_are_watched_for_a_silent_peer) {
  using riposte::adapters::store::watched_uri;
  const std::string tail = "connect_timeout=5?keepalives=1?keepalives_idle=5?"
                           "keepalives_interval=2?keepalives_count=3?tcp_user_timeout=10000";
  auto joined = [&](char sep) {
    auto t = tail;
    std::replace(t.begin(), t.end(), '?', sep);
    return t;
  };
  BOOST_TEST(watched_uri("postgresql://u@127.0.0.1:5432/db") ==
             "postgresql://u@127.0.0.1:5432/db?" + joined('&'));
  BOOST_TEST(watched_uri("postgres://h/db?sslmode=disable") ==
             "postgres://h/db?sslmode=disable&" + joined('&'));
  BOOST_TEST(watched_uri("host=127.0.0.1 port=5 dbname=x") ==
             "host=127.0.0.1 port=5 dbname=x " + joined(' '));
  BOOST_TEST(watched_uri("") == joined(' '));
}

BOOST_AUTO_TEST_SUITE_END()
