#include "actors/runtime/thread_policy.hpp"

#include "actors/runtime/parking.hpp"

#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/logger.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

namespace riposte::actors {

namespace {

// Whether this thread is one of the scheduler's workers.
thread_local bool on_worker = false;

// CAF's clock, except that an actor that never set a timeout (a request's,
// a receive timeout, a stream tick) does not tell the clock's thread when it
// ends. CAF cancels every ending actor's timeouts through the clock's queue,
// which wakes the clock's thread: a futex call on the ending actor's worker
// and two context switches for every response actor that passivates, which
// is one per create once the idle ones are at their cap. Delayed messages
// are not timeouts: an actor's ending never cancelled them.
class lean_clock : public caf::detail::thread_safe_actor_clock {
public:
  using super = caf::detail::thread_safe_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            std::uint64_t id) override {
    note(self);
    super::set_ordinary_timeout(t, self, type, id);
  }
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    note(self);
    super::set_request_timeout(t, self, id);
  }
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         std::uint64_t id) override {
    note(self);
    super::set_multi_timeout(t, self, type, id);
  }
  void cancel_timeouts(caf::abstract_actor* self) override {
    {
      std::lock_guard guard{lock_};
      if (timed_.erase(self->id()) == 0)
        return; // none was ever set
    }
    forwarded_.fetch_add(1, std::memory_order_relaxed);
    super::cancel_timeouts(self);
  }

  std::uint64_t forwarded() const { return forwarded_.load(std::memory_order_relaxed); }

private:
  void note(caf::abstract_actor* self) {
    std::lock_guard guard{lock_};
    timed_.insert(self->id());
  }

  std::mutex lock_;
  std::unordered_set<caf::actor_id> timed_; // actors that set a timeout, until they end
  std::atomic<std::uint64_t> forwarded_{0};
};

// A thread of the actor system's own, named, running `body`.
template <class Body>
std::thread system_thread(caf::actor_system& sys, const char* name, Body body) {
  return std::thread{[&sys, name, body] {
    caf::logger::set_current_actor_system(&sys);
    caf::detail::set_thread_name(name);
    sys.thread_started();
    body();
    sys.thread_terminates();
  }};
}

class riposte_coordinator;

// One of the scheduler's threads: it runs the jobs of the shared queue, one
// at a time. (CAF's own worker looks up each job's actor id for its logger
// before running it, which Debian's CAF compiles in even when quiet: a
// dynamic_cast across the actor's virtual bases and two logger calls, some
// 1,600 instructions per job, 8 jobs per blocking create.)
class worker : public caf::execution_unit {
public:
  worker(caf::actor_system& sys, riposte_coordinator& owner)
    : caf::execution_unit(&sys)
    , owner_(owner) {}

  // A job the running actor queued (a message to itself, an actor it
  // spawned).
  void exec_later(caf::resumable* job) override;

  void start();
  void join() { thread_.join(); }

private:
  void run();

  riposte_coordinator& owner_;
  std::thread thread_;
};

// CAF's work sharing with riposte's waking rules and the lean clock: one
// queue for every worker, idle workers asleep on a parking spot.
class riposte_coordinator : public caf::scheduler::abstract_coordinator {
public:
  using abstract_coordinator::abstract_coordinator;

  static caf::actor_system::module* make(caf::actor_system& sys, caf::detail::type_list<>) {
    return new riposte_coordinator(sys);
  }

  lean_clock& clock() noexcept override { return clock_; }

  // What an actor sends without a sender (anon_send, a spawn) comes here
  // too, from a worker's own thread: it is one actor's message to another.
  void enqueue(caf::resumable* job) override { push(job, on_worker); }

