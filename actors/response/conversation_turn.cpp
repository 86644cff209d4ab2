// A response's turn in a conversation: the conversation is locked for it
// and its items become the context before the input (creation, step 4);
// once the response completes (or ends incomplete), its input and output are
// appended to the conversation before the end is stored, so a client that
// sees the end finds the turn there; any other end only unlocks.
#include "actors/response/state.hpp"

#include <algorithm>

namespace riposte::actors::response {

namespace {

namespace ev = events;
using json = nlohmann::json;
using turn = response_data::conversation_turn;

bool appends_turn(const ev::event& e) {
  return std::holds_alternative<ev::response_completed>(e) ||
         std::holds_alternative<ev::response_incomplete>(e);
}

// An operation on this response's conversation; the answer comes back to
// this actor as (Atom, result).
conversation_op turn_op(response_actor* self, conversation_op::kind what) {
  auto& st = self->state;
  conversation_op op;
  op.what = what;
  op.tenant = writing_tenant(st);
  op.conversation_id = st.cmd.conversation_id;
  op.item_id = st.id;
  op.holder = caf::actor_cast<caf::actor>(self);
  return op;
}

template <class Atom>
void ask(response_actor* self, conversation_op::kind what, json items = json::array()) {
  auto& st = self->state;
  auto op = turn_op(self, what);
  op.items = std::move(items);
  caf::actor me = self;
  reply_to back{reply_to::fn_type([me](ev::result<json> r) {
    if (me)
      caf::anon_send(me, Atom::value, std::move(r));
  })};
  self->send(st.svc->conversations(), conversation_atom::value, std::move(op), std::move(back));
}

} // namespace

void begin_conversation_turn(response_actor* self) {
  auto& st = self->state;
  bool reads_only = st.cmd.count_only || st.cmd.compact;
  auto op = turn_op(self, reads_only ? conversation_op::kind::read_turn
                                     : conversation_op::kind::begin_turn);
  caf::actor me = self;
  op.context =
      reply_for<context_reply>{reply_for<context_reply>::fn_type([me](ev::result<context_reply> r) {
        caf::anon_send(me, conversed_atom::value,
                       r ? std::move(*r) : context_reply{std::move(r.error())});
      })};
  self->send(st.svc->conversations(), conversation_atom::value, std::move(op), reply_to{});
  if (!reads_only)
    st.conversation = turn::locked; // from now on, every end unlocks
}

void on_conversation(response_actor* self, context_reply& items) {
  auto& st = self->state;
  if (!items.context) {
    st.conversation = turn::over; // a refusal holds no lock
    return fail_create(self, items.context.error());
  }
  on_parent(self, items);
}

bool hold_for_conversation(response_actor* self) {
  auto& st = self->state;
  if (st.conversation != turn::locked && st.conversation != turn::appending)
    return false;
  // The end is the last event a response makes: what is pending besides it
  // came before it.
  if (st.held.empty()) {
    auto end = std::find_if(st.pending.begin(), st.pending.end(), appends_turn);
    if (end == st.pending.end())
      return false;
    st.held.assign(std::make_move_iterator(end), std::make_move_iterator(st.pending.end()));
    st.pending.erase(end, st.pending.end());
  }
  if (st.conversation == turn::appending)
    return true;
  if (!st.pending.empty())
    return false; // what comes before the end is stored first
  if (st.in_flight && st.fast)
    want_notice(self); // the writer says when its batch is in (it may be already)
  if (st.in_flight)
    return true;
  // Everything before the end is in the view: the turn is its input, then
  // its output.
  json items = json::array();
  for (const auto* list : {&st.view.input, &st.view.output})
    for (const auto& item : *list)
      items.push_back(item);
  st.conversation = turn::appending;
  ask<turned_atom>(self, conversation_op::kind::finish_turn, std::move(items));
  return true;
}

void on_turn_appended(response_actor* self, ev::result<json>& appended) {
  auto& st = self->state;
  if (st.conversation != turn::appending)
    return;
  st.conversation = turn::over;
  if (!appended) {
    // The turn is not in the conversation: the response cannot claim it
    // completed there.
    auto usage = json();
    if (const auto* c = std::get_if<ev::response_completed>(&st.held.front()))
      usage = c->usage;
    else if (const auto* i = std::get_if<ev::response_incomplete>(&st.held.front()))
      usage = i->usage;
    st.held.front() =
        ev::response_failed{ev::failure_code::server_error,
                            "This turn could not be added to conversation '" +
                                st.cmd.conversation_id + "': " + appended.error().message,
                            usage};
  }
  for (auto& e : st.pending)
    st.held.push_back(std::move(e));
  st.pending = std::move(st.held);
  st.held.clear();
  flush(self);
}

void release_conversation(response_actor* self) {
  auto& st = self->state;
  if (st.conversation != turn::locked)
    return;
  st.conversation = turn::over;
  ask<turned_atom>(self, conversation_op::kind::end_turn);
}

} // namespace riposte::actors::response
