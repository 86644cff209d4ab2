// The operator's index over a real store (RocksDB, or the test's PostgreSQL
// server): it follows the feed, keeps itself, and a new follower loads what
// was kept instead of folding the log again. The scale suite writes 100,000
// responses straight into a RocksDB store and holds every filter to a scan
// of the log (release builds only: ops/test.sh leaves it out of the
// sanitized pass).
#define BOOST_TEST_MODULE index
#include "actors/runtime/append_writer.hpp"
#include "actors/runtime/index_follower.hpp"
#include "adapters/store/store.hpp"
#include "events/json_safe.hpp"
#include "tests/support/response_mix.hpp"

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <thread>

namespace ev = riposte::events;
namespace rp = riposte::projections;
namespace store = riposte::adapters::store;
using riposte::actors::index_follower;
using namespace riposte::tests;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

// A new store of the kind RIPOSTE_TEST_STORE names (rocksdb by default).
struct fresh_store {
  std::filesystem::path dir;
  std::shared_ptr<ev::event_log> log;

  explicit fresh_store(store::sync_policy sync = store::sync_policy::none) {
    std::random_device rd;
    auto suffix = std::to_string(rd()) + std::to_string(rd());
    std::string uri;
    if (env_or("RIPOSTE_TEST_STORE", "rocksdb") == "postgres") {
      std::ifstream in{env_or("RIPOSTE_TEST_PG_URL_FILE", "")};
      std::string admin;
      std::getline(in, admin);
      BOOST_REQUIRE_MESSAGE(!admin.empty(), "no Postgres URL: the pg fixture did not start");
      pqxx::connection c{admin};
      pqxx::nontransaction n{c};
      n.exec("create database riposte_index_" + suffix);
      uri = admin.substr(0, admin.rfind('/') + 1) + "riposte_index_" + suffix;
    } else {
      dir = std::filesystem::temp_directory_path() / ("riposte-index-" + suffix);
      uri = "rocksdb:" + dir.string();
    }
    auto opened = store::open_store({uri, sync, 4});
    BOOST_REQUIRE_MESSAGE(opened.has_value(), (opened ? std::string{} : opened.error().message));
    log = std::shared_ptr<ev::event_log>{std::move(*opened)};
  }
  ~fresh_store() {
    log.reset();
    if (!dir.empty())
      std::filesystem::remove_all(dir);
  }
};

// Writes a mix of responses straight into the log, in batches as the writer
// would; returns their truth and the feed's last position.
std::vector<truth> write_mix(ev::event_log& log, std::size_t n, std::uint32_t seed,
                             std::uint64_t& head, std::size_t first = 0,
                             std::vector<conversation_truth>* conversations = nullptr) {
  std::vector<ev::append_request> batch;
  auto flush = [&] {
    if (batch.empty())
      return;
    for (auto& r : log.append_many(batch)) {
      BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? std::string{} : r.error().message));
      head = std::max(head, r->back().global_position);
    }
    batch.clear();
  };
  auto truths = mixed_responses(
      n, seed,
      [&](const std::string& stream, const std::string& tenant, std::int64_t at,
          const ev::event& e) {
        ev::append_request r;
        r.stream = stream;
        r.events.push_back(ev::make_new_event(e, tenant, at));
        r.echo_data = false;
        batch.push_back(std::move(r));
        if (batch.size() == 2048)
          flush();
      },
      first, conversations);
  flush();
  return truths;
}

