#include "actors/runtime/thread_policy.hpp"

#include "actors/runtime/parking.hpp"

#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/unprofiled.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace riposte::actors {

namespace {

// Whether this thread is one of the scheduler's workers.
thread_local bool on_worker = false;

class sharing_policy : public caf::policy::unprofiled {
public:
  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*) {}
    std::mutex lock;
    parking_spot spot;                 // where idle workers wait
    std::deque<caf::resumable*> queue; // guarded by lock
    int sleeping = 0;                  // guarded by lock
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {}
  };

  // What an actor sends without a sender (anon_send, a spawn) comes here
  // too, from a worker's own thread: it is one actor's message to another.
  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    push(d(self), job, on_worker, self->num_workers());
  }

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    push(d(self->parent()), job, false);
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    push(d(self->parent()), job, true, self->parent()->num_workers());
  }

  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    push(d(self->parent()), job, true, self->parent()->num_workers());
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    on_worker = true;
    auto& data = d(self->parent());
    std::unique_lock guard{data.lock};
    for (;;) {
      if (auto* job = pop(data))
        return job;
      ++data.sleeping;
      auto ticket = data.spot.ticket();
      guard.unlock();
      data.spot.wait(ticket);
      guard.lock();
      --data.sleeping;
    }
  }

  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker*, UnaryFunction) {}

  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    auto& data = d(self);
    std::lock_guard guard{data.lock};
    while (auto* job = pop(data))
      f(job);
  }

private:
  // A job from outside the workers (http/, the backend's and the writer's
  // threads) wakes a sleeper if there is one. A job a worker queues (one
  // actor's message to another, with or without a sender) wakes one only
  // when the queue holds more jobs than there are workers awake to take
  // them: the worker that queued it takes it next, once its own job yields
  // (at most max-throughput messages later), instead of waking a second
  // worker (a futex call and two context switches, the dearest thing a
  // create does on a VM) that would mostly find the queue empty again.
  static void push(coordinator_data& data, caf::resumable* job, bool from_worker,
                   std::size_t workers = 0) {
    bool wake = false;
    {
      std::lock_guard guard{data.lock};
      data.queue.push_back(job);
      auto sleeping = static_cast<std::size_t>(data.sleeping);
      wake = sleeping > 0 && (!from_worker || data.queue.size() > workers - sleeping);
      if (wake)
        data.spot.mark();
    }
    if (wake)
      data.spot.wake();
  }

  // With the lock held.
  static caf::resumable* pop(coordinator_data& data) {
    if (data.queue.empty())
      return nullptr;
    auto* job = data.queue.front();
    data.queue.pop_front();
    return job;
  }
};

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

// CAF's coordinator with the lean clock on a thread of its own. (The base
// class's clock thread still starts, and waits for nothing: the clock every
// part of CAF asks for is this one.)
class riposte_coordinator : public caf::scheduler::coordinator<sharing_policy> {
public:
  using super = caf::scheduler::coordinator<sharing_policy>;
  using super::super;

  static caf::actor_system::module* make(caf::actor_system& sys, caf::detail::type_list<>) {
    return new riposte_coordinator(sys);
  }

  lean_clock& clock() noexcept override { return clock_; }

protected:
  void start() override {
    timer_ = std::thread{[this] {
      caf::detail::set_thread_name("riposte.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    }};
    super::start();
  }

  void stop() override {
    super::stop();
    clock_.cancel_dispatch_loop();
    timer_.join();
  }

private:
  lean_clock clock_;
  std::thread timer_;
};

} // namespace

void use_riposte_scheduler(caf::actor_system_config& cfg) {
  cfg.load<riposte_coordinator>();
}

std::uint64_t clock_cancellations(caf::actor_system& sys) {
  const auto* clock = dynamic_cast<const lean_clock*>(&sys.clock());
  return clock != nullptr ? clock->forwarded() : 0;
}

} // namespace riposte::actors
