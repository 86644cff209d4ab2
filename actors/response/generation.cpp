// The generation: the request the backend pool runs for this response, its
// updates through the rules (decide_update), and stops (cancel, job timeout).
#include "actors/guard.hpp"
#include "actors/response/context_plan.hpp"
#include "actors/response/state.hpp"
#include "projections/usage.hpp"

namespace riposte::actors::response {

namespace {

namespace ev = events;
using json = nlohmann::json;

// What the model is asked to do when it compacts a conversation.
constexpr const char* compaction_instructions =
    "You are compacting a conversation so that it can continue in a smaller context. Write a "
    "summary of everything above that someone continuing the conversation needs: the user's "
    "goals and constraints, what was decided, what was done (tool calls and their results), "
    "facts and names that matter, and what is still open. Be complete but concise. Write only "
    "the summary.";

} // namespace

generation_request make_request(const response_data& st) {
  generation_request req;
  req.response_id = st.id;
  req.tenant = st.cmd.tenant;
  req.asked_at_us = st.cmd.accepted_us;
  req.model = st.cmd.model;
  req.instructions = st.cmd.params.value("instructions", json());
  req.history = st.turn.parent;
  req.items = unsealed_items(st.turn.seal, st.cmd.tenant,
                             st.resolved_input.is_null() ? st.cmd.input : st.resolved_input);
  req.params = st.cmd.params;
  req.capabilities = st.model.capabilities;
  req.family = st.model.family;
  req.context_window = context_window(st.svc->cfg, st.model);
  req.dropped_items = st.turn.dropped_items;
  req.offer_web_search = st.svc->web_search.provider && st.turn.hosted_rounds < max_hosted_rounds;
  req.offer_image_generation = st.svc->images.provider && st.turn.hosted_rounds < max_hosted_rounds;
  if (st.turn.hosted_rounds > 0) {
    // Later generations of a response that ran hosted tools: what the earlier
    // ones said and the tools' results come after the input.
    for (const auto& item : st.view.output)
      if (!is_hosted_call(item))
        req.items.push_back(item);
    for (const auto& item : st.turn.hosted_items)
      req.items.push_back(item);
    req.first_output_index = st.turn.next_output_index;
  }
  if (st.compacted_history) { // context_management compacted what came before
    req.history = st.compacted_history;
    req.first_output_index = std::max<std::int64_t>(req.first_output_index, 1);
  }
  if (st.cmd.compact) {
    // The model writes the summary: no tools, no format, plain text.
    req.instructions = compaction_instructions;
    req.items.push_back({{"type", "message"},
                         {"role", "user"},
                         {"content", "Write the summary of the conversation above now."}});
    for (const char* name : {"tools", "tool_choice", "text", "max_tool_calls"})
      req.params.erase(name);
    req.params["reasoning"] = {{"effort", "none"}};
  }
  return req;
}

void start_generation(response_actor* self) {
  auto& st = self->state;
  st.started = true;
  if (!st.cmd.generate) {
    // A warm-up: the request's state is recorded, the model is not asked.
    enqueue(self, {ev::response_completed{now_micros() / 1'000'000,
                                          projections::add_usage(json::object(), json::object())}});
    return;
  }
  if (st.compaction_item.is_object() && st.view.output.empty()) // opens the output
    enqueue(self, {ev::output_item_added{0, st.compaction_item},
                   ev::output_item_done{0, st.compaction_item}});
  auto req = st.planned_request ? std::move(*st.planned_request) : make_request(st);
  st.planned_request.reset();
  // Only a blocking create nobody streams can take the answer whole.
  req.stream = !st.subs.empty() || st.cmd.params.value("background", false) || !anyone_waits(st);
  for (const auto& name : projections::sampling_fields()) {
    req.params.erase(name);
    if (st.cmd.sampling.contains(name))
      req.params[name] = st.cmd.sampling[name];
  }
  st.generating = true;
  if (st.clock.sent == std::chrono::steady_clock::time_point{})
    st.clock.sent = std::chrono::steady_clock::now();
  caf::actor me = self;
  auto fault = [self](const std::string& what) { on_fault(self, what); };
  self->request(st.svc->backend_pool(), caf::infinite, generate_atom::value, std::move(req), me)
      .then(guard_fn(self, fault,
                     [self](std::uint64_t ticket) {
                       self->state.ticket = ticket;
                       if (self->state.turn.cancel_requested)
                         self->send(self->state.svc->backend_pool(), cancel_atom::value, ticket);
                     }),
            [self](caf::error& err) {
              // The pool went away before taking the work: this generation
              // never runs.
              on_fault(self, "backend pool unreachable: " + caf::to_string(err));
            });
}

// Events from the backend, in order.
void on_update(response_actor* self, generation_update& u) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  if (st.clock.first == std::chrono::steady_clock::time_point{})
    st.clock.first = now;
  if (u.finished) {
    st.generating = false;
    st.clock.finished = now;
    if (u.timing && !st.clock.backend)
      st.clock.backend = u.timing;
  }
  if (st.broken || st.view.terminal()) {
    if (u.finished) // a broken actor waited for its generation to end
      schedule_passivation(self, std::chrono::milliseconds(0));
    return;
  }
  auto outcome = decide_update(st.cmd, st.turn, std::move(u));
  enqueue(self, std::move(outcome.events));
  // The model called riposte's own tools: they run, then the model goes on
  // in the same response.
  if (outcome.run_hosted_tools)
    run_hosted_tools(self);
}

void cancel_generation(response_actor* self, std::string reason) {
  auto& st = self->state;
  if (st.turn.cancel_requested || st.view.terminal())
    return;
  st.turn.cancel_requested = true;
  if (!st.turn.cancel_event)
    st.turn.cancel_event = ev::response_cancelled{std::move(reason)};
  if (st.generating && st.ticket != 0)
    self->send(st.svc->backend_pool(), cancel_atom::value, st.ticket);
}

// The job timeout passed: stop, and end failed with a clear code.
void on_deadline(response_actor* self) {
  auto& st = self->state;
  if (st.view.terminal() || st.turn.cancel_requested)
    return;
  st.turn.cancel_event = timed_out(st.svc->cfg.job_timeout);
  cancel_generation(self, "job_timeout");
}

// The pool admitted our generation: a queued response is now running.
void on_admitted(response_actor* self) {
  auto& st = self->state;
  if (st.view.status == "queued" && !st.turn.cancel_requested)
    enqueue(self, {ev::response_in_progress{}});
}

} // namespace riposte::actors::response
