#include "actors/runtime/append_writer.hpp"

#include "events/faults.hpp"

#include <pthread.h>

#include <chrono>
#include <map>
#include <utility>

namespace riposte::actors {

namespace ev = events;

append_writer::append_writer(std::shared_ptr<adapters::observability::metrics> stats,
                             std::string store_kind)
  : stats_(std::move(stats))
  , meter_(stats_ ? std::optional{stats_->meter_for(store_kind)} : std::nullopt)
  , thread_([this] {
    pthread_setname_np(pthread_self(), "riposte.writer");
    run();
  }) {}

append_writer::~append_writer() {
  bool wake = false;
  {
    std::lock_guard guard{mutex_};
    stopping_ = true;
    if (std::exchange(sleeping_, false)) {
      spot_.mark();
      wake = true;
    }
  }
  if (wake)
    spot_.wake();
  thread_.join();
}

// Queues a job; wakes the thread only if it sleeps (once, however many jobs
// come before it looks).
void append_writer::push(job j) {
  bool wake = false;
  {
    std::lock_guard guard{mutex_};
    queue_.push_back(std::move(j));
    if (std::exchange(sleeping_, false)) {
      spot_.mark();
      wake = true;
    }
  }
  if (wake)
    spot_.wake();
}

void append_writer::submit(ev::event_log* log, ev::append_request req, done_fn done,
                           std::shared_ptr<commit_steps> steps) {
  push(job{log, std::move(req), std::move(done), false, std::move(steps)});
}

void append_writer::sync(ev::event_log* log, done_fn done) {
  push(job{log, {}, std::move(done), true, nullptr});
}

void append_writer::run() {
  std::vector<job> jobs;
  for (;;) {
    std::uint32_t ticket = 0;
    {
      std::lock_guard guard{mutex_};
      if (!queue_.empty()) {
        jobs.swap(queue_);
      } else if (stopping_) {
        return; // nothing is left to commit
      } else {
        sleeping_ = true;
        ticket = spot_.ticket();
      }
    }
    if (jobs.empty()) {
      spot_.wait(ticket);
      continue;
    }
    commit(jobs);
    jobs.clear();
  }
}

void append_writer::commit(std::vector<job>& jobs) {
  // One group per log (today only the store: `store: false` responses keep
  // theirs in memory and append through the executor).
  std::map<ev::event_log*, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < jobs.size(); ++i)
    groups[jobs[i].log].push_back(i);
  for (auto& [log, all] : groups) {
    std::vector<std::size_t> members, syncs;
    for (auto i : all)
      (jobs[i].sync_only ? syncs : members).push_back(i);
    std::vector<ev::append_request> reqs;
    reqs.reserve(members.size());
    for (auto i : members)
      reqs.push_back(std::move(jobs[i].req));
    // Who asked for a sync is answered by the group's own write, synced.
    if (!syncs.empty())
      for (auto& r : reqs)
        r.durable = true;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<ev::result<std::vector<ev::envelope>>> results;
    try {
      if (!reqs.empty())
        results = log->append_many(reqs);
    } catch (...) {
      // The group fails, the writer goes on: each response hears of it.
      auto what = ev::describe(std::current_exception());
      ev::report_fault("writer", what);
      results.clear();
      for (std::size_t k = 0; k < members.size(); ++k)
        results.emplace_back(
            ev::make_error(ev::riposte_errc::store_error, "the store failed: " + what));
    }
    auto t1 = std::chrono::steady_clock::now();
    auto seconds = std::chrono::duration<double>(t1 - t0).count();
    if (tap_ && log == tap_log_ && !reqs.empty() && results.size() == reqs.size()) {
      try {
        tap_(reqs, results);
      } catch (...) { // a follower's trouble never fails an append
        ev::report_fault("writer.tap", ev::describe(std::current_exception()));
      }
    }
    // Unless the write happened (some append was stored), a sync of its own.
    if (!syncs.empty()) {
      bool written =
          std::any_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
      ev::result<std::vector<ev::envelope>> synced = std::vector<ev::envelope>{};
      if (!written)
        synced = guarded_sync(log);
      for (auto i : syncs)
        answer(jobs[i], synced);
    }
    for (std::size_t k = 0; k < members.size(); ++k) {
      if (meter_)
        meter_->record(seconds, reqs[k].events.size(), results[k].has_value());
      if (auto& steps = jobs[members[k]].steps)
        *steps = {t0, t1};
      answer(jobs[members[k]], std::move(results[k]));
    }
  }
}

ev::result<std::vector<ev::envelope>> append_writer::guarded_sync(ev::event_log* log) {
  try {
    if (auto ok = log->sync(); !ok)
      return ok.error();
    return std::vector<ev::envelope>{};
  } catch (...) {
    auto what = ev::describe(std::current_exception());
    ev::report_fault("writer", what);
    return ev::make_error(ev::riposte_errc::store_error, "the store failed: " + what);
  }
}

void append_writer::answer(job& j, ev::result<std::vector<ev::envelope>> r) {
  try {
    j.done(std::move(r));
  } catch (...) {
    ev::report_fault("writer", ev::describe(std::current_exception()));
  }
}

} // namespace riposte::actors
