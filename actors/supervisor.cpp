#include "actors/supervisor.hpp"

#include "events/faults.hpp"

#include <chrono>
#include <deque>
#include <future>

namespace riposte::actors {

namespace {

using restart_atom = caf::atom_constant<caf::atom("restart")>;
using clock = std::chrono::steady_clock;

struct child {
  supervised spec;
  caf::actor_addr addr;
  std::deque<clock::time_point> deaths; // within the last minute
};

struct supervisor_state {
  std::vector<child> children;
  std::function<void(const std::string&, const std::string&)> on_restart;
  bool stopping = false;
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

void start(supervisor_actor* self, child& c) {
  auto a = c.spec.spawn(self->system());
  c.addr = a.address();
  self->monitor(a);
  c.spec.slot->set(std::move(a));
}

// A child dying again and again is restarted after 0, 10, 20, 40 ... ms, at
// most a second apart: never a busy loop, never given up on.
std::chrono::milliseconds pause_for(child& c) {
  auto now = clock::now();
  c.deaths.push_back(now);
  while (!c.deaths.empty() && now - c.deaths.front() > std::chrono::minutes(1))
    c.deaths.pop_front();
  if (c.deaths.size() <= 1)
    return std::chrono::milliseconds(0);
  auto ms = 10LL << std::min<std::size_t>(c.deaths.size() - 2, 7);
  return std::chrono::milliseconds(std::min<long long>(ms, 1000));
}

caf::behavior supervisor(supervisor_actor* self, std::vector<supervised> specs,
                         std::function<void(const std::string&, const std::string&)> on_restart,
                         std::shared_ptr<std::promise<void>> started) {
  auto& st = self->state;
  st.on_restart = std::move(on_restart);
  for (auto& spec : specs)
    st.children.push_back(child{std::move(spec), {}, {}});
  for (auto& c : st.children)
    start(self, c);
  started->set_value();
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    for (std::size_t i = 0; i < st.children.size(); ++i) {
      auto& c = st.children[i];
      if (c.addr != msg.source)
        continue;
      c.spec.slot->mark_down();
      if (st.stopping)
        return;
      auto reason = caf::to_string(msg.reason);
      events::report_fault("supervisor", c.spec.slot->name() + " died: " + reason);
      try { // a failing report must not stop the supervision
        if (st.on_restart)
          st.on_restart(c.spec.slot->name(), reason);
      } catch (...) {
      }
      self->delayed_send(self, pause_for(c), restart_atom::value, i);
      return;
    }
  });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    st.stopping = true;
    for (auto& c : st.children)
      if (auto a = c.spec.slot->get())
        self->send_exit(a, msg.reason);
    self->quit(msg.reason);
  });
  return {
      [=](restart_atom, std::size_t i) {
        auto& st = self->state;
        if (!st.stopping && i < st.children.size())
          start(self, st.children[i]);
      },
  };
}

} // namespace

caf::actor
spawn_supervisor(caf::actor_system& sys, std::vector<supervised> children,
                 std::function<void(const std::string&, const std::string&)> on_restart) {
  auto started = std::make_shared<std::promise<void>>();
  auto done = started->get_future();
  auto a = sys.spawn(supervisor, std::move(children), std::move(on_restart), started);
  done.wait(); // the slots are set before anyone reads them
  return a;
}

} // namespace riposte::actors
