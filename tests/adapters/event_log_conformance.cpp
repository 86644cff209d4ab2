// The event_log conformance suite: the same cases against every store, chosen
// by RIPOSTE_TEST_STORE (memory | rocksdb | postgres).
#define BOOST_TEST_MODULE event_log_conformance
#include "adapters/store/store.hpp"
#include "events/event.hpp"
#include "events/item_index.hpp"
#include "projections/conversation.hpp"

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>
#include <rocksdb/db.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace riposte::events {
// Lets Boost.Test print envelopes in failed comparisons.
inline std::ostream& operator<<(std::ostream& os, const envelope& env) {
  return os << serialize(env);
}
} // namespace riposte::events

namespace store = riposte::adapters::store;
namespace ev = riposte::events;
using ev::riposte_errc;

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

std::string store_kind() {
  return env_or("RIPOSTE_TEST_STORE", "rocksdb");
}

std::string unique_suffix() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(rd() % 100000);
}

ev::new_event delta(const std::string& text, const std::string& tenant = "tenant_a") {
  return ev::make_new_event(ev::output_text_delta{"msg_1", 0, 0, text}, tenant, 1700000000123456);
}

// One fresh store per test case: a new RocksDB directory or a new Postgres
// database on the throwaway server the test script started.
struct fresh_store {
  std::string kind = store_kind();
  std::string uri;
  std::filesystem::path dir;
  std::string db_name;
  std::unique_ptr<ev::event_log> log;

  fresh_store() {
    if (kind == "rocksdb") {
      dir = std::filesystem::temp_directory_path() / ("riposte_conf_" + unique_suffix());
      uri = "rocksdb:" + dir.string();
    } else if (kind == "postgres") {
      std::ifstream in{env_or("RIPOSTE_TEST_PG_URL_FILE", "")};
      std::string admin;
      std::getline(in, admin);
      BOOST_REQUIRE_MESSAGE(!admin.empty(), "no Postgres URL: the pg fixture did not start");
      db_name = "riposte_" + unique_suffix();
      pqxx::connection c{admin};
      pqxx::nontransaction n{c};
      n.exec("create database " + db_name);
      uri = admin.substr(0, admin.rfind('/') + 1) + db_name;
    } else {
      uri = "memory";
    }
    open();
  }

  ~fresh_store() {
    log.reset();
    if (!dir.empty())
      std::filesystem::remove_all(dir);
  }

  void open() {
    auto opened = store::open_store({uri, store::sync_policy::none, 4});
    BOOST_REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string{} : opened.error().message));
    log = std::move(*opened);
  }

  void reopen() {
    if (kind == "memory")
      return; // a memory log does not outlive itself
    log.reset();
    open();
  }

  ev::event_log& operator*() { return *log; }
  ev::event_log* operator->() { return log.get(); }
};

// Opens a closed RocksDB store directly and hands `f` one column family.
template <class F>
void with_raw_rocksdb(const std::filesystem::path& dir, const std::string& family, F f) {
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::vector<std::string> names;
  BOOST_REQUIRE(rocksdb::DB::ListColumnFamilies({}, dir.string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names)
    descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions{});
  BOOST_REQUIRE(rocksdb::DB::Open({}, dir.string(), descriptors, &handles, &raw).ok());
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == family)
      f(*raw, handles[i]);
  for (auto* h : handles)
    raw->DestroyColumnFamilyHandle(h);
  delete raw;
}

template <class T>
T must(ev::result<T> r) {
  BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? std::string{} : r.error().message));
  return std::move(*r);
}

} // namespace

BOOST_AUTO_TEST_SUITE(appending_and_reading)

BOOST_AUTO_TEST_CASE(a_new_stream_starts_at_seq_zero_and_reads_back_in_order) {
  fresh_store s;
  auto stored = must(s->append("resp_a", ev::no_stream, {delta("a"), delta("b"), delta("c")}));
  BOOST_TEST(stored.size() == 3u);
  for (std::uint64_t i = 0; i < 3; ++i) {
    BOOST_TEST(stored[i].seq == i);
    BOOST_TEST(stored[i].stream == "resp_a");
    BOOST_TEST(stored[i].tenant == "tenant_a");
    BOOST_TEST(stored[i].recorded_at == 1700000000123456);
  }
  BOOST_TEST(stored[1].global_position > stored[0].global_position);
  auto more = must(s->append("resp_a", 2, {delta("d")}));
  BOOST_TEST(more[0].seq == 3u);
  auto read = must(s->read("resp_a", 0, 100));
  BOOST_REQUIRE(read.size() == 4u);
  BOOST_TEST(read[0] == stored[0]);
  BOOST_TEST(read[3] == more[0]);
  BOOST_TEST(read[2].data["delta"] == "c");
  BOOST_TEST(*s->version("resp_a") == 3);
  auto tail = must(s->read("resp_a", 2, 1));
  BOOST_REQUIRE(tail.size() == 1u);
  BOOST_TEST(tail[0].seq == 2u);
}

// Any valid JSON string is stored, U+0000 included (a tool's binary output):
// PostgreSQL's jsonb could not hold it, so its column is json.
BOOST_AUTO_TEST_CASE(text_with_a_nul_character_round_trips) {
  fresh_store s;
  const std::string text{"a\0b\xe2\x82\xac", 6};
  auto created = ev::make_new_event(
      ev::response_created{"resp_nul", "m", 1, nlohmann::json{{"note", text}},
                           nlohmann::json::array({{{"type", "message"}, {"content", text}}}),
                           "blocking"},
      "tenant_a", 1700000000123456);
  must(s->append("resp_nul", ev::no_stream, {created, delta(text)}));
  auto read = must(s->read("resp_nul", 0, 10));
  BOOST_REQUIRE(read.size() == 2u);
  BOOST_TEST(read[0].data["params"]["note"].get<std::string>() == text);
  BOOST_TEST(read[1].data["delta"].get<std::string>() == text);
}

BOOST_AUTO_TEST_CASE(a_wrong_expected_version_is_a_conflict_and_writes_nothing) {
  fresh_store s;
  must(s->append("resp_b", ev::no_stream, {delta("a"), delta("b")}));
  auto again = s->append("resp_b", ev::no_stream, {delta("x")});
  BOOST_REQUIRE(!again.has_value());
  BOOST_TEST((again.error().code == riposte_errc::version_conflict));
  auto stale = s->append("resp_b", 0, {delta("x"), delta("y")});
  BOOST_REQUIRE(!stale.has_value());
  BOOST_TEST((stale.error().code == riposte_errc::version_conflict));
  auto ahead = s->append("resp_missing", 4, {delta("x")});
  BOOST_REQUIRE(!ahead.has_value());
  BOOST_TEST((ahead.error().code == riposte_errc::version_conflict));
  BOOST_TEST(*s->version("resp_missing") == ev::no_stream);
  BOOST_TEST(must(s->read("resp_b", 0, 10)).size() == 2u);
  auto any = must(s->append("resp_b", ev::any_version, {delta("z")}));
  BOOST_TEST(any[0].seq == 2u);
}

