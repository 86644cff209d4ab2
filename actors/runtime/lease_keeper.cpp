#include "actors/runtime/lease_keeper.hpp"

#include "events/faults.hpp"

#include <pthread.h>

namespace riposte::actors {

lease_keeper::lease_keeper(events::event_log& log, std::chrono::milliseconds every,
                           std::chrono::milliseconds steady, hooks h)
  : log_(log)
  , every_(every)
  , steady_(steady)
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
  for (;;) {
    try {
      if (!tick()) {
        hooks_.lost();
        return;
      }
    } catch (...) {
      // Nothing leaves this thread: a hook that throws is a fault, reported.
      events::report_fault("lease", events::describe(std::current_exception()));
    }
    std::unique_lock lock{mutex_};
    if (wake_.wait_for(lock, every_, [this] { return stopping_; }))
      return;
  }
}

bool lease_keeper::tick() {
  auto renewed = log_.renew_lease();
  if (!renewed) {
    renewing_ = false;
    hooks_.trouble(renewed.error().message);
    return true;
  }
  if (!*renewed)
    return false;
  if (auto differing = log_.differing_replicas(); differing != differing_) {
    differing_ = std::move(differing);
    if (hooks_.differing)
      hooks_.differing(differing_);
  }
  // A gap between renewals (a renewal that hung, the process or host
  // paused) of two periods beyond the usual one breaks the streak as a
  // failure does (a busy machine may delay a tick by less).
  auto now = std::chrono::steady_clock::now();
  if (!renewing_ || now - renewed_at_ > every_ * 3) {
    renewing_ = true;
    renewing_since_ = now;
  }
  renewed_at_ = now;
  if (now - renewing_since_ < steady_)
    return true;
  auto claimed = log_.claim_orphans();
  if (!claimed) {
    hooks_.trouble(claimed.error().message);
    return true;
  }
  if (!claimed->empty())
    hooks_.claimed(std::move(*claimed));
  // Its own in flight too: one whose actor died here while no request came
  // for it (a reader elsewhere would follow it forever) is closed; the
  // registry leaves alone the ones running.
  if (auto own = log_.list_markers(log_.inflight_namespace()); own && !own->empty())
    hooks_.own(std::move(*own));
  return true;
}

} // namespace riposte::actors
