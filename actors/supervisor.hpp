// Supervision for riposte's long-lived actors (registry, backend pool, files,
// prompts). CAF 0.17 has none built in: the supervisor monitors each child,
// and when one dies it says so, marks the child's slot down (readiness turns
// 503) and spawns it again, with a growing pause when it keeps dying.
// Everything that talks to a supervised actor reads its current handle from
// the slot per message, so a restart is invisible to callers.
#pragma once

#include <caf/all.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace riposte::actors {

class actor_slot {
public:
  explicit actor_slot(std::string name)
    : name_(std::move(name)) {}

  caf::actor get() const {
    std::lock_guard guard{mutex_};
    return actor_;
  }
  // The handle with its typed interface (messages.hpp): the compiler checks
  // what is sent through it.
  template <class Handle>
  Handle as() const {
    return caf::actor_cast<Handle>(get());
  }
  void set(caf::actor a) {
    std::lock_guard guard{mutex_};
    actor_ = std::move(a);
    up_.store(true, std::memory_order_release);
  }
  void mark_down() { up_.store(false, std::memory_order_release); }
  bool up() const { return up_.load(std::memory_order_acquire); }
  const std::string& name() const { return name_; }

private:
  std::string name_;
  mutable std::mutex mutex_;
  caf::actor actor_;
  std::atomic<bool> up_{false};
};

using slot_ptr = std::shared_ptr<actor_slot>;

struct supervised {
  slot_ptr slot;
  std::function<caf::actor(caf::actor_system&)> spawn;
};

// Spawns the children at once (their slots are set when this returns) and
// keeps them alive. `on_restart(name, reason)` hears of every death.
caf::actor spawn_supervisor(caf::actor_system& sys, std::vector<supervised> children,
                            std::function<void(const std::string&, const std::string&)> on_restart);

} // namespace riposte::actors