// Polls until the follower has folded the feed through `head`.
bool caught_up(const index_follower& f, std::uint64_t head, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (f.position() < head) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

template <class Filter>
std::vector<std::string> all_ids(const index_follower& f, Filter filter) {
  filter.limit = 100;
  std::vector<std::string> ids;
  for (;;) {
    auto page = f.query(filter);
    BOOST_REQUIRE_MESSAGE(page.has_value(), (page ? std::string{} : page.error().message));
    for (const auto& r : page->rows)
      ids.push_back(r.id);
    if (!page->has_more)
      return ids;
    filter.after = page->rows.back().id;
  }
}

index_follower::options quick() {
  index_follower::options o;
  o.poll = 5ms;
  o.keep = 50ms;
  return o;
}

// What a scan of the whole log says of each response, folded here by hand
// (not by the index): tenant, mode, status, error code, deleted.
struct scanned {
  std::string tenant, mode, status, error_code;
  std::int64_t created_at = 0;
  bool deleted = false;
};

// And of each conversation: tenant, items held, responses run on it, deleted.
struct scanned_conversation {
  std::string tenant;
  std::int64_t items = 0, responses = 0;
  bool deleted = false;
};

std::map<std::string, scanned> scan_log(ev::event_log& log, std::vector<std::string>& order,
                                        std::map<std::string, scanned_conversation>& convs,
                                        std::vector<std::string>& conv_order) {
  std::map<std::string, scanned> out;
  std::uint64_t after = 0;
  for (;;) {
    auto page = log.read_all(after, 8192);
    BOOST_REQUIRE(page.has_value());
    if (page->empty())
      return out;
    for (const auto& e : *page) {
      after = e.global_position;
      if (e.stream.rfind("conv_", 0) == 0) {
        auto& c = convs[e.stream];
        if (e.type == "conversation_created") {
          conv_order.push_back(e.stream);
          c.tenant = e.tenant;
        } else if (e.type == "conversation_items_added") {
          c.items += static_cast<std::int64_t>(e.data.at("items").size());
        } else if (e.type == "conversation_item_deleted") {
          --c.items;
        } else if (e.type == "conversation_deleted") {
          c.deleted = true;
        }
        continue;
      }
      if (e.stream.rfind("resp_", 0) != 0)
        continue;
      auto& s = out[e.stream];
      if (e.type == "response_created") {
        if (auto p = e.data.find("params"); p != e.data.end() && p->contains("conversation"))
          ++convs[(*p)["conversation"].value("id", "")].responses;
        order.push_back(e.stream);
        s.tenant = e.tenant;
        s.mode = ev::string_or(e.data, "mode");
        s.created_at = e.data.value("created_at", std::int64_t{0});
        s.status = s.mode == "background" ? "queued" : "in_progress";
      } else if (e.type == "response_in_progress") {
        s.status = "in_progress";
      } else if (e.type == "response_completed") {
        s.status = "completed";
      } else if (e.type == "response_incomplete") {
        s.status = "incomplete";
      } else if (e.type == "response_cancelled") {
        s.status = "cancelled";
      } else if (e.type == "response_failed") {
        s.status = "failed";
        s.error_code = ev::string_or(e.data, "code");
      } else if (e.type == "response_deleted") {
        s.deleted = true;
      }
    }
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(index_follower_suite)

BOOST_AUTO_TEST_CASE(a_follower_folds_the_feed_keeps_the_index_and_a_new_one_loads_it) {
  fresh_store s;
  std::uint64_t head = 0;
  std::vector<conversation_truth> convs, later;
  auto truths = write_mix(*s.log, 1500, 21, head, 0, &convs);
  {
    index_follower f{s.log, quick()};
    BOOST_REQUIRE(caught_up(f, head, 10s));
    rp::index_filter failed;
    failed.status = "failed";
    failed.tenant = "initech";
    std::vector<std::string> expected;
    for (auto it = truths.rbegin(); it != truths.rend(); ++it)
      if (!it->deleted && it->status == "failed" && it->tenant == "initech")
        expected.push_back(it->id);
    BOOST_TEST(!expected.empty());
    BOOST_TEST(all_ids(f, failed) == expected);
    // More arrives while it runs: it follows.
    write_mix(*s.log, 100, 22, head, 1500, &later);
    BOOST_REQUIRE(caught_up(f, head, 10s));
    convs.insert(convs.end(), later.begin(), later.end());
    rp::index_filter everything;
    everything.include_deleted = true;
    BOOST_TEST(all_ids(f, everything).size() == 1600u);
  } // kept as it stops

  auto manifest = s.log->get_snapshot(index_follower::manifest_name);
  BOOST_REQUIRE(manifest.has_value());
  BOOST_REQUIRE(manifest->has_value());
  auto info = rp::response_index::read_manifest((*manifest)->payload);
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->position == head);
  BOOST_TEST(info->segments == 2u);
  BOOST_TEST(info->conversation_segments == 1u);

  // A row only the kept copy holds shows that a new follower loaded it.
  auto seg = s.log->get_snapshot(index_follower::segment_name(1));
  BOOST_REQUIRE(seg.has_value() && seg->has_value());
  auto payload = ev::parse_stored((*seg)->payload);
  auto fake = payload["rows"].back();
  fake[0] = "resp_only_in_the_kept_copy";
  payload["rows"].push_back(fake);
  BOOST_REQUIRE(
      s.log->put_snapshot(index_follower::segment_name(1), {head, ev::dump_json(payload)}));
  {
    index_follower f{s.log, quick()};
    rp::index_filter everything;
    everything.include_deleted = true;
    auto ids = all_ids(f, everything); // answered once loaded
    BOOST_TEST(ids.size() == 1601u);
    BOOST_TEST(f.position() == head);
    // Its conversations came back with it, each as the feed made it.
    BOOST_TEST(!convs.empty());
    for (const auto& c : convs) {
      auto row = f.find_conversation(c.id);
      BOOST_REQUIRE(row.has_value() && row->has_value());
      BOOST_TEST((*row)->items == c.items);
      BOOST_TEST((*row)->responses == c.responses);
      BOOST_TEST((*row)->deleted == c.deleted);
    }
    rp::conversation_filter all;
    all.include_deleted = true;
    BOOST_TEST(all_ids(f, all).size() == convs.size());
  }
  // A manifest this build cannot read: the index is folded from the feed again.
  BOOST_REQUIRE(s.log->put_snapshot(index_follower::manifest_name, {head, "{\"format\":99}"}));
  {
    index_follower f{s.log, quick()};
    BOOST_REQUIRE(caught_up(f, head, 10s));
    rp::index_filter everything;
    everything.include_deleted = true;
    BOOST_TEST(all_ids(f, everything).size() == 1600u);
  }
  manifest = s.log->get_snapshot(index_follower::manifest_name);
  BOOST_REQUIRE(manifest.has_value() && manifest->has_value());
  BOOST_TEST(rp::response_index::read_manifest((*manifest)->payload).has_value());
}

BOOST_AUTO_TEST_CASE(a_follower_behind_the_kept_copy_does_not_overwrite_it) {
  fresh_store s;
  std::uint64_t head = 0;
  write_mix(*s.log, 200, 5, head);
  {
    index_follower f{s.log, quick()};
    BOOST_REQUIRE(caught_up(f, head, 10s));
  }
  // Another replica keeps a copy further along than this one gets: this
  // one follows new events (its index changes) but keeps nothing over it.
  index_follower f{s.log, quick()};
  BOOST_REQUIRE(caught_up(f, head, 10s));
  auto far = rp::response_index{};
  // Far beyond anything this test writes: on PostgreSQL a position is the
  // writing transaction's id shifted left by 16, and the cluster's other
  // databases (other suites) spend transaction ids too.
  const auto far_at = head + (std::uint64_t{1} << 48);
  far.set_position(far_at);
  BOOST_REQUIRE(s.log->put_snapshot(index_follower::manifest_name, {far_at, far.manifest()}));
  write_mix(*s.log, 50, 6, head, 200);
  BOOST_REQUIRE(caught_up(f, head, 10s));
  std::this_thread::sleep_for(300ms); // several chances to keep
  rp::index_filter everything;
  BOOST_TEST(all_ids(f, everything).size() > 0u);
  auto manifest = s.log->get_snapshot(index_follower::manifest_name);
  BOOST_REQUIRE(manifest.has_value() && manifest->has_value());
  auto info = rp::response_index::read_manifest((*manifest)->payload);
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->position == far_at);
}

BOOST_AUTO_TEST_CASE(a_kept_copy_found_behind_what_was_kept_is_written_again_whole) {
  fresh_store s;
  std::uint64_t head = 0;
  write_mix(*s.log, 1500, 8, head);
  index_follower f{s.log, quick()};
  BOOST_REQUIRE(caught_up(f, head, 10s));
  auto kept = [&] {
    auto m = s.log->get_snapshot(index_follower::manifest_name);
    return m && *m ? rp::response_index::read_manifest((*m)->payload).value().position : 0;
  };
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (kept() < head && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  BOOST_REQUIRE(kept() == head);
  // Another writer puts an old copy back (a lost write, a lagging replica):
  // an empty first segment under a manifest from long ago.
  rp::response_index old;
  old.set_position(1);
  BOOST_REQUIRE(
      s.log->put_snapshot(index_follower::segment_name(0), {1, R"({"format":2,"rows":[]})"}));
  BOOST_REQUIRE(s.log->put_snapshot(index_follower::manifest_name, {1, old.manifest()}));
  // One more response changes only the last segment; the next keep writes all.
  write_mix(*s.log, 1, 9, head, 1500);
  BOOST_REQUIRE(caught_up(f, head, 10s));
  deadline = std::chrono::steady_clock::now() + 5s;
  while (kept() < head && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  BOOST_REQUIRE(kept() == head);
  rp::response_index restored;
  auto seg = s.log->get_snapshot(index_follower::segment_name(0));
  BOOST_REQUIRE(seg.has_value() && seg->has_value());
  BOOST_REQUIRE(restored.load_segment((*seg)->payload).has_value());
  BOOST_TEST(restored.size() == rp::response_index::segment_rows);
}

BOOST_AUTO_TEST_CASE(what_the_writer_stores_is_folded_once_durable_and_gaps_are_read_from_the_log) {
  fresh_store s{store::sync_policy::always};
  index_follower f{s.log, quick()};
  riposte::actors::append_writer writer{nullptr, "rocksdb"};
  writer.set_tap(s.log.get(), [&f](const auto& reqs, const auto& stored) { f.tap(reqs, stored); });
  auto submit = [&](const std::string& stream, const ev::event& e, bool durable) {
    ev::append_request r;
    r.stream = stream;
    r.events.push_back(ev::make_new_event(e, "acme", mix_t0));
    r.echo_data = false;
    r.durable = durable;
    std::promise<std::uint64_t> done;
    writer.submit(s.log.get(), std::move(r), [&](auto got) {
      done.set_value(got && !got->empty() ? got->back().global_position : 0);
    });
    return done.get_future().get();
  };
  rp::index_filter everything;
  everything.include_deleted = true;
  // A creation stored without a sync is not folded: nobody may see it yet
  // (RocksDB; PostgreSQL commits every append durably).
  auto first = submit("resp_a", created("resp_a", "m", 1, "blocking"), false);
  BOOST_REQUIRE(first > 0u);
  std::this_thread::sleep_for(100ms);
  if (env_or("RIPOSTE_TEST_STORE", "rocksdb") == "rocksdb")
    BOOST_TEST(all_ids(f, everything).empty());
  // Its outcome's synced write makes both durable: both are folded.
  auto done = submit("resp_a", ev::response_completed{2, usage(3, 4)}, true);
  BOOST_REQUIRE(caught_up(f, done, 5s));
  auto rows = f.query(everything);
  BOOST_REQUIRE(rows.has_value());
  BOOST_REQUIRE_EQUAL(rows->rows.size(), 1u);
  BOOST_TEST(rows->rows[0].status == "completed");
  BOOST_TEST(*rows->rows[0].total_tokens() == 7);
  // An append that does not pass the writer leaves a gap, read from the log.
  auto direct = ev::make_new_event(created("resp_b", "m", 1, "stream"), "globex", mix_t0);
  BOOST_REQUIRE(s.log->append("resp_b", ev::no_stream, {direct}).has_value());
  auto last = submit("resp_c", created("resp_c", "m", 1, "background"), true);
  BOOST_REQUIRE(caught_up(f, last, 5s));
  BOOST_TEST(all_ids(f, everything) == std::vector<std::string>({"resp_c", "resp_b", "resp_a"}));
  rp::index_filter globex;
  globex.tenant = "globex";
  BOOST_TEST(all_ids(f, globex) == std::vector<std::string>{"resp_b"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(index_scale)

BOOST_AUTO_TEST_CASE(a_hundred_thousand_responses_every_filter_as_a_scan_a_burst_and_a_restart) {
  fresh_store s;
  std::uint64_t head = 0;
  auto t = std::chrono::steady_clock::now();
  auto since = [&] {
    auto now = std::chrono::steady_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
    t = now;
    return ms;
  };
  write_mix(*s.log, 100'000, 99, head);
  BOOST_TEST_MESSAGE("wrote 100,000 responses (" << head << " events) in " << since() << " ms");
  auto f = std::make_unique<index_follower>(s.log, quick());
  BOOST_REQUIRE(caught_up(*f, head, 120s));
  BOOST_TEST_MESSAGE("first fold of the whole log: " << since() << " ms");

  std::vector<std::string> order, conv_order;
  std::map<std::string, scanned_conversation> conv_scan;
  auto scan = scan_log(*s.log, order, conv_scan, conv_order);
  BOOST_REQUIRE_EQUAL(order.size(), 100'000u);
  struct named {
    const char* name;
    rp::index_filter filter;
    std::function<bool(const scanned&)> keep;
  };
  std::vector<named> cases;
  auto add = [&](const char* name, auto set, std::function<bool(const scanned&)> keep) {
    rp::index_filter fl;
    set(fl);
    cases.push_back({name, fl, std::move(keep)});
  };
  add(
      "tenant", [](auto& fl) { fl.tenant = "acme"; },
      [](const scanned& x) { return !x.deleted && x.tenant == "acme"; });
  add(
      "status", [](auto& fl) { fl.status = "cancelled"; },
      [](const scanned& x) { return !x.deleted && x.status == "cancelled"; });
  add(
      "mode and tenant",
      [](auto& fl) {
        fl.mode = "background";
        fl.tenant = "globex";
      },
      [](const scanned& x) {
        return !x.deleted && x.mode == "background" && x.tenant == "globex";
      });
  add(
      "error code", [](auto& fl) { fl.error_code = "backend_unavailable"; },
      [](const scanned& x) { return !x.deleted && x.error_code == "backend_unavailable"; });
  add(
      "window and status",
      [](auto& fl) {
        fl.created_after = 1'764'020'000;
        fl.created_before = 1'764'060'000;
        fl.status = "completed";
      },
      [](const scanned& x) {
        return !x.deleted && x.status == "completed" && x.created_at >= 1'764'020'000 &&
               x.created_at < 1'764'060'000;
      });
  add(
      "deleted too", [](auto& fl) { fl.include_deleted = true; },
      [](const scanned&) { return true; });
  for (const auto& c : cases) {
    std::vector<std::string> expected;
    for (auto it = order.rbegin(); it != order.rend(); ++it)
      if (c.keep(scan.at(*it)))
        expected.push_back(*it);
    auto got = all_ids(*f, c.filter);
    BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(!expected.empty());
      BOOST_TEST(got == expected, got.size() << " rows against " << expected.size());
    }
  }
  BOOST_TEST_MESSAGE("six filters, every page, against a scan: " << since() << " ms");

  // Conversations likewise.
  struct conv_case {
    const char* name;
    rp::conversation_filter filter;
    std::function<bool(const scanned_conversation&)> keep;
  };
  std::vector<conv_case> conv_cases;
  auto add_conv = [&](const char* name, auto set,
                      std::function<bool(const scanned_conversation&)> keep) {
    rp::conversation_filter fl;
    set(fl);
    conv_cases.push_back({name, fl, std::move(keep)});
  };
  add_conv(
      "tenant", [](auto& fl) { fl.tenant = "globex"; },
      [](const scanned_conversation& c) { return !c.deleted && c.tenant == "globex"; });
  add_conv(
      "items",
      [](auto& fl) {
        fl.min_items = 10;
        fl.max_items = 30;
      },
      [](const scanned_conversation& c) { return !c.deleted && c.items >= 10 && c.items <= 30; });
  add_conv(
      "busy, deleted too",
      [](auto& fl) {
        fl.min_responses = 8;
        fl.include_deleted = true;
      },
      [](const scanned_conversation& c) { return c.responses >= 8; });
  BOOST_TEST(conv_order.size() > 1000u);
  for (const auto& c : conv_cases) {
    std::vector<std::string> expected;
    for (auto it = conv_order.rbegin(); it != conv_order.rend(); ++it)
      if (c.keep(conv_scan.at(*it)))
        expected.push_back(*it);
    auto got = all_ids(*f, c.filter);
    BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(!expected.empty());
      BOOST_TEST(got == expected, got.size() << " rows against " << expected.size());
    }
  }
  BOOST_TEST_MESSAGE(conv_order.size()
                     << " conversations, three filters against a scan: " << since() << " ms");

  // A burst: 5,000 more responses at once; the index has them within a second.
  std::uint64_t before = head;
  write_mix(*s.log, 5'000, 100, head, 100'000);
  BOOST_TEST_MESSAGE("burst of 5,000 responses (" << head - before << " events) written in "
                                                  << since() << " ms");
  BOOST_TEST(caught_up(*f, head, 1000ms));
  auto lag = since();
  BOOST_TEST_MESSAGE("index caught up " << lag << " ms after the burst was written");

  // A restart serves the kept index at once: loaded, not folded again.
  f.reset(); // kept as it stops
  BOOST_TEST_MESSAGE("kept on stop: " << since() << " ms");
  f = std::make_unique<index_follower>(s.log, quick());
  rp::index_filter newest;
  newest.limit = 1;
  auto first = f->query(newest);
  auto load = since();
  BOOST_REQUIRE(first.has_value());
  BOOST_TEST(f->position() == head);
  BOOST_TEST(first->rows.at(0).id == "resp_" + std::to_string(1000 + 104'999));
  BOOST_TEST(load < 3000);
  BOOST_TEST_MESSAGE("after a restart the first query was answered in " << load << " ms");
}

BOOST_AUTO_TEST_SUITE_END()
