#include "actors/runtime/lease_keeper.hpp"

#include "events/faults.hpp"

#include <pthread.h>

namespace riposte::actors {

lease_keeper::lease_keeper(events::event_log& log, std::chrono::milliseconds every, hooks h)
  : log_(log)
  , every_(every)
  , hooks_(std::move(h))
  , thread_([this] {
    pthread_setname_np(pthread_self(), "riposte.lease");
    run();
  }) {}

lease_keeper::~lease_keeper() {
  {
    std::lock_guard guard{mutex_};
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void lease_keeper::run() {
  // The first claim runs at once: what a replica that died before this one
  // started left behind need not wait a whole period.
  for (;;) {
    bool held = true;
    try {
      held = tick();
    } catch (...) {
      // Nothing leaves this thread: a hook that throws is a fault, reported.
      events::report_fault("lease", events::describe(std::current_exception()));
    }
    if (!held) {
      hooks_.lost();
      return;
    }
    std::unique_lock lock{mutex_};
    if (wake_.wait_for(lock, every_, [this] { return stopping_; }))
      return;
  }
}

bool lease_keeper::tick() {
  auto renewed = log_.renew_lease();
  if (!renewed) {
    hooks_.trouble(renewed.error().message);
    return true;
  }
  if (!*renewed)
    return false;
  auto claimed = log_.claim_orphans();
  if (!claimed)
    hooks_.trouble(claimed.error().message);
  else if (!claimed->empty())
    hooks_.claimed(std::move(*claimed));
  return true;
}

} // namespace riposte::actors