BOOST_AUTO_TEST_CASE(a_group_commit_writes_the_markers_its_appends_name) {
  fresh_store s;
  ev::append_request opening{"resp_m1", ev::no_stream, {delta("a")}};
  opening.markers = {{"inflight", "resp_m1"},
                     {"items\x1f"
                      "t1\x1f"
                      "msg_1",
                      "resp_m1"}};
  ev::append_request plain{"resp_m2", ev::no_stream, {delta("b")}};
  auto results = s->append_many({opening, plain});
  BOOST_REQUIRE(results[0].has_value());
  BOOST_REQUIRE(results[1].has_value());
  s.reopen();
  auto marked = s->list_markers("inflight");
  BOOST_REQUIRE(marked.has_value());
  BOOST_TEST(*marked == std::vector<std::string>{"resp_m1"});
  BOOST_TEST(must(s->list_markers("items\x1f"
                                  "t1\x1f"
                                  "msg_1")) == std::vector<std::string>{"resp_m1"});
  BOOST_TEST(must(s->read("resp_m1", 0, 10)).size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_item_index_finds_the_newest_holder_of_an_id_within_its_tenant) {
  fresh_store s;
  auto put = [&](const std::string& tenant, const std::string& id, std::int64_t when,
                 const std::string& holder) {
    ev::append_request r{holder, ev::any_version, {delta("x")}};
    r.markers = {ev::item_marker(tenant, id, when, holder)};
    BOOST_REQUIRE(s->append_many({r})[0].has_value());
  };
  put("t1", "msg_1", 1'000, "resp_old");
  put("t1", "msg_1", 9'000'000, "resp_new");
  put("t1", "msg_1", 2'000, "resp_old"); // a later item of the same holder
  put("t2", "msg_1", 5'000, "resp_other");
  put("t1", "msg_10", 5'000, "resp_ten");
  // An entry a store holds from before the namespace began with the id.
  BOOST_REQUIRE(s->put_marker(std::string{"items\x1ft1\x1fmsg_1"},
                              std::string{"00000000000003000000\x1fresp_older_layout"})
                    .has_value());
  s.reopen();
  BOOST_TEST(must(ev::item_holders(*s, "t1", "msg_1")) ==
             (std::vector<std::string>{"resp_new", "resp_older_layout", "resp_old"}));
  // Entries sort by the item's id whatever the tenant (ids sort by time),
  // before the markers that come and go.
  BOOST_TEST(
      (ev::item_marker("t2", "msg_1", 1, "r").ns < ev::item_marker("t1", "msg_2", 1, "r").ns));
  BOOST_TEST((ev::item_marker("t1", "msg_2", 1, "r").ns < std::string{"inflight"}));
  BOOST_TEST(must(ev::item_holders(*s, "t2", "msg_1")) == std::vector<std::string>{"resp_other"});
  BOOST_TEST(must(ev::item_holders(*s, "t1", "msg_")).empty());
  BOOST_TEST(must(ev::item_holders(*s, "t3", "msg_1")).empty());
  // Ids riposte would never make are never looked up.
  BOOST_TEST(!ev::indexable_item_id(std::string("msg\0_1", 6)));
  BOOST_TEST(!ev::indexable_item_id(std::string(257, 'a')));
  BOOST_TEST(ev::indexable_item_id("fc_67e1:a-b.c"));
  BOOST_TEST(must(ev::item_holders(*s, "t1", std::string("msg_1\0", 6))).empty());
  // An append refused for its version writes none of its markers.
  ev::append_request late{"resp_new", ev::no_stream, {delta("y")}};
  late.markers = {ev::item_marker("t1", "msg_late", 1, "resp_new")};
  BOOST_TEST(!s->append_many({late})[0].has_value());
  BOOST_TEST(must(ev::item_holders(*s, "t1", "msg_late")).empty());
}

BOOST_AUTO_TEST_CASE(a_group_commit_answers_each_append_as_if_it_were_alone) {
  fresh_store s;
  must(s->append("resp_g1", ev::no_stream, {delta("a")}));
  std::vector<ev::append_request> group{
      {"resp_g1", 0, {delta("b"), delta("c")}}, // continues
      {"resp_g2", ev::no_stream, {delta("x")}}, // starts
      {"resp_g1", 0, {delta("stale")}},         // its expected head moved: conflict
      {"resp_g2", 0, {delta("y")}},             // after the group's own append
      {"resp_g3", 7, {delta("nope")}},          // a head it never had
      {"", ev::no_stream, {delta("z")}}};       // refused alone
  auto results = s->append_many(group);
  BOOST_REQUIRE(results.size() == group.size());
  BOOST_REQUIRE(results[0].has_value());
  BOOST_TEST(results[0]->front().seq == 1u);
  BOOST_TEST(results[0]->back().seq == 2u);
  BOOST_REQUIRE(results[1].has_value());
  BOOST_TEST(results[1]->front().seq == 0u);
  BOOST_REQUIRE(!results[2].has_value());
  BOOST_TEST((results[2].error().code == riposte_errc::version_conflict));
  BOOST_REQUIRE(results[3].has_value());
  BOOST_TEST(results[3]->front().seq == 1u);
  BOOST_TEST(!results[4].has_value());
  BOOST_TEST(!results[5].has_value());
  // What the store holds is exactly what was answered, in global order.
  auto one = must(s->read("resp_g1", 0, 10));
  BOOST_REQUIRE(one.size() == 3u);
  BOOST_TEST(one[2].data["delta"] == "c");
  auto two = must(s->read("resp_g2", 0, 10));
  BOOST_REQUIRE(two.size() == 2u);
  BOOST_TEST(two[1].data["delta"] == "y");
  BOOST_TEST(*s->version("resp_g3") == ev::no_stream);
  auto all = must(s->read_all(0, 100));
  BOOST_REQUIRE(all.size() == 5u);
  for (std::size_t i = 1; i < all.size(); ++i)
    BOOST_TEST(all[i].global_position > all[i - 1].global_position);
  s.reopen();
  BOOST_TEST(must(s->read("resp_g1", 0, 10)).size() == 3u);
}

// A wide group, as a busy writer makes it: each append keeps its own seq,
// markers and answer, and the feed holds the group's events in one order.
// One append the store refuses (PostgreSQL cannot hold NUL in text) fails
// alone: what is stored is exactly what was answered.
BOOST_AUTO_TEST_CASE(a_wide_group_is_stored_as_answered_and_one_refusal_fails_alone) {
  fresh_store s;
  must(s->append("resp_w0", ev::no_stream, {delta("first")}));
  std::vector<ev::append_request> group;
  for (int i = 0; i < 40; ++i) {
    std::string id = "resp_w";
    id += std::to_string(i);
    ev::append_request r{id, i == 0 ? 0 : ev::no_stream, {delta("a"), delta("b")}};
    r.markers = {{"inflight", id}};
    r.echo_data = i % 2 == 0;
    group.push_back(std::move(r));
  }
  group[27].events.push_back(delta("odd", std::string("ten\0ant", 7)));
  group[9].expected_version = 5; // a conflict inside the group
  // Two groups: the first stored whole, the second holding the refusal.
  std::vector<ev::append_request> first(group.begin(), group.begin() + 20);
  std::vector<ev::append_request> second(group.begin() + 20, group.end());
  auto results = s->append_many(first);
  for (auto& r : s->append_many(second))
    results.push_back(std::move(r));
  BOOST_REQUIRE(results.size() == group.size());
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (i == 27)
      continue;
    if (i == 9) {
      BOOST_TEST((!results[i] && results[i].error().code == riposte_errc::version_conflict));
      continue;
    }
    BOOST_REQUIRE_MESSAGE(results[i].has_value(), group[i].stream);
    BOOST_TEST(results[i]->front().seq == (i == 0 ? 1u : 0u));
    BOOST_TEST(results[i]->back().seq == (i == 0 ? 2u : 1u));
    if (group[i].echo_data)
      BOOST_TEST(results[i]->back().data["delta"] == "b");
  }
  s.reopen();
  auto marked = must(s->list_markers("inflight"));
  std::set<std::string> inflight(marked.begin(), marked.end());
  for (std::size_t i = 0; i < group.size(); ++i) {
    auto version = must(s->version(group[i].stream));
    bool stored = results[i].has_value();
    BOOST_TEST(inflight.count(group[i].stream) == (stored ? 1u : 0u), group[i].stream);
    if (i == 0)
      BOOST_TEST(version == 2);
    else if (i == 27 && stored)
      BOOST_TEST(version == 2);
    else
      BOOST_TEST(version == (stored ? 1 : ev::no_stream), group[i].stream);
  }
  auto all = must(s->read_all(0, 1000));
  std::size_t expected = 1;
  for (const auto& r : results)
    if (r)
      expected += r->size();
  BOOST_TEST(all.size() == expected);
  for (std::size_t i = 1; i < all.size(); ++i)
    BOOST_TEST(all[i].global_position > all[i - 1].global_position);
}

// Replicas on one PostgreSQL: a replica's in-flight markers are its own
// until its lease runs out; then the replica that claims them gets them, and
// the one that lost its lease can neither renew nor write another event.
BOOST_AUTO_TEST_CASE(a_replica_whose_lease_ran_out_is_fenced_and_its_work_claimed) {
  fresh_store s;
  auto with_lease = [&](const std::string& id) {
    auto opened = store::open_postgres_log(s.uri, 2, store::sync_policy::none, {id, 400});
    BOOST_REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string{} : opened.error().message));
    return std::move(*opened);
  };
  if (s.kind != "postgres") {
    // One process holds the store alone: everything is always its own.
    BOOST_TEST(s->inflight_namespace() == "inflight");
    BOOST_TEST(must(s->renew_lease()));
    BOOST_TEST(must(s->claim_orphans()).empty());
    return;
  }
  // An unowned marker an older riposte left.
  BOOST_TEST(s->put_marker("inflight", "resp_legacy").has_value());
  auto a = with_lease("replica-a");
  auto b = with_lease("replica-b");
  BOOST_TEST(a->inflight_namespace() == "inflight\x1freplica-a");
  ev::append_request run{"resp_on_a", ev::no_stream, {delta("a")}};
  run.markers = {{a->inflight_namespace(), "resp_on_a"}};
  BOOST_REQUIRE(a->append_many({run})[0].has_value());
  // A is alive: B takes only the unowned marker.
  BOOST_TEST(must(b->claim_orphans()) == std::vector<std::string>{"resp_legacy"});
  BOOST_TEST(must(b->claim_orphans()).empty());
  // A stops renewing; B renews past A's lease and claims its work.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    BOOST_TEST(must(b->renew_lease()));
  }
  BOOST_TEST(must(b->claim_orphans()) == std::vector<std::string>{"resp_on_a"});
  BOOST_TEST(must(s->list_markers(b->inflight_namespace())) ==
             (std::vector<std::string>{"resp_legacy", "resp_on_a"}));
  BOOST_TEST(must(s->list_markers(a->inflight_namespace())).empty());
  // A is fenced: no renewal, no append of either kind, nothing written.
  BOOST_TEST(!must(a->renew_lease()));
  auto late = a->append("resp_on_a", 0, {delta("late")});
  BOOST_REQUIRE(!late.has_value());
  BOOST_TEST((late.error().code == riposte_errc::store_error));
  BOOST_TEST(late.error().message.find("lease") != std::string::npos);
  auto group =
      a->append_many({{"resp_on_a", 0, {delta("x")}}, {"resp_new", ev::no_stream, {delta("y")}}});
  BOOST_TEST((!group[0] && !group[1]));
  BOOST_TEST(*s->version("resp_on_a") == 0);
  BOOST_TEST(*s->version("resp_new") == ev::no_stream);
  // B, alive, writes; a process taking B's name fences B in turn.
  BOOST_TEST(b->append("resp_on_a", 0, {delta("closed")}).has_value());
  auto b_again = with_lease("replica-b");
  BOOST_TEST(!must(b->renew_lease()));
  BOOST_TEST(!b->append("resp_on_a", 1, {delta("stale")}).has_value());
  BOOST_TEST(b_again->append("resp_on_a", 1, {delta("new")}).has_value());
  // The new incarnation finds its predecessor's markers as its own.
  BOOST_TEST(must(b_again->list_markers(b_again->inflight_namespace())).size() == 2u);
  // A clean stop ends the lease at once: its markers are claimed right away.
  ev::append_request more{"resp_more", ev::no_stream, {delta("m")}};
  more.markers = {{b_again->inflight_namespace(), "resp_more"}};
  BOOST_REQUIRE(b_again->append_many({more})[0].has_value());
  b_again.reset();
  auto c = with_lease("replica-c");
  BOOST_TEST(must(c->claim_orphans()).size() == 3u);
}

// Replicas on one PostgreSQL hear of each other's appends (stream and seq,
// once per group) and cancels, never of their own; a store one process
// holds alone has no one to tell.
BOOST_AUTO_TEST_CASE(replicas_hear_each_other_s_appends_and_cancels_but_not_their_own) {
  fresh_store s;
  if (s.kind != "postgres") {
    BOOST_TEST(!s->subscribe_news([](std::vector<ev::log_news>) {}));
    s->tell({ev::log_news::kind::cancel, "resp_x", 0, "t"}); // nobody to tell: nothing happens
    return;
  }
  auto with_lease = [&](const std::string& id) {
    auto opened = store::open_postgres_log(s.uri, 2, store::sync_policy::none, {id, 5000});
    BOOST_REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string{} : opened.error().message));
    return std::move(*opened);
  };
  struct heard {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<ev::log_news> news;
    bool wait_for(std::size_t n) {
      std::unique_lock lock{mutex};
      return cv.wait_for(lock, std::chrono::seconds(10), [&] { return news.size() >= n; });
    }
  } on_a, on_b;
  auto listen = [](heard& h) {
    return [&h](std::vector<ev::log_news> batch) {
      std::lock_guard guard{h.mutex};
      for (auto& n : batch)
        h.news.push_back(std::move(n));
      h.cv.notify_all();
    };
  };
  auto a = with_lease("replica-a");
  auto b = with_lease("replica-b");
  auto sub_a = a->subscribe_news(listen(on_a));
  auto sub_b = b->subscribe_news(listen(on_b));
  BOOST_REQUIRE(sub_a);
  BOOST_REQUIRE(sub_b);
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // both listening
  BOOST_REQUIRE(a->append("resp_one", ev::no_stream, {delta("x"), delta("y")}).has_value());
  auto group =
      a->append_many({{"resp_two", ev::no_stream, {delta("a")}}, {"resp_one", 1, {delta("z")}}});
  BOOST_REQUIRE((group[0] && group[1]));
  b->tell({ev::log_news::kind::cancel, "resp_two", 0, "tenant-1"});
  BOOST_REQUIRE(on_b.wait_for(2));
  BOOST_REQUIRE(on_a.wait_for(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // anything else would be in
  std::map<std::string, std::uint64_t> last;
  for (const auto& n : on_b.news) {
    BOOST_TEST((n.what == ev::log_news::kind::appended));
    last[n.stream] = std::max(last[n.stream], n.seq);
  }
  BOOST_TEST(last == (std::map<std::string, std::uint64_t>{{"resp_one", 2}, {"resp_two", 0}}));
  BOOST_REQUIRE_EQUAL(on_a.news.size(), 1u); // not its own appends
  BOOST_TEST((on_a.news[0].what == ev::log_news::kind::cancel));
  BOOST_TEST(on_a.news[0].stream == "resp_two");
  BOOST_TEST(on_a.news[0].tenant == "tenant-1");
}

BOOST_AUTO_TEST_CASE(events_survive_closing_and_reopening_the_store) {
  fresh_store s;
  auto stored = must(s->append("resp_c", ev::no_stream, {delta("a"), delta("b")}));
  s.reopen();
  if (s.kind == "memory")
    return;
  BOOST_TEST(must(s->read("resp_c", 0, 10)) == stored);
  // Known only from disk now: a stream that must be new is refused, one
  // whose name extends it is new.
  auto twice = s->append("resp_c", ev::no_stream, {delta("x")});
  BOOST_REQUIRE(!twice.has_value());
  BOOST_TEST((twice.error().code == riposte_errc::version_conflict));
  BOOST_TEST(must(s->append("resp_cc", ev::no_stream, {delta("y")})).front().seq == 0u);
  auto next = must(s->append("resp_c", 1, {delta("c")}));
  BOOST_TEST(next[0].global_position > stored[1].global_position);
}

BOOST_AUTO_TEST_CASE(a_hundred_thousand_events_across_a_thousand_streams_read_back_in_order) {
  fresh_store s;
  constexpr int streams = 1000, per_stream = 100, batch = 25;
  // Round-robin over the streams so their events interleave in the global order.
  for (int round = 0; round < per_stream / batch; ++round)
    for (int st = 0; st < streams; ++st) {
      std::vector<ev::new_event> evs;
      for (int i = 0; i < batch; ++i)
        evs.push_back(delta(std::to_string(st) + ":" + std::to_string(round * batch + i)));
      must(s->append("resp_" + std::to_string(st), round == 0 ? ev::no_stream : round * batch - 1,
                     evs));
    }
  for (int st = 0; st < streams; st += 37) {
    auto events = must(s->read("resp_" + std::to_string(st), 0, 1000));
    BOOST_REQUIRE(events.size() == static_cast<std::size_t>(per_stream));
    for (int i = 0; i < per_stream; ++i) {
      BOOST_TEST(events[i].seq == static_cast<std::uint64_t>(i));
      BOOST_TEST(events[i].data["delta"] == std::to_string(st) + ":" + std::to_string(i));
    }
  }
  std::set<std::pair<std::string, std::uint64_t>> seen;
  std::uint64_t after = 0;
  std::size_t total = 0;
  for (;;) {
    auto page = must(s->read_all(after, 4096));
    if (page.empty())
      break;
    for (const auto& e : page) {
      BOOST_REQUIRE(e.global_position > after);
      after = e.global_position;
      BOOST_REQUIRE(seen.emplace(e.stream, e.seq).second);
      ++total;
    }
  }
  BOOST_TEST(total == static_cast<std::size_t>(streams * per_stream));
}

BOOST_AUTO_TEST_CASE(eight_threads_on_one_stream_leave_no_gap_and_no_duplicate) {
  fresh_store s;
  constexpr int threads = 8;
  const int wins_each = s.kind == "postgres" ? 40 : 200;
  std::atomic<int> conflicts{0}, other_errors{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int won = 0; won < wins_each;) {
        auto v = s->version("resp_hot");
        if (!v) {
          ++other_errors;
          return;
        }
        auto r = s->append("resp_hot", *v, {delta(std::to_string(t) + ":" + std::to_string(won))});
        if (r)
          ++won;
        else if (r.error().code == riposte_errc::version_conflict)
          ++conflicts;
        else
          ++other_errors;
      }
    });
  for (auto& th : pool)
    th.join();
  BOOST_TEST(other_errors.load() == 0);
  auto all = must(s->read("resp_hot", 0, 100000));
  BOOST_REQUIRE(all.size() == static_cast<std::size_t>(threads * wins_each));
  std::set<std::string> payloads;
  for (std::size_t i = 0; i < all.size(); ++i) {
    BOOST_TEST(all[i].seq == i);
    payloads.insert(all[i].data["delta"].get<std::string>());
  }
  BOOST_TEST(payloads.size() == all.size());
  BOOST_TEST_MESSAGE("conflicts seen: " << conflicts.load());
}

