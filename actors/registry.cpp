// The registry: response ids to response actors. It spawns an actor for a
// create, rebuilds one from the store for any other message to an id it does
// not hold, and lets idle actors go once no forwarded message is in flight.
#include "actors/messages.hpp"
#include "actors/response_actor.hpp"
#include "actors/services.hpp"

#include <unordered_map>

namespace riposte::actors {

namespace {

struct entry {
  caf::actor actor;
  std::uint64_t forwarded = 0; // messages sent to it; compared on passivation
};

struct registry_data {
  std::shared_ptr<const services> svc;
  std::unordered_map<std::string, entry> actors;
};

using registry_actor = caf::stateful_actor<registry_data>;

// Ids riposte hands out: "resp_" and hex. Anything else cannot exist.
bool plausible_id(const std::string& id) {
  if (id.size() < 6 || id.size() > 128 || id.rfind("resp_", 0) != 0)
    return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      return false;
  return true;
}

entry& route(registry_actor* self, const std::string& id) {
  auto& st = self->state;
  auto it = st.actors.find(id);
  if (it == st.actors.end()) {
    auto a = spawn_response_actor(self, st.svc, self, id, true);
    it = st.actors.emplace(id, entry{a, 0}).first;
  }
  ++it->second.forwarded;
  return it->second;
}

events::error_info unknown(const std::string& id, std::string param = {}) {
  return events::make_error(events::riposte_errc::not_found,
                            "No response found with id '" + id + "'.", std::move(param));
}

caf::behavior registry(registry_actor* self, std::shared_ptr<const services> svc) {
  self->state.svc = std::move(svc);
  // Shutting down: every response actor goes too.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    for (auto& [id, e] : self->state.actors)
      self->send_exit(e.actor, msg.reason);
    self->state.actors.clear();
    self->quit(msg.reason);
  });
  // Start-up: find what a crash left unfinished (see recover_atom below).
  caf::actor me = self;
  auto log = self->state.svc->log;
  self->state.svc->executor->post([=] {
    auto ids = log->list_markers(inflight_markers);
    if (ids)
      caf::anon_send(me, recover_atom::value, std::move(*ids));
  });
  return {
      [=](create_atom, create_command& cmd, reply_to& r) {
        auto& st = self->state;
        auto a = spawn_response_actor(self, st.svc, self, cmd.response_id, false);
        st.actors[cmd.response_id] = entry{a, 1};
        self->send(a, create_atom::value, std::move(cmd), std::move(r));
      },
      [=](create_atom, create_command& cmd, sink_handle& h) {
        auto& st = self->state;
        auto a = spawn_response_actor(self, st.svc, self, cmd.response_id, false);
        st.actors[cmd.response_id] = entry{a, 1};
        self->send(a, create_atom::value, std::move(cmd), std::move(h));
      },
      [=](subscribe_atom, const std::string& id, const std::string& tenant, std::int64_t after,
          sink_handle& h) {
        if (!plausible_id(id))
          return h.sink->fail(unknown(id));
        self->send(route(self, id).actor, subscribe_atom::value, tenant, after, std::move(h));
      },
      [=](fetch_atom, const std::string& id, const std::string& tenant, reply_to& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        self->send(route(self, id).actor, fetch_atom::value, tenant, std::move(r));
      },
      [=](remove_atom, const std::string& id, const std::string& tenant, reply_to& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        self->send(route(self, id).actor, remove_atom::value, tenant, std::move(r));
      },
      [=](cancel_atom, const std::string& id, const std::string& tenant, reply_to& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        self->send(route(self, id).actor, cancel_atom::value, tenant, std::move(r));
      },
      [=](events_atom, const std::string& id, const std::string& tenant, list_query& q,
          reply_to& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        self->send(route(self, id).actor, events_atom::value, tenant, std::move(q), std::move(r));
      },
      [=](items_atom, const std::string& id, const std::string& tenant, list_query& q,
          reply_to& r) {
        if (!plausible_id(id))
          return r(unknown(id));
        self->send(route(self, id).actor, items_atom::value, tenant, std::move(q), std::move(r));
      },
      [=](context_atom, const std::string& id, const std::string& tenant, caf::actor& child) {
        if (!plausible_id(id))
          return self->send(child, context_atom::value,
                            context_reply{unknown(id, "previous_response_id")});
        self->send(route(self, id).actor, context_atom::value, tenant, std::move(child));
      },
      // An idle actor may stop only if everything we sent it has been handled.
      [=](passivate_atom, const std::string& id, std::uint64_t handled) {
        auto& st = self->state;
        auto it = st.actors.find(id);
        if (it == st.actors.end() || it->second.forwarded != handled)
          return;
        self->send(it->second.actor, passivate_atom::value);
        st.actors.erase(it);
      },
      // Rebuild every response a crash left unfinished; each closes itself
      // (failed, server_restarted) as it loads.
      [=](recover_atom, std::vector<std::string>& ids) {
        auto& st = self->state;
        for (const auto& id : ids)
          if (plausible_id(id) && st.actors.count(id) == 0)
            st.actors.emplace(id,
                              entry{spawn_response_actor(self, st.svc, self, id, true, true), 0});
      },
      // The audit feed: every stream's events after a global position.
      [=](audit_atom, std::uint64_t after, std::int64_t limit, reply_to& r) {
        auto log = self->state.svc->log;
        self->state.svc->executor->post([=] {
          auto page = log->read_all(after, static_cast<std::size_t>(limit) + 1);
          if (!page)
            return r(page.error());
          nlohmann::json data = nlohmann::json::array();
          bool more = page->size() > static_cast<std::size_t>(limit);
          for (std::size_t i = 0; i < page->size() && i < static_cast<std::size_t>(limit); ++i)
            data.push_back(events::to_json((*page)[i]));
          r(nlohmann::json{{"object", "list"},
                           {"data", data},
                           {"last_position",
                            data.empty() ? nlohmann::json(after) : data.back()["global_position"]},
                           {"has_more", more}});
        });
      },
      [=](caf::get_atom) { return static_cast<std::uint64_t>(self->state.actors.size()); },
  };
}

} // namespace

caf::actor spawn_registry(caf::actor_system& sys, std::shared_ptr<const services> svc) {
  return sys.spawn(registry, std::move(svc));
}

} // namespace riposte::actors
