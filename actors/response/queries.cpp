// Reads and commands on a stored response: GET, the blocking answer,
// input_items, the raw event log, cancel, delete, and a child's request for
// the chain context it continues.
#include "actors/response/state.hpp"
#include "events/ids.hpp"
#include "projections/input_items.hpp"

namespace riposte::actors::response {

namespace ev = events;
using json = nlohmann::json;
using ev::riposte_errc;

ev::error_info not_found(const std::string& id, std::string param) {
  return ev::make_error(riposte_errc::not_found, "No response found with id '" + id + "'.",
                        std::move(param));
}

bool visible_to(const response_data& st, const std::string& tenant) {
  return st.view.exists() && !st.view.deleted && st.view.tenant == tenant &&
         st.view.params.value("store", true);
}

bool creating_for(const response_data& st, const std::string& tenant) {
  return !st.view.exists() && !st.cmd.response_id.empty() && st.cmd.store &&
         st.cmd.tenant == tenant && !st.broken;
}

void on_fetch(response_actor* self, const std::string& tenant, reply_to& r) {
  auto& st = self->state;
  ++st.handled;
  if (!visible_to(st, tenant))
    return r(not_found(st.id));
  r(projections::render(st.view));
}

// A blocking create's answer: the response once it ends (an idempotent
// replay of a create still running waits for it, as its creator does).
void on_await(response_actor* self, const std::string& tenant, reply_to& r) {
  auto& st = self->state;
  ++st.handled;
  if (!visible_to(st, tenant) && !creating_for(st, tenant))
    return r(not_found(st.id));
  if (st.view.terminal() || st.broken)
    return r(blocking_reply(st.view));
  st.waiters.push_back(std::move(r));
  if (st.foreign && !st.following)
    follow(self);
}

void on_items(response_actor* self, const std::string& tenant, list_query& q,
              reply_for<projections::items_page>& r) {
  auto& st = self->state;
  ++st.handled;
  if (!visible_to(st, tenant))
    return r(not_found(st.id));
  r(projections::page_items(st.view.input, q));
}

// The raw event log, for debugging: envelopes after seq `after`.
void on_events(response_actor* self, const std::string& tenant, list_query& q,
               reply_for<events_page>& r) {
  auto& st = self->state;
  ++st.handled;
  if (!visible_to(st, tenant))
    return r(not_found(st.id));
  std::uint64_t from = 0;
  if (!q.after.empty()) {
    if (q.after.find_first_not_of("0123456789") != std::string::npos || q.after.size() > 18)
      return r(ev::make_error(riposte_errc::invalid_value,
                              "Invalid value for 'after': expected a sequence number.", "after"));
    from = std::stoull(q.after) + 1;
  }
  auto log = st.log;
  auto stream = ev::response_stream(st.id);
  auto limit = static_cast<std::size_t>(q.limit);
  auto upto = st.view.version; // only what this actor has applied
  st.svc->store_pool->post([=] {
    auto events = log->read(stream, from, limit + 1);
    if (!events)
      return r(events.error());
    events_page page;
    for (auto& env : *events) {
      if (static_cast<std::int64_t>(env.seq) > upto)
        break;
      if (page.data.size() == limit) {
        page.has_more = true;
        break;
      }
      page.data.push_back(std::move(env));
    }
    r(std::move(page));
  });
}

// POST /v1/responses/{id}/cancel: background responses only, as in the API;
// a finished one is returned unchanged.
void on_cancel(response_actor* self, const std::string& tenant, reply_to& r) {
  auto& st = self->state;
  ++st.handled;
  if (!visible_to(st, tenant))
    return r(not_found(st.id));
  if (auto why = check_cancel(st.view, st.cmd))
    return r(*why);
  if (st.view.terminal())
    return r(projections::render(st.view));
  st.cancel_waiters.push_back(std::move(r));
  if (!st.foreign)
    return cancel_generation(self, "client_cancelled");
  // Another replica runs it: it is asked (again every follow period until
  // the response ends), and the answer is the response as it ends, read
  // from the log. Should that replica die first, the one that takes it over
  // ends it (failed if it was generating; cancelled if it was queued), and
  // that is the answer.
  ask_owner_to_cancel(self);
  if (!st.following)
    follow(self);
}

void ask_owner_to_cancel(response_actor* self) {
  auto& st = self->state;
  st.cancel_told_at = std::chrono::steady_clock::now();
  st.log->tell({ev::log_news::kind::cancel, st.id, 0, st.view.tenant});
}

// A cancel asked for on another replica: this one acts only if it runs the
// response (the asking replica answers from the log).
void on_remote_cancel(response_actor* self, const std::string& tenant) {
  auto& st = self->state;
  ++st.handled;
  if (st.foreign || !visible_to(st, tenant) || check_cancel(st.view, st.cmd) || st.view.terminal())
    return let_go_if_idle(self);
  cancel_generation(self, "client_cancelled");
}

void on_remove(response_actor* self, const std::string& tenant, reply_for<deleted_object>& r) {
  auto& st = self->state;
  ++st.handled;
  ++st.epoch;
  if (!visible_to(st, tenant))
    return r(not_found(st.id));
  auto events = decide_delete(st.view);
  if (!events)
    return r(events.error());
  st.delete_waiters.push_back(std::move(r));
  st.cmd.tenant = st.view.tenant;
  enqueue(self, std::move(*events));
}

// A child asks for this response's chain context.
void on_child_context(response_actor* self, const std::string& tenant, caf::actor& child) {
  auto& st = self->state;
  ++st.handled;
  context_reply out;
  if (!visible_to(st, tenant))
    out.context = not_found(st.id, "previous_response_id");
  else if (!st.view.terminal())
    out.context = ev::make_error(riposte_errc::invalid_request,
                                 "Previous response '" + st.id +
                                     "' has not finished yet; wait for it before continuing.",
                                 "previous_response_id");
  else if (!st.context)
    out.context =
        ev::make_error(riposte_errc::store_error,
                       "The conversation of '" + st.id + "' cannot be rebuilt from the store.",
                       "previous_response_id");
  else
    out.context = st.context;
  self->send(child, context_atom::value, std::move(out));
}

} // namespace riposte::actors::response