BOOST_AUTO_TEST_CASE(a_tailing_reader_sees_every_event_exactly_once_while_writers_append) {
  fresh_store s;
  constexpr int writers = 4, appends_each = 300, batch = 3;
  const std::size_t expected = writers * appends_each * batch;
  std::vector<std::thread> pool;
  for (int w = 0; w < writers; ++w)
    pool.emplace_back([&, w] {
      for (int i = 0; i < appends_each; ++i)
        (void)s->append("resp_w" + std::to_string(w), ev::any_version,
                        {delta("x"), delta("y"), delta("z")});
    });
  std::map<std::string, std::uint64_t> next_seq;
  std::uint64_t after = 0;
  std::size_t seen = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (seen < expected && std::chrono::steady_clock::now() < deadline) {
    auto page = must(s->read_all(after, 500));
    for (const auto& e : page) {
      BOOST_REQUIRE(e.global_position > after);
      after = e.global_position;
      // Within a stream the feed must show seqs in order with none skipped.
      BOOST_REQUIRE_EQUAL(e.seq, next_seq[e.stream]);
      next_seq[e.stream] = e.seq + 1;
      ++seen;
    }
  }
  for (auto& th : pool)
    th.join();
  BOOST_TEST(seen == expected);
  BOOST_TEST(must(s->read_all(after, 10)).empty());
}

