// The response actor's handlers: each settles a stored fast batch first, then
// runs one named step (state.hpp says which file holds it). While the actor
// rebuilds from the store, everything else waits.
#include "actors/guard.hpp"
#include "actors/response/state.hpp"
#include "actors/response_actor.hpp"
#include "events/faults.hpp"

#include <stdexcept>

namespace riposte::actors {

namespace response {

namespace ev = events;
using json = nlohmann::json;

caf::behavior main_behavior(response_actor* self) {
  return guarded(
      self, [self](const std::string& what) { on_fault(self, what); },
      // A blocking create: waits for the answer.
      [=](create_atom, create_command& cmd, reply_to& r) {
        settle(self);
        self->state.waiters.push_back(std::move(r));
        on_create(self, cmd);
      },
      // A token count or a compaction: the same steps, nothing stored.
      [=](create_atom, create_command& cmd, reply_for<token_count>& r) {
        settle(self);
        self->state.count_waiters.push_back(std::move(r));
        on_create(self, cmd);
      },
      [=](create_atom, create_command& cmd, reply_for<compaction>& r) {
        settle(self);
        self->state.compaction_waiters.push_back(std::move(r));
        on_create(self, cmd);
      },
      // A streaming create: the same steps, with a subscriber instead of a waiter.
      [=](create_atom, create_command& cmd, sink_handle& h) {
        settle(self);
        add_subscriber(self, std::move(h.sink), true, -1);
        on_create(self, cmd);
      },
      // Creation steps that waited on a store job or another actor.
      [=](prompted_atom, ev::result<json>& rendered) {
        settle(self);
        on_prompted(self, rendered);
      },
      [=](itemrefs_atom, ev::result<json>& resolved) {
        settle(self);
        on_item_refs(self, resolved);
      },
      [=](resolved_atom, ev::result<json>& resolved) {
        settle(self);
        on_resolved(self, resolved);
      },
      [=](context_atom, context_reply& parent) {
        settle(self);
        on_parent(self, parent);
      },
      [=](compacted_atom, ev::result<compaction>& compacted) {
        settle(self);
        on_compacted(self, compacted);
      },
      [=](tokenized_atom, ev::result<std::int64_t>& tokens) {
        settle(self);
        on_tokenized(self, tokens);
      },
      [=](conversed_atom, context_reply& items) {
        settle(self);
        on_conversation(self, items);
      },
      [=](turned_atom, ev::result<json>& appended) {
        settle(self);
        on_turn_appended(self, appended);
      },
      [=](claimed_atom, ev::result<json>& claim) {
        settle(self);
        on_claimed(self, claim);
      },
      [=](replay_atom, const std::string& winner) { on_replay(self, winner); },
      // Persistence.
      [=](appended_atom, append_done& done, bool snapshot) {
        settle(self);
        on_appended(self, done, snapshot);
      },
      [=](follow_atom, std::uint64_t tick) { on_follow_tick(self, tick); },
      [=](news_atom, std::uint64_t seq) { on_news(self, seq); },
      [=](follow_atom, append_done& done) { on_followed(self, done); },
      [=](recover_atom) { on_recover(self); },
      [=](recover_atom, append_done& done) { on_recover_read(self, done); },
      [=](published_atom, std::uint64_t number, append_done& done) {
        settle(self);
        on_published(self, number, done);
      },
      [=](synced_atom, append_done& done) {
        settle(self);
        on_synced(self, done);
      },
      // Generation.
      [=](update_atom, generation_update& u) {
        settle(self);
        on_update(self, u);
      },
      [=](hosted_atom, ev::result<json>& answers) {
        settle(self);
        on_hosted_results(self, answers);
      },
      [=](admitted_atom) {
        settle(self);
        on_admitted(self);
      },
      [=](deadline_atom) {
        settle(self);
        on_deadline(self);
      },
      // Subscribers.
      [=](subscribe_atom, const std::string& tenant, std::int64_t after, sink_handle& h) {
        settle(self);
        when_durable(self, [=]() mutable { on_subscribe(self, tenant, after, h); });
      },
      [=](replayed_atom, std::uint64_t sub_id,
          ev::result<std::vector<projections::stream_frame>>& replay) {
        settle(self);
        on_replayed(self, sub_id, replay);
      },
      [=](keepalive_atom, std::uint64_t published_then) {
        settle(self);
        on_keepalive(self, published_then);
      },
      [=](gone_atom, std::uint64_t sub_id) {
        settle(self);
        on_gone(self, sub_id);
      },
      // Reads and commands on the stored response.
      [=](fetch_atom, const std::string& tenant, reply_to& r) {
        settle(self);
        when_durable(self, [=]() mutable { on_fetch(self, tenant, r); });
      },
      [=](await_atom, const std::string& tenant, reply_to& r) {
        settle(self);
        on_await(self, tenant, r);
      },
      [=](items_atom, const std::string& tenant, list_query& q,
          reply_for<projections::items_page>& r) {
        settle(self);
        when_durable(self, [=]() mutable { on_items(self, tenant, q, r); });
      },
      [=](events_atom, const std::string& tenant, list_query& q, reply_for<events_page>& r) {
        settle(self);
        when_durable(self, [=]() mutable { on_events(self, tenant, q, r); });
      },
      [=](cancel_atom, const std::string& tenant, reply_to& r) {
        settle(self);
        when_durable(self, [=]() mutable { on_cancel(self, tenant, r); });
      },
      [=](cancel_atom, const std::string& tenant) {
        settle(self);
        on_remote_cancel(self, tenant);
      },
      [=](remove_atom, const std::string& tenant, reply_for<deleted_object>& r) {
        settle(self);
        when_durable(self, [=]() mutable { on_remove(self, tenant, r); });
      },
      [=](context_atom, const std::string& tenant, caf::actor& child) {
        settle(self);
        on_child_context(self, tenant, child);
      },
      // Passivation: a tick asks the registry whether nothing is on its way;
      // the registry's answer (it forgot us) ends the actor.
      [=](passivate_atom, std::uint64_t epoch) {
        settle(self);
        on_passivate_tick(self, epoch);
      },
      [=](passivate_atom) { self->quit(); },
      // Test hook (RIPOSTE_TEST_FAULTS): an exception inside this actor.
      [=](fault_atom, const std::string& mode, reply_to& r) {
        settle(self);
        ++self->state.handled;
        if (mode == "kill")
          return self->quit(caf::exit_reason::kill);
        r(json{{"id", self->state.id}, {"status", self->state.view.status}});
        throw std::runtime_error("injected fault (response " + self->state.id + ")");
      });
}

caf::behavior loading_behavior(response_actor* self) {
  self->set_default_handler(caf::skip); // everything else waits for the state
  // A rebuild that throws stops the actor: what waits is answered with a
  // server_error as it is dropped, and the next message rebuilds afresh.
  auto fault = [self](const std::string& what) {
    ev::report_fault("response", what, self->state.id);
    self->quit(caf::exit_reason::unhandled_exception);
  };
  return guarded(
      self, fault, [=](loaded_atom, load_done& done) { on_loaded(self, done); },
      [=](context_atom, context_reply& parent) { on_loaded_parent(self, parent); });
}

namespace {

caf::behavior response_behavior(response_actor* self, std::shared_ptr<const services> svc,
                                registry_actor registry, std::string id, bool rebuild,
                                bool recovering, bool adopt) {
  auto& st = self->state;
  st.recovering = recovering;
  st.svc = std::move(svc);
  st.registry = std::move(registry);
  st.id = std::move(id);
  if (adopt)
    caf::anon_send(st.registry, adopt_atom::value, st.id, caf::actor_cast<caf::actor>(self));
  st.log = st.svc->log;
  st.turn.seal = st.svc->reasoning_sealer.get();
  if (!rebuild)
    return main_behavior(self);
  load(self);
  return loading_behavior(self);
}

} // namespace

} // namespace response

caf::actor spawn_response_actor(caf::local_actor* parent, std::shared_ptr<const services> svc,
                                registry_actor registry, std::string id, bool rebuild,
                                bool recovering) {
  return parent->spawn(response::response_behavior, std::move(svc), std::move(registry),
                       std::move(id), rebuild, recovering, false);
}

caf::actor spawn_adopted_response_actor(caf::actor_system& sys, std::shared_ptr<const services> svc,
                                        std::string id) {
  auto registry = svc->registry();
  // Lazily: the actor is scheduled once, by its first message (the create
  // that follows at once), instead of once to initialize and again for it.
  return sys.spawn<caf::lazy_init>(response::response_behavior, std::move(svc), std::move(registry),
                                   std::move(id), false, false, true);
}

} // namespace riposte::actors
