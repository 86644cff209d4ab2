// The threads a create crosses: the append writer and riposte's CAF
// scheduler park when idle and must wake for every job, whether it comes
// while they work, while they sleep, or between their last look and their
// sleep. Jobs come from several threads at once, in bursts with idle gaps,
// so that each of those moments happens many times; a lost wake-up shows as
// work never done: the case fails at its deadline (a writer that then still
// sleeps keeps its destructor waiting until CTest's timeout).
#define BOOST_TEST_MODULE runtime
#include "actors/runtime/append_writer.hpp"
#include "actors/runtime/thread_policy.hpp"
#include "adapters/store/store.hpp"
#include "events/event.hpp"

#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ev = riposte::events;
namespace store = riposte::adapters::store;
using namespace std::chrono_literals;

namespace {

// Waits until `count` reaches `want`, at most `limit`.
bool reaches(const std::atomic<int>& count, int want, std::chrono::seconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (count.load() < want && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  return count.load() >= want;
}

// A short random pause, or none: bursts, then gaps long enough to sleep in.
void pause_now_and_then(std::mt19937& rng) {
  auto roll = rng() % 16;
  if (roll == 0)
    std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 800));
  else if (roll < 4)
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50));
}

struct temp_store {
  std::filesystem::path dir;
  std::unique_ptr<ev::event_log> log;
  temp_store() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() /
          ("riposte-runtime-" + std::to_string(rd()) + std::to_string(rd()));
    store::store_options opts;
    opts.uri = "rocksdb:" + dir.string();
    opts.sync = store::sync_policy::none;
    auto opened = store::open_store(opts);
    BOOST_REQUIRE_MESSAGE(opened, "cannot open the test store");
    log = std::move(*opened);
  }
  ~temp_store() {
    log.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// One actor of a ring: a message with hops left goes on to the next one,
// every other hop without a sender (anon_send reaches the scheduler as if
// from outside, though a worker sends it: it must still be run).
// (Spawned with arguments: CAF 0.17 dereferences a null argument tuple when
// a function actor is spawned without any, which UBSan reports.)
caf::behavior ring_member(caf::event_based_actor* self,
                          std::shared_ptr<std::vector<caf::actor>> ring, std::atomic<int>* arrived,
                          int i) {
  return {[=](int left) {
    if (left == 0) {
      ++*arrived;
      return;
    }
    const auto& next = (*ring)[static_cast<std::size_t>(i + 1) % ring->size()];
    if (left % 2 == 0)
      caf::anon_send(next, left - 1);
    else
      self->send(next, left - 1);
  }};
}

} // namespace

BOOST_AUTO_TEST_SUITE(runtime)

BOOST_AUTO_TEST_CASE(the_writer_answers_every_job_from_many_threads_with_idle_gaps) {
  temp_store s;
  constexpr int threads = 4, per_thread = 1500;
  std::atomic<int> done{0}, failed{0}, synced{0};
  {
    riposte::actors::append_writer writer{nullptr, "rocksdb"};
    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t)
      producers.emplace_back([&, t] {
        std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1u);
        for (int i = 0; i < per_thread; ++i) {
          ev::append_request req;
          req.stream = "resp_t" + std::to_string(t) + "_" + std::to_string(i);
          req.expected_version = ev::no_stream;
          req.events.push_back(ev::make_new_event(ev::response_in_progress{}, "acme", 1));
          writer.submit(s.log.get(), std::move(req), [&](auto r) { ++(r ? done : failed); });
          if (i % 100 == 99)
            writer.sync(s.log.get(), [&](auto r) { ++(r ? synced : failed); });
          pause_now_and_then(rng);
        }
      });
    for (auto& p : producers)
      p.join();
    BOOST_TEST(reaches(done, threads * per_thread, 60s), "answered " << done.load());
    BOOST_TEST(synced.load() == threads * (per_thread / 100));
    BOOST_TEST(failed.load() == 0);
  }
  auto stored = s.log->read_all(0, 100000);
  BOOST_REQUIRE(stored);
  BOOST_TEST(stored->size() == static_cast<std::size_t>(threads * per_thread));
}