// PostgreSQL's appends run side by side and a position follows its
// transaction: the feed stops below an append still in flight, and serves it
// in its place once it commits (a reader never passes over it).
BOOST_AUTO_TEST_CASE(the_feed_waits_for_an_append_in_flight_below_it) {
  fresh_store s;
  if (s.kind != "postgres") // RocksDB's positions in flight: the tailing reader above
    return;
  auto first = must(s->append("resp_before", ev::no_stream, {delta("a")}));
  auto after = first[0].global_position;
  // An appender that has begun (its transaction has its id) but not committed.
  pqxx::connection c{s.uri};
  pqxx::work slow{c};
  slow.exec("select pg_current_xact_id()");
  auto later = must(s->append("resp_later", ev::no_stream, {delta("b")}));
  BOOST_TEST(must(s->read_all(after, 100)).empty()); // committed, but above the one in flight
  auto ev_s = delta("s");
  slow.exec_params("insert into events (global_position, stream_id, seq, type, version, tenant, "
                   "recorded_at, payload) select (select position_base from log_meta) + "
                   "(pg_current_xact_id()::text::bigint << 16), 'resp_slow', 0, $1, $2, $3, "
                   "now(), $4::json",
                   ev_s.type, ev_s.version, ev_s.tenant, std::string{ev::data_text(ev_s)});
  BOOST_TEST(must(s->read_all(after, 100)).empty());
  slow.commit();
  auto feed = must(s->read_all(after, 100));
  BOOST_REQUIRE_EQUAL(feed.size(), 2u);
  BOOST_TEST(feed[0].stream == "resp_slow");
  BOOST_TEST(feed[1].stream == "resp_later");
  BOOST_TEST(feed[1].global_position == later[0].global_position);
  BOOST_TEST(feed[0].global_position < feed[1].global_position);
}

// Transaction ids are the cluster's, but a transaction in another database
// can never write this one's events: one left open there (a neighbour's long
// job) does not hold this feed back.
BOOST_AUTO_TEST_CASE(a_transaction_in_another_database_does_not_hold_the_feed) {
  fresh_store s;
  if (s.kind != "postgres")
    return;
  auto first = must(s->append("resp_before", ev::no_stream, {delta("a")}));
  std::ifstream in{env_or("RIPOSTE_TEST_PG_URL_FILE", "")};
  std::string admin;
  std::getline(in, admin);
  pqxx::connection elsewhere{admin};
  pqxx::work open{elsewhere};
  auto xid = open.exec1("select pg_current_xact_id()::text")[0].as<std::string>();
  auto later = must(s->append("resp_later", ev::no_stream, {delta("b")}));
  auto feed = must(s->read_all(first[0].global_position, 100));
  BOOST_REQUIRE_EQUAL(feed.size(), 1u);
  BOOST_TEST(feed[0].global_position == later[0].global_position);
  // The same open transaction in this database holds it, as before.
  pqxx::connection here{s.uri};
  pqxx::work mine{here};
  mine.exec("select pg_current_xact_id()");
  auto last = must(s->append("resp_last", ev::no_stream, {delta("c")}));
  BOOST_TEST(must(s->read_all(later[0].global_position, 100)).empty());
  mine.abort();
  feed = must(s->read_all(later[0].global_position, 100));
  BOOST_REQUIRE_EQUAL(feed.size(), 1u);
  BOOST_TEST(feed[0].global_position == last[0].global_position);
  BOOST_TEST(!xid.empty());
}