  // A job from outside the workers (http/, the backend's and the writer's
  // threads) wakes a sleeper if there is one. A job a worker queues (one
  // actor's message to another, with or without a sender) wakes one only
  // when the queue holds more jobs than there are workers awake to take
  // them: the worker that queued it takes it next, once its own job yields
  // (at most max-throughput messages later), instead of waking a second
  // worker (a futex call and two context switches, the dearest thing a
  // create does on a VM) that would mostly find the queue empty again.
  //
  // A sleeper already woken counts as awake: until it runs (on a busy VM,
  // a while), the jobs pushed meanwhile would each wake it again, a futex
  // call that finds nobody to wake.
  void push(caf::resumable* job, bool from_worker) {
    bool wake = false;
    {
      std::lock_guard guard{lock_};
      queue_.push_back(job);
      auto unwoken = static_cast<std::size_t>(sleeping_ - woken_);
      wake = unwoken > 0 && (!from_worker || queue_.size() > num_workers() - unwoken);
      if (wake) {
        ++woken_;
        spot_.mark();
      }
    }
    if (wake)
      spot_.wake();
  }

  // The next job; asleep until there is one.
  caf::resumable* take() {
    std::unique_lock guard{lock_};
    for (;;) {
      if (auto* job = pop())
        return job;
      ++sleeping_;
      auto ticket = spot_.ticket();
      guard.unlock();
      spot_.wait(ticket);
      guard.lock();
      --sleeping_;
      if (woken_ > 0) // (another's wake, if this one came back for no reason)
        --woken_;
    }
  }

protected:
  void start() override {
    for (std::size_t i = 0; i < num_workers(); ++i)
      workers_.push_back(std::make_unique<worker>(system(), *this));
    for (auto& w : workers_)
      w->start();
    timer_ = system_thread(system(), "riposte.clock", [this] { clock_.run_dispatch_loop(); });
    abstract_coordinator::start();
  }

  void stop() override {
    // Queued behind every job already waiting; each worker ends on the
    // first of them it takes, so one per worker ends them all.
    struct end_of_work : caf::resumable {
      resume_result resume(caf::execution_unit*, std::size_t) override {
        return shutdown_execution_unit;
      }
      void intrusive_ptr_add_ref_impl() override {}
      void intrusive_ptr_release_impl() override {}
    } end;
    for (std::size_t i = 0; i < workers_.size(); ++i)
      push(&end, false);
    for (auto& w : workers_)
      w->join();
    stop_actors();
    // What was queued meanwhile never runs. Taken one at a time, the lock
    // released before each is cleaned up: an actor's cleanup tells others
    // (whose jobs come back here, and are cleaned up in turn).
    for (;;) {
      caf::resumable* job = nullptr;
      {
        std::lock_guard guard{lock_};
        job = pop();
      }
      if (job == nullptr)
        break;
      cleanup_and_release(job);
    }
    clock_.cancel_dispatch_loop();
    timer_.join();
  }

private:
  // With the lock held.
  caf::resumable* pop() {
    if (queue_.empty())
      return nullptr;
    auto* job = queue_.front();
    queue_.pop_front();
    return job;
  }

  std::mutex lock_;
  parking_spot spot_;                 // where idle workers wait
  std::deque<caf::resumable*> queue_; // guarded by lock_
  int sleeping_ = 0;                  // guarded by lock_
  int woken_ = 0;                     // of them, woken and not yet back; guarded by lock_
  std::vector<std::unique_ptr<worker>> workers_;
  lean_clock clock_;
  std::thread timer_;
};

void worker::exec_later(caf::resumable* job) {
  owner_.push(job, true);
}

void worker::start() {
  thread_ = system_thread(system(), "riposte.actors", [this] { run(); });
}

void worker::run() {
  on_worker = true;
  auto throughput = owner_.max_throughput();
  for (;;) {
    auto* job = owner_.take();
    switch (job->resume(this, throughput)) {
      case caf::resumable::resume_later:
        owner_.push(job, true); // it keeps its reference: still running
        break;
      case caf::resumable::done:
      case caf::resumable::awaiting_message: caf::intrusive_ptr_release(job); break;
      case caf::resumable::shutdown_execution_unit: return;
    }
  }
}

} // namespace

void use_riposte_scheduler(caf::actor_system_config& cfg) {
  cfg.load<riposte_coordinator>();
}

std::uint64_t clock_cancellations(caf::actor_system& sys) {
  const auto* clock = dynamic_cast<const lean_clock*>(&sys.clock());
  return clock != nullptr ? clock->forwarded() : 0;
}

} // namespace riposte::actors
