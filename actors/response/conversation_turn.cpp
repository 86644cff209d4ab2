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
template <class Atom>
void ask(response_actor* self, conversation_op::kind what, json items = json::array()) {
  auto& st = self->state;
  conversation_op op;
  op.what = what;
  op.tenant = st.cmd.tenant.empty() ? st.view.tenant : st.cmd.tenant;
  op.conversation_id = st.cmd.conversation_id;
  op.item_id = st.id;
  op.items = std::move(items);
  op.holder = caf::actor_cast<caf::actor>(self);
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
  ask<conversed_atom>(self, reads_only ? conversation_op::kind::read_turn
                                       : conversation_op::kind::begin_turn);
  if (!reads_only)
    st.conversation = turn::locked; // from now on, every end unlocks
}

void on_conversation(response_actor* self, ev::result<json>& items) {
  auto& st = self->state;
  if (!items) {
    st.conversation = turn::over; // a refusal holds no lock
    return fail_create(self, items.error());
  }
  auto segment = std::make_shared<const projections::chain_segment>(
      nullptr, items->value("items", json::array()), 1);
  context_reply held{segment};
  // The conversation's items stand where a parent's would: its tool calls
  // are what this input's outputs answer.
  if (auto why = check_parent(st.cmd, segment, st.svc->cfg.max_chain_depth)) {
    auto err = *why;
    if (err.param == "previous_response_id")
      err.param = "conversation";
    return fail_create(self, err);
  }
  on_parent(self, held);
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
