// The registry: response ids to response actors. It spawns an actor for a
// create, rebuilds one from the store for any other message to an id it does
// not hold, and lets idle actors go once no forwarded message is in flight.
// It monitors every actor it holds: one that dies is forgotten, so the next
// message rebuilds it from its log. Its directory outlives the registry
// itself, so a restarted registry still knows every live response.
#include "actors/guard.hpp"
#include "actors/messages.hpp"
#include "actors/response_actor.hpp"
#include "actors/runtime/directory.hpp"
#include "actors/services.hpp"
#include "events/faults.hpp"
#include "events/json_safe.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <unordered_map>

namespace riposte::actors {

struct registry_memory : child_directory {
  bool recovered = false; // start-up recovery ran (once per process)
  // Idle actors to ask again once passivate_after has passed, oldest first
  // (every entry waits as long, so arrival order is due order). An entry
  // whose actor has moved on since (another epoch) is ignored by it.
  struct idle_entry {
    std::chrono::steady_clock::time_point due;
    std::string id;
    std::uint64_t epoch = 0;
  };
  std::deque<idle_entry> idle;
  bool sweep_armed = false;
};

std::shared_ptr<registry_memory> make_registry_memory() {
  return std::make_shared<registry_memory>();
}

namespace {

struct registry_data {
  std::shared_ptr<const services> svc;
  std::shared_ptr<registry_memory> dir;
};

using registry_self = registry_actor::stateful_pointer<registry_data>;
using entry = child_directory::entry;

// Ids riposte hands out: "resp_" and hex. Anything else cannot exist.
bool plausible_id(const std::string& id) {
  if (id.size() < 6 || id.size() > 128 || id.rfind("resp_", 0) != 0)
    return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      return false;
  return true;
}

// The gauge of actors in memory, after the directory changed.
void count(registry_self self) {
  if (self->state.svc->stats)
    self->state.svc->stats->response_actors().Set(
        static_cast<double>(self->state.dir->actors.size()));
}

caf::actor hold(registry_self self, const std::string& id, caf::actor a, std::uint64_t forwarded) {
  auto held = self->state.dir->hold(self, id, std::move(a), forwarded).actor;
  count(self);
  return held;
}

entry& route(registry_self self, const std::string& id) {
  auto& dir = *self->state.dir;
  auto it = dir.actors.find(id);
  if (it == dir.actors.end()) {
    hold(self, id,
         spawn_response_actor(self, self->state.svc, caf::actor_cast<registry_actor>(self), id,
                              true),
         0);
    it = dir.actors.find(id);
  }
  ++it->second.forwarded;
  return it->second;
}

// A message for the response `id`, to its actor. Response actors are not
// typed (messages.hpp says why), so the registry sends anonymously; nothing
// a response actor does depends on who sent.
template <class... Ts>
void forward(registry_self self, const std::string& id, Ts&&... xs) {
  caf::anon_send(route(self, id).actor, std::forward<Ts>(xs)...);
}

// A new response: its actor, then the create with whoever waits for it.
template <class Waiter>
void create(registry_self self, create_command& cmd, Waiter waiter) {
  auto id = cmd.response_id;
  auto a = hold(
      self, id,
      spawn_response_actor(self, self->state.svc, caf::actor_cast<registry_actor>(self), id, false),
      1);
  caf::anon_send(a, create_atom::value, std::move(cmd), std::move(waiter));
}

// One timer for all idle actors (a timer each would wake CAF's clock
// thread twice per response): it fires for the oldest entry, no sooner
// than a granule after the last, so a busy server sweeps about once per
// granule and an actor stops at most a granule late.
void arm_sweep(registry_self self) {
  auto& dir = *self->state.dir;
  if (dir.sweep_armed || dir.idle.empty())
    return;
  using namespace std::chrono;
  auto after = self->state.svc->cfg.passivate_after;
  auto granule = std::clamp<milliseconds>(after, milliseconds(10), milliseconds(1000));
  auto left = duration_cast<milliseconds>(dir.idle.front().due - steady_clock::now());
  dir.sweep_armed = true;
  self->delayed_send(self, std::max(left, granule), idle_atom::value);
}

// The oldest idle entry's actor is asked whether it may stop (it ignores
// the question if it moved on since).
void let_go_oldest(registry_memory& dir) {
  auto& e = dir.idle.front();
  if (auto it = dir.actors.find(e.id); it != dir.actors.end())
    caf::anon_send(it->second.actor, passivate_atom::value, e.epoch);
  dir.idle.pop_front();
}

void sweep(registry_self self) {
  auto& dir = *self->state.dir;
  dir.sweep_armed = false;
  auto now = std::chrono::steady_clock::now();
  while (!dir.idle.empty() && dir.idle.front().due <= now)
    let_go_oldest(dir);
  arm_sweep(self);
}

events::error_info unknown(const std::string& id, std::string param = {}) {
  return events::make_error(events::riposte_errc::not_found,
                            "No response found with id '" + events::excerpt(id) + "'.",
                            std::move(param));
}

registry_actor::behavior_type registry(registry_self self, std::shared_ptr<const services> svc,
                                       std::shared_ptr<registry_memory> memory) {
  self->state.svc = std::move(svc);
  self->state.dir = memory ? std::move(memory) : make_registry_memory();
  // Shutting down: every response actor goes too.
  self->set_exit_handler([=](caf::exit_msg& msg) { self->state.dir->on_exit(self, msg); });
  // A response actor died: the next message for it rebuilds it.
  self->set_down_handler([=](caf::down_msg& msg) {
    self->state.dir->on_down(msg);
    count(self);
  });
  self->state.dir->watch_all(self);
  // A restarted registry sweeps what its predecessor was to.
  self->state.dir->sweep_armed = false;
  arm_sweep(self);
  // Start-up: find what a crash left unfinished (see recover_atom below).
  if (!self->state.dir->recovered) {
    self->state.dir->recovered = true;
    auto me = caf::actor_cast<registry_actor>(self);
    auto log = self->state.svc->log;
    auto ns = self->state.svc->inflight_ns;
    self->state.svc->store_pool->post([=] {
      auto ids = log->list_markers(ns);
      if (ids)
        caf::anon_send(me, recover_atom::value, std::move(*ids));
    });
  }
  auto on_fault = [=](const std::string& what) { events::report_fault("registry", what); };
  return guarded_typed<registry_actor::behavior_type>(
      self, on_fault,
      // A new response's actor; the create goes to it with whoever waits
      // (a blocking create, a token count, a compaction) or streams.
      [=](create_atom, create_command& cmd, reply_to& r) { create(self, cmd, std::move(r)); },
      [=](create_atom, create_command& cmd, reply_for<token_count>& r) {
        create(self, cmd, std::move(r));
      },
      [=](create_atom, create_command& cmd, reply_for<compaction>& r) {
        create(self, cmd, std::move(r));
      },
      [=](create_atom, create_command& cmd, sink_handle& h) { create(self, cmd, std::move(h)); },
      // A new response's actor the HTTP side spawned with its create: held
      // like one spawned here (its create counts as forwarded). An id held
      // already cannot be new: that actor is stopped (whoever waits on it is
      // answered an error) and the one held stays.
      [=](adopt_atom, const std::string& id, caf::actor& a) {
        if (!plausible_id(id) || self->state.dir->actors.count(id) > 0) {
          events::report_fault("registry", "a new response's id is taken: " + events::excerpt(id));
          return self->send_exit(a, caf::exit_reason::kill);
        }
        hold(self, id, std::move(a), 1);
      },
      [=](subscribe_atom, const std::string& id, const std::string& tenant, std::int64_t after,
          sink_handle& h) {
        if (!plausible_id(id))
          return h.sink->fail(unknown(id));
        forward(self, id, subscribe_atom::value, tenant, after, std::move(h));
      },
      [=](fetch_atom, const std::string& id, const std::string& tenant, reply_to& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        forward(self, id, fetch_atom::value, tenant, std::move(r));
      },
      // The answer a blocking create gets: the response once it ends (an
      // idempotent replay of a create still running waits for it).
      [=](await_atom, const std::string& id, const std::string& tenant, reply_to& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        forward(self, id, await_atom::value, tenant, std::move(r));
      },
      [=](remove_atom, const std::string& id, const std::string& tenant,
          reply_for<deleted_object>& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        forward(self, id, remove_atom::value, tenant, std::move(r));
      },
      [=](cancel_atom, const std::string& id, const std::string& tenant, reply_to& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        forward(self, id, cancel_atom::value, tenant, std::move(r));
      },
      [=](events_atom, const std::string& id, const std::string& tenant, list_query& q,
          reply_for<events_page>& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        forward(self, id, events_atom::value, tenant, std::move(q), std::move(r));
      },
      [=](items_atom, const std::string& id, const std::string& tenant, list_query& q,
          reply_for<projections::items_page>& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        forward(self, id, items_atom::value, tenant, std::move(q), std::move(r));
      },
      [=](context_atom, const std::string& id, const std::string& tenant, caf::actor& child) {
        if (!plausible_id(id))
          return caf::anon_send(child, context_atom::value,
                                context_reply{unknown(id, "previous_response_id")});
        forward(self, id, context_atom::value, tenant, std::move(child));
      },
      // An idle actor may stop only if everything we sent it has been handled.
      [=](passivate_atom, const std::string& id, std::uint64_t handled) {
        self->state.dir->passivate(self, id, handled, passivate_atom::value);
        count(self);
      },
      [=](idle_atom, std::string& id, std::uint64_t epoch) {
        auto& dir = *self->state.dir;
        dir.idle.push_back({std::chrono::steady_clock::now() + self->state.svc->cfg.passivate_after,
                            std::move(id), epoch});
        // Memory, not only time: a busy server would otherwise hold every
        // response of the last passivate_after (gigabytes at thousands a
        // second). Past the cap the oldest go now.
        while (dir.idle.size() > self->state.svc->cfg.max_idle_responses)
          let_go_oldest(dir);
        arm_sweep(self);
      },
      [=](idle_atom) { sweep(self); },
      // Rebuild every response a crash left unfinished, here or on a replica
      // whose lease ran out; each closes itself (failed, server_restarted)
      // or queues again as it loads. An actor already held for one of them
      // is told: if it only read it (another replica ran it), it takes it
      // over; if it is this process's already, nothing changes.
      [=](recover_atom, std::vector<std::string>& ids) {
        auto& dir = *self->state.dir;
        for (const auto& id : ids) {
          if (!plausible_id(id))
            continue;
          if (auto it = dir.actors.find(id); it != dir.actors.end()) {
            ++it->second.forwarded;
            caf::anon_send(it->second.actor, recover_atom::value);
            continue;
          }
          hold(self, id,
               spawn_response_actor(self, self->state.svc, caf::actor_cast<registry_actor>(self),
                                    id, true, true),
               0);
        }
      },
      // News from other replicas, for actors held here only: an actor that
      // follows a response another replica runs reads at once what it
      // appended (news missed: every held actor is told), and the one that
      // runs a response hears a cancel asked for on another replica. An id
      // not held here is nothing to this process (a cancel is for its
      // owner, which holds it while it runs or waits in the queue).
      [=](news_atom, const std::vector<std::string>& ids, const std::vector<std::uint64_t>& seqs) {
        auto& dir = *self->state.dir;
        if (ids.empty()) {
          for (auto& [_, e] : dir.actors) {
            ++e.forwarded;
            caf::anon_send(e.actor, news_atom::value, std::uint64_t{0});
          }
          return;
        }
        for (std::size_t i = 0; i < ids.size() && i < seqs.size(); ++i)
          if (auto it = dir.actors.find(ids[i]); it != dir.actors.end()) {
            ++it->second.forwarded;
            caf::anon_send(it->second.actor, news_atom::value, seqs[i]);
          }
      },
      [=](cancel_atom, const std::string& id, const std::string& tenant) {
        auto& dir = *self->state.dir;
        if (auto it = dir.actors.find(id); it != dir.actors.end()) {
          ++it->second.forwarded;
          caf::anon_send(it->second.actor, cancel_atom::value, tenant);
        }
      },
      // The audit feed: every stream's events after a global position.
      [=](audit_atom, std::uint64_t after, std::int64_t limit, const audit_filter& filter,
          bool live, reply_for<events_page>& r) {
        auto log = self->state.svc->log;
        self->state.svc->store_pool->post([=] {
          auto n = static_cast<std::size_t>(limit);
          auto read = live ? log->read_durable(after, n + 1,
                                               [&](const events::envelope& header) {
                                                 return filter.wants(header);
                                               })
                           : log->read_all(after, n + 1);
          if (!read)
            return r(read.error());
          events_page page;
          page.has_more = read->size() > n;
          read->resize(std::min(read->size(), n));
          page.last_position = read->empty() ? after : read->back().global_position;
          for (auto& env : *read)
            if (filter.wants(env))
              page.data.push_back(std::move(env));
          r(std::move(page));
        });
      },
      // Test hook (RIPOSTE_TEST_FAULTS): fail inside the registry, or inside
      // one response's actor.
      [=](fault_atom, const std::string& id, const std::string& mode, reply_to& r) {
        if (id.empty())
          throw std::runtime_error("injected fault (registry)");
        if (!plausible_id(id))
          return r(unknown(id));
        forward(self, id, fault_atom::value, mode, std::move(r));
      });
}

} // namespace

void deliver_news(const registry_actor& registry, std::vector<events::log_news>& news) {
  std::vector<std::string> ids;
  std::vector<std::uint64_t> seqs;
  bool missed = false;
  for (auto& n : news) {
    switch (n.what) {
      case events::log_news::kind::appended:
        if (plausible_id(n.stream)) { // only responses are followed
          ids.push_back(std::move(n.stream));
          seqs.push_back(n.seq);
        }
        break;
      case events::log_news::kind::missed: missed = true; break;
      case events::log_news::kind::admitted: break; // the backend pool's (app/main.cpp)
      case events::log_news::kind::cancel:
        if (plausible_id(n.stream))
          caf::anon_send(registry, cancel_atom::value, std::move(n.stream), std::move(n.tenant));
        break;
    }
  }
  // News missed: every held actor reads again (an empty list names none).
  if (missed)
    caf::anon_send(registry, news_atom::value, std::vector<std::string>{},
                   std::vector<std::uint64_t>{});
  else if (!ids.empty())
    caf::anon_send(registry, news_atom::value, std::move(ids), std::move(seqs));
}

caf::actor spawn_registry(caf::actor_system& sys, std::shared_ptr<const services> svc,
                          std::shared_ptr<registry_memory> memory) {
  return caf::actor_cast<caf::actor>(sys.spawn(registry, std::move(svc), std::move(memory)));
}

} // namespace riposte::actors
