#include "actors/runtime/thread_policy.hpp"

#include "actors/runtime/parking.hpp"

#include <caf/policy/unprofiled.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <cstddef>
#include <deque>
#include <mutex>

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

} // namespace

void use_riposte_scheduler(caf::actor_system_config& cfg) {
  cfg.load<caf::scheduler::coordinator<sharing_policy>>();
}

} // namespace riposte::actors