BOOST_AUTO_TEST_CASE(a_parked_writer_commits_what_is_queued_and_stops_when_it_goes) {
  temp_store s;
  std::atomic<int> done{0};
  auto t0 = std::chrono::steady_clock::now();
  {
    riposte::actors::append_writer writer{nullptr, "rocksdb"};
    std::this_thread::sleep_for(20ms); // parked by now
    ev::append_request req;
    req.stream = "resp_last";
    req.expected_version = ev::no_stream;
    req.events.push_back(ev::make_new_event(ev::response_in_progress{}, "acme", 1));
    writer.submit(s.log.get(), std::move(req), [&](auto r) { done += r ? 1 : 0; });
  }
  BOOST_TEST(done.load() == 1);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
}

BOOST_AUTO_TEST_CASE(the_scheduler_runs_every_message_from_outside_and_between_actors) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  cfg.set("scheduler.max-throughput", 64);
  riposte::actors::use_riposte_scheduler(cfg);
  caf::actor_system sys{cfg};
  constexpr int senders = 3, per_sender = 3000, hops = 4;
  std::atomic<int> arrived{0};
  // A ring of actors: each message goes `hops` actors on before it counts,
  // so most work is queued by workers, and some while they are busy. Half
  // of them are spawned lazily, as a new response's actor is: scheduled
  // first by their first message.
  auto ring = std::make_shared<std::vector<caf::actor>>();
  for (int i = 0; i < 8; ++i)
    ring->push_back(i % 2 == 0 ? sys.spawn(ring_member, ring, &arrived, i)
                               : sys.spawn<caf::lazy_init>(ring_member, ring, &arrived, i));
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t)
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 104729u + 3u);
      for (int i = 0; i < per_sender; ++i) {
        caf::anon_send((*ring)[static_cast<std::size_t>(i) % ring->size()], hops);
        pause_now_and_then(rng);
      }
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(reaches(arrived, senders * per_sender, 60s), "arrived " << arrived.load());
  for (auto& a : *ring)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

// Every response actor ends (passivates) with no timeout set: it must not
// wake the clock's thread to cancel none. An actor that set one still has
// it cancelled as it ends, and timeouts and delayed messages still come.
BOOST_AUTO_TEST_CASE(the_clock_hears_of_an_ending_actor_only_if_it_set_a_timeout) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  riposte::actors::use_riposte_scheduler(cfg);
  caf::actor_system sys{cfg};
  // Ends when told, having set no timeout.
  auto plain = [](caf::event_based_actor* self, int) -> caf::behavior {
    return {[=](int) { self->quit(); }};
  };
  // Never answers (a handler returning nothing would answer empty).
  auto silent = [](caf::event_based_actor* self, int) -> caf::behavior {
    auto held = std::make_shared<std::vector<caf::response_promise>>();
    return {[=](const std::string&) {
      held->push_back(self->make_response_promise());
      return held->back();
    }};
  };
  // Asks `to` with a timeout, and reports the timeout's error as it ends.
  auto asker = [](caf::event_based_actor* self, caf::actor to,
                  std::atomic<int>* timed_out) -> caf::behavior {
    self->request(to, 30ms, std::string{"hello"})
        .then([=](const std::string&) { self->quit(); },
              [=](caf::error& err) {
                if (err == caf::sec::request_timeout)
                  ++*timed_out;
                self->quit();
              });
    return {[](int) {}};
  };
  // Sends itself a delayed message (not a timeout), and ends when it comes.
  auto delayed = [](caf::event_based_actor* self, std::atomic<int>* came) -> caf::behavior {
    self->delayed_send(self, 10ms, 1);
    return {[=](int) {
      ++*came;
      self->quit();
    }};
  };
  auto before = riposte::actors::clock_cancellations(sys);
  for (int i = 0; i < 200; ++i)
    caf::anon_send(sys.spawn(plain, i), 1);
  std::atomic<int> came{0};
  for (int i = 0; i < 20; ++i)
    sys.spawn(delayed, &came);
  BOOST_TEST(reaches(came, 20, 10s));
  std::this_thread::sleep_for(50ms); // the plain ones have ended by now
  BOOST_TEST(riposte::actors::clock_cancellations(sys) == before);

  auto quiet = sys.spawn(silent, 0);
  std::atomic<int> timed_out{0};
  for (int i = 0; i < 10; ++i)
    sys.spawn(asker, quiet, &timed_out);
  BOOST_TEST(reaches(timed_out, 10, 10s), "timed out " << timed_out.load());
  auto until = std::chrono::steady_clock::now() + 10s;
  while (riposte::actors::clock_cancellations(sys) < before + 10 &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  BOOST_TEST(riposte::actors::clock_cancellations(sys) == before + 10);
  caf::anon_send_exit(quiet, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