// A database written before positions followed transactions: the first
// append after the upgrade lands above everything stored, and the feed
// serves old and new in one order.
BOOST_AUTO_TEST_CASE(positions_after_the_upgrade_to_transaction_order_rise_above_the_old) {
  fresh_store s;
  if (s.kind != "postgres")
    return;
  must(s->append("resp_new_a", ev::no_stream, {delta("a")}));
  s.log.reset();
  {
    // Back to schema 3, with an old event at a high bigserial position.
    pqxx::connection c{s.uri};
    pqxx::work w{c};
    w.exec("drop table log_meta");
    w.exec("drop table replicas");
    w.exec("drop sequence replica_epochs");
    w.exec("drop table jobs, job_turns");
    w.exec("drop sequence job_turn_seq");
    w.exec("drop function riposte_admit");
    w.exec("delete from schema_migrations where version >= 4");
    w.exec("insert into events (global_position, stream_id, seq, type, version, tenant, "
           "recorded_at, payload) select 1000000000000, 'resp_old', 0, type, version, tenant, "
           "recorded_at, payload from events where stream_id = 'resp_new_a'");
    w.commit();
  }
  s.open();
  auto next = must(s->append("resp_new_b", ev::no_stream, {delta("b")}));
  BOOST_TEST(next[0].global_position > 1000000000000u);
  auto feed = must(s->read_all(0, 10));
  BOOST_REQUIRE_EQUAL(feed.size(), 3u);
  BOOST_TEST(feed[0].stream == "resp_new_a");
  BOOST_TEST(feed[1].stream == "resp_old");
  BOOST_TEST(feed[2].stream == "resp_new_b");
  // Restored into a cluster whose transaction ids are far behind the ones
  // that wrote it: the next start lifts the base above what is stored.
  s.log.reset();
  {
    pqxx::connection c{s.uri};
    pqxx::work w{c};
    w.exec("update events set global_position = 1125899906842624 where stream_id = 'resp_new_b'");
    w.commit();
  }
  s.open();
  auto lifted = must(s->append("resp_new_c", ev::no_stream, {delta("c")}));
  BOOST_TEST(lifted[0].global_position > 1125899906842624u);
  BOOST_TEST(must(s->read_all(1125899906842624u, 10)).size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_feed_pages_through_one_write_at_any_limit) {
  fresh_store s;
  std::vector<ev::new_event> ten;
  for (int i = 0; i < 10; ++i)
    ten.push_back(delta("t" + std::to_string(i)));
  auto stored = must(s->append("resp_one_write", ev::no_stream, ten));
  auto other = must(s->append("resp_other", ev::no_stream, {delta("o")}));
  // Positions rise; they need not be consecutive (PostgreSQL's follow
  // transactions).
  std::vector<std::uint64_t> expected;
  for (const auto& e : stored)
    expected.push_back(e.global_position);
  expected.push_back(other[0].global_position);
  for (std::size_t limit : {1u, 3u, 4u, 10u, 11u, 100u}) {
    std::vector<std::uint64_t> seen;
    std::uint64_t after = stored.front().global_position - 1;
    for (int pages = 0; pages < 20; ++pages) {
      auto page = must(s->read_all(after, limit));
      BOOST_REQUIRE(page.size() <= limit);
      if (page.empty())
        break;
      for (const auto& e : page)
        seen.push_back(e.global_position);
      after = page.back().global_position;
    }
    BOOST_TEST(seen == expected, "limit " << limit);
  }
}

// A durable read with a filter: every event comes, in order, with its
// header; an event the filter wants comes with its data, one it refuses may
// come without (the filter sees the header only).
BOOST_AUTO_TEST_CASE(a_filtered_durable_read_builds_the_data_of_the_wanted_events) {
  fresh_store s;
  auto a = must(s->append("resp_wanted", ev::no_stream, {delta("yes"), delta("again")}));
  auto b = must(s->append("resp_refused", ev::no_stream, {delta("no")}));
  if (!s->sync())
    BOOST_FAIL("sync failed");
  std::vector<std::string> asked;
  auto page =
      must(s->read_durable(a.front().global_position - 1, 100, [&](const ev::envelope& header) {
        asked.push_back(header.stream);
        BOOST_TEST(header.data.is_null());
        BOOST_TEST(header.tenant == "tenant_a");
        BOOST_TEST(header.type == "output_text_delta");
        return header.stream == "resp_wanted";
      }));
  BOOST_REQUIRE_EQUAL(page.size(), 3u);
  BOOST_TEST(page[0].global_position == a[0].global_position);
  BOOST_TEST(page[2].global_position == b[0].global_position);
  BOOST_TEST(page[0].data["delta"] == "yes");
  BOOST_TEST(page[1].data["delta"] == "again");
  BOOST_TEST(page[2].stream == "resp_refused");
  BOOST_TEST(page[2].seq == 0u);
  // A log that builds every event's data (the default) never asks; one that
  // asks builds none for what it was refused.
  BOOST_TEST((asked.empty() || asked.size() == 3u));
  if (!asked.empty())
    BOOST_TEST(page[2].data.is_null());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(an_unknown_event_type_is_refused_and_nothing_is_written) {
  fresh_store s;
  ev::new_event bogus{"response_exploded", 1, "t", 0, nlohmann::json::object()};
  auto r = s->append("resp_d", ev::no_stream, {delta("ok"), bogus});
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST((r.error().code == riposte_errc::unknown_event_type));
  BOOST_TEST(*s->version("resp_d") == ev::no_stream);
}

// The queue replicas share (event_log::admit): a limit holds across them,
// tenants take turns whichever replica queued their work, an ended job frees
// its slot, telling twice changes nothing, a replica hears which of its
// tickets another one admitted, and a replica whose lease ran out frees
// every slot it held.
BOOST_AUTO_TEST_CASE(replicas_admit_from_one_queue_under_shared_limits) {
  fresh_store s;
  if (s.kind != "postgres") {
    BOOST_TEST(!s->shares_admission()); // one process admits alone
    return;
  }
  auto with_lease = [&](const std::string& id, long ms) {
    auto opened = store::open_postgres_log(s.uri, 1, store::sync_policy::none, {id, ms, {}});
    BOOST_REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string{} : opened.error().message));
    return std::move(*opened);
  };
  auto a = with_lease("replica-a", 60'000);
  auto b = with_lease("replica-b", 60'000);
  BOOST_TEST(a->shares_admission());
  struct {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::pair<std::string, std::uint64_t>> tickets; // lease holder, ticket
  } heard_by_b;
  auto sub_b = b->subscribe_news([&](std::vector<ev::log_news> batch) {
    std::lock_guard guard{heard_by_b.mutex};
    for (const auto& n : batch)
      if (n.what == ev::log_news::kind::admitted)
        heard_by_b.tickets.emplace_back(n.stream, n.seq);
    heard_by_b.cv.notify_all();
  });
  BOOST_REQUIRE(sub_b);
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // listening
  using tickets = std::vector<std::uint64_t>;
  bool others = false; // the last answer's others_waiting
  auto admitted = [&](auto& log, const std::vector<ev::waiting_job>& arrived,
                      const tickets& ended) {
    auto answer = must(log->admit(arrived, ended));
    others = answer.others_waiting;
    return answer.admitted;
  };
  std::int64_t asked = 0; // each job asked for after the one before
  auto job = [&](std::uint64_t t, const std::string& tenant, std::int64_t all = 2) {
    return ev::waiting_job{t, tenant, ++asked, {{"all", all}, {"model:m", 5}}};
  };
  // Two slots: A's first two alice jobs run, B's wait.
  BOOST_TEST(admitted(a, {job(1, "alice"), job(2, "alice"), job(3, "alice")}, {}) ==
             (tickets{1, 2}));
  BOOST_TEST(admitted(b, {job(1, "alice"), job(2, "bob")}, {}).empty());
  // Telling again changes nothing.
  BOOST_TEST(admitted(a, {job(1, "alice")}, {}) == (tickets{1, 2}));
  BOOST_TEST(others); // B's work waits
  // A slot frees: bob (never served) goes before alice's older work on A.
  BOOST_TEST(admitted(a, {}, {1}) == (tickets{2}));
  {
    std::unique_lock lock{heard_by_b.mutex};
    BOOST_TEST(heard_by_b.cv.wait_for(lock, std::chrono::seconds(10),
                                      [&] { return !heard_by_b.tickets.empty(); }));
    BOOST_TEST((heard_by_b.tickets ==
                decltype(heard_by_b.tickets){{b->lease_holder(), std::uint64_t{2}}}));
  }
  BOOST_TEST(admitted(b, {}, {}) == (tickets{2}));
  // Then alice's oldest waiting job, which is A's.
  BOOST_TEST(admitted(b, {}, {2}).empty());
  BOOST_TEST(admitted(a, {}, {}) == (tickets{2, 3}));
  // A limit of its own: a job under a full model limit waits while another
  // model's job passes it.
  BOOST_TEST(admitted(a,
                      {{9, "carol", ++asked, {{"all", 9}, {"model:n", 0}}},
                       {10, "carol", ++asked, {{"all", 9}, {"model:o", 1}}}},
                      {}) == (tickets{2, 3, 10}));
  // A's lease runs out (a replica with a short lease, never renewed): its
  // slots free for B.
  auto c = with_lease("replica-c", 1500);
  BOOST_TEST(admitted(c, {job(1, "dave", 1)}, {}).empty()); // full: A holds 3 of "all"
  a.reset();                                                // a clean stop ends the lease at once
  // Dave (never served) first, then alice's job on B (its limit is 2).
  BOOST_TEST(admitted(b, {}, {}) == (tickets{1}));
  BOOST_TEST(admitted(c, {}, {}) == (tickets{1}));
  BOOST_TEST(!others); // nothing waits
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  // C's lease ran out: it admits nothing more, and its job is gone.
  BOOST_TEST(admitted(c, {job(2, "dave", 1)}, {}).empty());
  BOOST_TEST(admitted(b, {}, {1}).empty());
  auto d = with_lease("replica-d", 60'000);
  BOOST_TEST(admitted(d, {job(1, "erin", 1)}, {}) == (tickets{1}));
}

BOOST_AUTO_TEST_CASE(event_data_that_does_not_decode_is_refused) {
  fresh_store s;
  ev::new_event wrong{"output_text_delta", 2, "t", 0, {{"delta", 42}}};
  auto r = s->append("resp_e", ev::no_stream, {wrong});
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST((r.error().code == riposte_errc::corrupt_event));
  ev::new_event future{"output_text_delta", 99, "t", 0, nlohmann::json::object()};
  auto f = s->append("resp_e", ev::no_stream, {future});
  BOOST_REQUIRE(!f.has_value());
  BOOST_TEST((f.error().code == riposte_errc::corrupt_event));
}

BOOST_AUTO_TEST_CASE(a_missing_stream_is_not_found_and_a_bad_name_is_invalid) {
  fresh_store s;
  auto r = s->read("resp_nowhere", 0, 10);
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST((r.error().code == riposte_errc::not_found));
  auto empty = s->append("", ev::no_stream, {delta("a")});
  BOOST_REQUIRE(!empty.has_value());
  BOOST_TEST((empty.error().code == riposte_errc::invalid_request));
  auto nul = s->append(std::string("a\0b", 3), ev::no_stream, {delta("a")});
  BOOST_REQUIRE(!nul.has_value());
  BOOST_TEST((nul.error().code == riposte_errc::invalid_request));
}

BOOST_AUTO_TEST_CASE(a_stored_event_corrupted_on_disk_reads_as_an_error_value) {
  fresh_store s;
  must(s->append("resp_f", ev::no_stream, {delta("a"), delta("b")}));
  if (s.kind == "memory")
    return; // nothing on disk to corrupt
  s.log.reset();
  if (s.kind == "rocksdb") {
    std::string key = "resp_f";
    key.push_back('\0');
    key.append(7, '\0');
    key.push_back('\1');
    with_raw_rocksdb(s.dir, "events", [&](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* events) {
      BOOST_REQUIRE(raw.Put({}, events, key, "{not json").ok());
    });
  } else {
    pqxx::connection c{s.uri};
    pqxx::work w{c};
    w.exec("update events set payload = '\"not an object\"'::jsonb "
           "where stream_id = 'resp_f' and seq = 1");
    w.commit();
  }
  s.open();
  auto r = s->read("resp_f", 0, 10);
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST((r.error().code == riposte_errc::corrupt_event));
  auto first = must(s->read("resp_f", 0, 1));
  BOOST_TEST(first.size() == 1u);
}

// Earlier versions wrote one audit entry per event (position -> event key);
// such a store still feeds every event, and appends go on after it.
BOOST_AUTO_TEST_CASE(a_store_with_one_audit_entry_per_event_still_feeds_them_all) {
  fresh_store s;
  if (s.kind != "rocksdb")
    return; // the entry layout is RocksDB's own
  auto stored = must(s->append("resp_old", ev::no_stream, {delta("a"), delta("b"), delta("c")}));
  s.log.reset();
  auto be64 = [](std::uint64_t v) {
    std::string out;
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((v >> shift) & 0xff));
    return out;
  };
  with_raw_rocksdb(s.dir, "audit", [&](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* audit) {
    BOOST_REQUIRE(raw.Delete({}, audit, be64(stored.front().global_position)).ok());
    for (const auto& e : stored)
      BOOST_REQUIRE(
          raw.Put({}, audit, be64(e.global_position), std::string{"resp_old"} + '\0' + be64(e.seq))
              .ok());
  });
  s.open();
  auto more = must(s->append("resp_new", ev::no_stream, {delta("d")}));
  BOOST_TEST(more.front().global_position == stored.back().global_position + 1);
  auto feed = must(s->read_all(0, 100));
  BOOST_REQUIRE_EQUAL(feed.size(), 4u);
  BOOST_TEST(feed[1].global_position == stored[1].global_position);
  BOOST_TEST(feed[1].data["delta"] == "b");
  BOOST_TEST(feed[3].stream == "resp_new");
  auto from_middle = must(s->read_all(stored[0].global_position, 2));
  BOOST_REQUIRE_EQUAL(from_middle.size(), 2u);
  BOOST_TEST(from_middle[0].data["delta"] == "b");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(snapshots_idempotency_blobs)

BOOST_AUTO_TEST_CASE(a_snapshot_is_replaced_by_a_newer_one) {
  fresh_store s;
  BOOST_TEST(!s->get_snapshot("resp_g")->has_value());
  BOOST_TEST(s->put_snapshot("resp_g", {3, R"({"status":"in_progress"})"}).has_value());
  BOOST_TEST(s->put_snapshot("resp_g", {7, R"({"status":"completed"})"}).has_value());
  s.reopen();
  auto snap = s->get_snapshot("resp_g");
  BOOST_REQUIRE(snap.has_value());
  if (s.kind == "memory")
    return;
  BOOST_REQUIRE(snap->has_value());
  BOOST_TEST((*snap)->seq == 7u);
  BOOST_TEST((*snap)->payload == R"({"status":"completed"})");
}

// A finished response's snapshots and the removal of its in-flight marker go
// together; any other shape is written one by one, with the same outcome.
BOOST_AUTO_TEST_CASE(a_finished_response_writes_its_snapshots_and_drops_its_marker) {
  fresh_store s;
  BOOST_TEST(s->put_marker("inflight", "resp_f").has_value());
  BOOST_TEST(s->put_marker("inflight", "resp_other").has_value());
  BOOST_TEST(s->put_snapshot("ctx_f", {1, "old"}).has_value());
  BOOST_TEST(s->put_snapshots({{"ctx_f", {4, "context"}}, {"resp_f", {4, "view \"q\" \\ \u00e9"}}},
                              ev::marker_ref{"inflight", "resp_f"})
                 .has_value());
  BOOST_TEST(s->put_snapshots({{"resp_x", {1, "a"}}, {"resp_x", {2, "b"}}, {"resp_y", {1, "c"}}},
                              std::nullopt)
                 .has_value());
  s.reopen();
  BOOST_TEST(must(s->list_markers("inflight")) == std::vector<std::string>{"resp_other"});
  if (s.kind == "memory")
    return;
  auto context = must(s->get_snapshot("ctx_f"));
  BOOST_REQUIRE(context.has_value());
  BOOST_TEST(context->seq == 4u);
  BOOST_TEST(context->payload == "context");
  auto view = must(s->get_snapshot("resp_f"));
  BOOST_REQUIRE(view.has_value());
  BOOST_TEST(view->payload == "view \"q\" \\ \u00e9");
  auto twice = must(s->get_snapshot("resp_x"));
  BOOST_REQUIRE(twice.has_value());
  BOOST_TEST(twice->payload == "b");
  BOOST_TEST(must(s->get_snapshot("resp_y")).has_value());
}

// RocksDB keeps a response's context beside the response's own snapshot
// (ids sort by time, so a flush's snapshots follow the ones before them);
// a store written before, with "ctx_…" keys, is still read, and a newer
// context written over it wins.
BOOST_AUTO_TEST_CASE(a_context_snapshot_sits_beside_its_response_and_the_old_layout_reads) {
  fresh_store s;
  if (s.kind != "rocksdb")
    return; // the key layout is RocksDB's own
  BOOST_TEST(
      s->put_snapshots({{"ctx_resp_n", {4, "context"}}, {"resp_n", {4, "view"}}}, std::nullopt)
          .has_value());
  BOOST_TEST(s->put_snapshot("resp_m", {1, "other"}).has_value());
  s.log.reset();
  std::vector<std::string> keys;
  with_raw_rocksdb(s.dir, "snapshots", [&](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* snaps) {
    std::unique_ptr<rocksdb::Iterator> it{raw.NewIterator({}, snaps)};
    for (it->SeekToFirst(); it->Valid(); it->Next())
      keys.push_back(it->key().ToString());
    std::string old_layout(8, '\0');
    old_layout[7] = 5;
    BOOST_REQUIRE(raw.Put({}, snaps, "ctx_resp_old", old_layout + "legacy").ok());
    BOOST_REQUIRE(raw.Put({}, snaps, "ctx_resp_both", old_layout + "legacy").ok());
  });
  BOOST_TEST(keys == (std::vector<std::string>{"resp_m", "resp_n", std::string{"resp_n\0ctx", 10}}),
             boost::test_tools::per_element());
  s.open();
  auto context = must(s->get_snapshot("ctx_resp_n"));
  BOOST_REQUIRE(context.has_value());
  BOOST_TEST(context->payload == "context");
  auto old = must(s->get_snapshot("ctx_resp_old"));
  BOOST_REQUIRE(old.has_value());
  BOOST_TEST(old->seq == 5u);
  BOOST_TEST(old->payload == "legacy");
  BOOST_TEST(s->put_snapshot("ctx_resp_both", {9, "newer"}).has_value());
  BOOST_TEST(must(s->get_snapshot("ctx_resp_both"))->payload == "newer");
  BOOST_TEST(!must(s->get_snapshot("ctx_resp_none")).has_value());
}

// Where a log writes an ending batch's snapshots with its events, they are
// in the same write: stored with the events, and never without them.
BOOST_AUTO_TEST_CASE(an_ending_batch_carries_its_snapshots_where_the_log_can) {
  fresh_store s;
  if (!s->snapshots_with_appends())
    return;
  ev::append_request opening{"resp_e", ev::no_stream, {delta("a")}};
  opening.markers = {{"inflight", "resp_e"}};
  BOOST_REQUIRE(s->append_many({opening})[0].has_value());
  ev::append_request ending{"resp_e", 0, {delta("b")}};
  ending.snapshots = {{"ctx_e", {1, "context"}}, {"resp_e", {1, "view"}}};
  ending.unmark = ev::marker_ref{"inflight", "resp_e"};
  // Refused for its version: none of what it carries is written.
  ev::append_request stale{"resp_s", 3, {delta("x")}};
  stale.snapshots = {{"resp_s", {4, "never"}}};
  BOOST_TEST(s->put_marker("inflight", "resp_s").has_value());
  stale.unmark = ev::marker_ref{"inflight", "resp_s"};
  auto results = s->append_many({ending, stale});
  BOOST_REQUIRE(results[0].has_value());
  BOOST_TEST(!results[1].has_value());
  s.reopen();
  BOOST_TEST(must(s->list_markers("inflight")) == std::vector<std::string>{"resp_s"});
  auto view = must(s->get_snapshot("resp_e"));
  BOOST_REQUIRE(view.has_value());
  BOOST_TEST(view->seq == 1u);
  BOOST_TEST(view->payload == "view");
  auto context = must(s->get_snapshot("ctx_e"));
  BOOST_REQUIRE(context.has_value());
  BOOST_TEST(context->payload == "context");
  BOOST_TEST(!must(s->get_snapshot("resp_s")).has_value());
  BOOST_TEST(must(s->read("resp_e", 0, 10)).size() == 2u);
}

// A conversation read cold starts from its latest snapshot and folds only
// the events after it; a snapshot that is not one of ours is ignored.
BOOST_AUTO_TEST_CASE(a_conversation_is_read_from_its_snapshot_then_the_newer_events) {
  namespace rp = riposte::projections;
  fresh_store s;
  const std::string id = "conv_snap";
  auto add = [&](std::int64_t expected, const std::string& text) {
    nlohmann::json item{
        {"type", "message"}, {"id", "msg_" + text}, {"role", "user"}, {"content", text}};
    must(s->append(
        id, expected,
        {ev::make_new_event(ev::conversation_items_added{nlohmann::json::array({item}), ""},
                            "tenant_a", 1)}));
  };
  must(s->append(
      id, ev::no_stream,
      {ev::make_new_event(ev::conversation_created{id, {{"k", "v"}}, 5}, "tenant_a", 1)}));
  for (int i = 0; i < 3; ++i)
    add(i, std::to_string(i));
  auto full = must(rp::read_conversation(*s, id));
  BOOST_TEST(full.version == 3);
  BOOST_TEST(full.snapshot_version == ev::no_stream);
  // A snapshot at version 3, then two more events.
  BOOST_TEST(s->put_snapshot(id, {3, rp::to_conversation_snapshot(full)}).has_value());
  add(3, "3");
  add(4, "4");
  auto cold = must(rp::read_conversation(*s, id));
  BOOST_TEST(cold.version == 5);
  BOOST_TEST(cold.items.size() == 5u);
  BOOST_TEST(cold.items[4]["content"] == "4");
  BOOST_TEST(cold.metadata == nlohmann::json({{"k", "v"}}));
  if (s.kind != "memory") // the memory log keeps no snapshots
    BOOST_TEST(cold.snapshot_version == 3);
  // The fold really began at the snapshot: one that says otherwise is believed.
  auto altered = full;
  altered.metadata = {{"from", "snapshot"}};
  BOOST_TEST(s->put_snapshot(id, {3, rp::to_conversation_snapshot(altered)}).has_value());
  if (s.kind != "memory")
    BOOST_TEST(must(rp::read_conversation(*s, id)).metadata ==
               nlohmann::json({{"from", "snapshot"}}));
  // Garbage, another stream's state, or a seq that disagrees: a full fold.
  auto other = full;
  other.id = "conv_other";
  for (const auto& bad : {ev::snapshot{3, "not json"}, ev::snapshot{3, "{}"},
                          ev::snapshot{3, rp::to_conversation_snapshot(other)},
                          ev::snapshot{2, rp::to_conversation_snapshot(altered)}}) {
    BOOST_TEST(s->put_snapshot(id, bad).has_value());
    auto read = must(rp::read_conversation(*s, id));
    BOOST_TEST(read.metadata == nlohmann::json({{"k", "v"}}));
    BOOST_TEST(read.items.size() == 5u);
  }
}

BOOST_AUTO_TEST_CASE(the_first_request_to_claim_an_idempotency_key_wins) {
  fresh_store s;
  constexpr int threads = 8;
  std::vector<ev::idempotency_record> got(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      auto r = s->claim_idempotency("tenant_a", "key-1",
                                    {"hash_" + std::to_string(t), "resp_" + std::to_string(t)}, 1);
      if (r)
        got[t] = *r;
    });
  for (auto& th : pool)
    th.join();
  for (int t = 1; t < threads; ++t) {
    BOOST_TEST(got[t].response_id == got[0].response_id);
    BOOST_TEST(got[t].request_hash == got[0].request_hash);
  }
  BOOST_TEST(!got[0].response_id.empty());
  auto other_tenant = s->claim_idempotency("tenant_b", "key-1", {"h", "resp_b"}, 1);
  BOOST_REQUIRE(other_tenant.has_value());
  BOOST_TEST(other_tenant->response_id == "resp_b");
  s.reopen();
  if (s.kind == "memory")
    return;
  auto found = s->find_idempotency("tenant_a", "key-1");
  BOOST_REQUIRE(found.has_value());
  BOOST_REQUIRE(found->has_value());
  BOOST_TEST((*found)->response_id == got[0].response_id);
  BOOST_TEST(!s->find_idempotency("tenant_a", "key-2")->has_value());
}

BOOST_AUTO_TEST_CASE(a_blob_streams_back_in_chunks_and_is_gone_after_delete) {
  fresh_store s;
  constexpr int chunks = 40;
  const std::size_t chunk_size = 64 * 1024;
  int produced = 0;
  auto source = [&]() -> std::optional<std::string> {
    if (produced == chunks)
      return std::nullopt;
    return std::string(chunk_size, static_cast<char>('a' + produced++ % 26));
  };
  BOOST_REQUIRE(s->put_blob("file_1", source).has_value());
  std::size_t bytes = 0, calls = 0;
  bool in_order = true;
  BOOST_REQUIRE(s->get_blob("file_1", [&](std::string_view c) {
                   in_order = in_order && c.size() == chunk_size &&
                              c[0] == static_cast<char>('a' + calls % 26);
                   bytes += c.size();
                   ++calls;
                   return true;
                 }).has_value());
  BOOST_TEST(in_order);
  BOOST_TEST(bytes == chunks * chunk_size);
  std::size_t stopped_after = 0;
  BOOST_REQUIRE(
      s->get_blob("file_1", [&](std::string_view) { return ++stopped_after < 3; }).has_value());
  BOOST_TEST(stopped_after == 3u);
  // A chunk at a time, by index: what a slow download reads between writes.
  for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(chunks); ++i) {
    auto c = s->read_blob_chunk("file_1", i);
    BOOST_REQUIRE(c.has_value());
    BOOST_REQUIRE(c->has_value());
    BOOST_TEST((*c)->size() == chunk_size);
    BOOST_TEST((**c)[0] == static_cast<char>('a' + i % 26));
  }
  auto past = s->read_blob_chunk("file_1", static_cast<std::uint64_t>(chunks));
  BOOST_REQUIRE(past.has_value());
  BOOST_TEST(!past->has_value());
  auto none_such = s->read_blob_chunk("file_none", 0);
  BOOST_REQUIRE(!none_such.has_value());
  BOOST_TEST((none_such.error().code == riposte_errc::not_found));
  int none = 0;
  BOOST_REQUIRE(s->put_blob("file_empty", [&]() -> std::optional<std::string> {
                   return none++ == 0 ? std::optional<std::string>{} : std::nullopt;
                 }).has_value());
  std::size_t empty_calls = 0;
  BOOST_REQUIRE(s->get_blob("file_empty", [&](std::string_view) {
                   ++empty_calls;
                   return true;
                 }).has_value());
  BOOST_TEST(empty_calls == 0u);
  BOOST_REQUIRE(s->delete_blob("file_1").has_value());
  auto gone = s->get_blob("file_1", [](std::string_view) { return true; });
  BOOST_REQUIRE(!gone.has_value());
  BOOST_TEST((gone.error().code == riposte_errc::not_found));
  BOOST_TEST(s->delete_blob("file_1").has_value());
}

BOOST_AUTO_TEST_CASE(markers_are_a_set_per_namespace_that_survives_reopening) {
  fresh_store s;
  BOOST_TEST(s->list_markers("inflight")->empty());
  BOOST_REQUIRE(s->put_marker("inflight", "resp_a").has_value());
  BOOST_REQUIRE(s->put_marker("inflight", "resp_b").has_value());
  BOOST_REQUIRE(s->put_marker("inflight", "resp_a").has_value()); // idempotent
  BOOST_REQUIRE(s->put_marker("other", "resp_c").has_value());
  BOOST_REQUIRE(s->delete_marker("inflight", "resp_b").has_value());
  BOOST_REQUIRE(s->delete_marker("inflight", "resp_never").has_value());
  s.reopen();
  if (s.kind == "memory")
    return;
  auto inflight = s->list_markers("inflight");
  BOOST_REQUIRE(inflight.has_value());
  BOOST_TEST(*inflight == std::vector<std::string>{"resp_a"});
  BOOST_TEST(s->list_markers("other")->size() == 1u);
}

// A lazy marker followed by a durable append is there after a clean reopen,
// like any other; a lazy delete removes it.
BOOST_AUTO_TEST_CASE(lazy_markers_behave_like_durable_ones_for_readers) {
  fresh_store s;
  using mode = ev::event_log::write_mode;
  BOOST_REQUIRE(s->put_marker("inflight", "resp_lazy", mode::lazy).has_value());
  BOOST_REQUIRE(s->append("resp_lazy", ev::no_stream, {delta("x")}).has_value());
  BOOST_TEST(*s->list_markers("inflight") == std::vector<std::string>{"resp_lazy"});
  s.reopen();
  if (s.kind == "memory")
    return;
  BOOST_TEST(*s->list_markers("inflight") == std::vector<std::string>{"resp_lazy"});
  BOOST_REQUIRE(s->delete_marker("inflight", "resp_lazy", mode::lazy).has_value());
  BOOST_TEST(s->list_markers("inflight")->empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(crash_safety)

// A blocking create's events before its outcome are appended without a
// sync (append_request::durable = false). No reader is served them before a
// sync covers them: a read-only opener beside the writer (which reads the
// WAL, synced or not) sees them only then, and a read in the writing
// process that reaches them syncs first.
BOOST_AUTO_TEST_CASE(events_appended_without_a_sync_are_read_only_once_a_sync_covers_them) {
  fresh_store s;
  if (s.kind != "rocksdb") { // every append is durable before it returns
    BOOST_TEST(s->durable_position() == std::numeric_limits<std::uint64_t>::max());
    return;
  }
  s.log.reset();
  auto log = must(store::open_store({s.uri, store::sync_policy::always, 1}));
  auto append = [&](const std::string& stream, std::int64_t expected,
                    std::vector<ev::new_event> evs, bool durable) {
    ev::append_request req;
    req.stream = stream;
    req.expected_version = expected;
    req.events = std::move(evs);
    req.durable = durable;
    return must(std::move(log->append_many({req}).front()));
  };
  auto beside = [&] {
    return must(store::open_store({s.uri, store::sync_policy::always, 1, true}));
  };
  append("resp_a", ev::no_stream, {delta("a0")}, true);
  auto lazy = append("resp_b", ev::no_stream, {delta("b0"), delta("b1")}, false);
  BOOST_TEST(lazy.back().global_position == 3u);
  BOOST_TEST(log->durable_position() == 1u);
  BOOST_TEST(log->version("resp_b").value() == 1); // appenders see it
  {
    auto ro = beside();
    BOOST_TEST((ro->read("resp_b", 0, 10).error().code == ev::riposte_errc::not_found));
    BOOST_TEST(must(ro->read_all(0, 10)).size() == 1u);
    BOOST_TEST(ro->durable_position() == 1u);
  }
  // The feed read by the writer syncs what it would serve.
  BOOST_TEST(must(log->read_all(0, 10)).size() == 3u);
  BOOST_TEST(log->durable_position() == 3u);
  BOOST_TEST(must(beside()->read("resp_b", 0, 10)).size() == 2u);
  // So does a stream's read that reaches an unsynced event.
  append("resp_b", 1, {delta("b2")}, false);
  BOOST_TEST(must(beside()->read("resp_b", 0, 10)).size() == 2u);
  BOOST_TEST(must(beside()->read("resp_b", 2, 10)).empty());
  BOOST_TEST(must(log->read("resp_a", 0, 10)).size() == 1u); // a durable stream: no sync
  BOOST_TEST(log->durable_position() == 3u);
  BOOST_TEST(must(log->read("resp_b", 2, 10)).size() == 1u);
  BOOST_TEST(log->durable_position() == 4u);
  // A synced write makes everything before it durable.
  append("resp_b", 2, {delta("b3")}, false);
  append("resp_c", ev::no_stream, {delta("c0")}, true);
  BOOST_TEST(log->durable_position() == 6u);
  BOOST_TEST(must(beside()->read_all(0, 10)).size() == 6u);
  // So does sync().
  append("resp_d", ev::no_stream, {delta("d0")}, false);
  BOOST_TEST(log->durable_position() == 6u);
  BOOST_TEST(log->sync().has_value());
  BOOST_TEST(log->durable_position() == 7u);
  BOOST_TEST(must(beside()->read("resp_d", 0, 10)).size() == 1u);
  // And a clean close: the next opener, read-only or not, reads it all.
  append("resp_e", ev::no_stream, {delta("e0")}, false);
  BOOST_TEST(log->durable_position() == 7u);
  log.reset();
  BOOST_TEST(must(beside()->read_all(0, 10)).size() == 8u);
  s.open();
  BOOST_TEST(s->durable_position() == 8u);
  BOOST_TEST(must(s->read("resp_e", 0, 10)).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_killed_writer_loses_no_acknowledged_batch_and_leaves_none_half_written) {
  fresh_store s;
  if (s.kind == "memory")
    return; // a memory log dies with its process
  s.log.reset();
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::string writer = env_or("RIPOSTE_CRASH_WRITER", "");
  std::string prefix = "resp_crash_";
  std::vector<char*> argv{writer.data(), s.uri.data(), prefix.data(), nullptr};
  pid_t pid = 0;
  BOOST_REQUIRE(::posix_spawn(&pid, writer.c_str(), &actions, nullptr, argv.data(), environ) == 0);
  ::close(out[1]);
  FILE* lines = ::fdopen(out[0], "r");
  long acked = -1;
  char buf[64];
  const long kill_after = 150 + static_cast<long>(std::random_device{}() % 100);
  while (acked < kill_after && std::fgets(buf, sizeof buf, lines) != nullptr)
    std::sscanf(buf, "ack %ld", &acked);
  ::kill(pid, SIGKILL);
  while (std::fgets(buf, sizeof buf, lines) != nullptr)
    std::sscanf(buf, "ack %ld", &acked); // acks written before the kill still count
  std::fclose(lines);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  posix_spawn_file_actions_destroy(&actions);
  BOOST_REQUIRE(acked >= kill_after);

  s.open();
  std::map<long, int> per_batch;
  for (int st = 0; st < 5; ++st) {
    auto r = s->read(prefix + std::to_string(st), 0, 1000000);
    BOOST_REQUIRE(r.has_value());
    for (const auto& e : *r) {
      auto d = e.data["delta"].get<std::string>();
      per_batch[std::stol(d.substr(0, d.find(':')))]++;
    }
  }
  for (long b = 0; b <= acked; ++b)
    BOOST_TEST(per_batch[b] == 7, "acknowledged batch " << b << " has " << per_batch[b]);
  for (const auto& [b, n] : per_batch)
    BOOST_TEST(n == 7, "batch " << b << " is partial: " << n);
  BOOST_TEST_MESSAGE("acked " << acked << ", found " << per_batch.size() << " batches");
}

// The server ending every session (as it does when it stops or restarts)
// costs no request its statement: a pooled connection the server closed is
// replaced before it is used. It used to be found closed by the next
// request's statement, one failed request per pooled connection.
BOOST_AUTO_TEST_CASE(connections_the_server_closed_are_replaced_before_a_request_uses_them) {
  fresh_store s;
  if (s.kind != "postgres")
    return; // no connection to lose
  s.log.reset();
  auto opened = store::open_postgres_log(s.uri, 3, store::sync_policy::none, {});
  BOOST_REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string{} : opened.error().message));
  auto& log = *opened;
  BOOST_REQUIRE(log->append("resp_before", ev::no_stream, {delta("kept")}).has_value());

  pqxx::connection admin{s.uri};
  auto sessions = [&] {
    pqxx::nontransaction n{admin};
    return n
        .exec_params1("select count(*) from pg_stat_activity where datname = $1 "
                      "and pid <> pg_backend_pid()",
                      s.db_name)[0]
        .as<int>();
  };
  BOOST_REQUIRE_EQUAL(sessions(), 3);
  {
    pqxx::nontransaction n{admin};
    n.exec_params("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 "
                  "and pid <> pg_backend_pid()",
                  s.db_name);
  }
  for (int i = 0; i < 100 && sessions() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_REQUIRE_EQUAL(sessions(), 0);

  // One at a time (the pool hands out the same connection), then one per
  // connection at once: every statement succeeds.
  for (int i = 0; i < 3; ++i) {
    auto r = log->append("resp_after_" + std::to_string(i), ev::no_stream, {delta("new")});
    BOOST_TEST(r.has_value(), (r ? std::string{} : r.error().message));
  }
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int t = 0; t < 3; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i)
        if (!log->append("resp_w" + std::to_string(t) + "_" + std::to_string(i), ev::no_stream,
                         {delta("x")}))
          ++failed;
    });
  for (auto& w : writers)
    w.join();
  BOOST_TEST(failed.load() == 0);
  auto kept = log->read("resp_before", 0, 10);
  BOOST_REQUIRE(kept.has_value());
  BOOST_TEST(kept->size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
