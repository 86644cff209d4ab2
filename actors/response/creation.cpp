// Creation, in reading order: a prompt template becomes instructions and
// input; the model must be served and able; item references become the stored
// items they name, file and image references what the model reads; the
// parent's chain context arrives; the context must fit the window (counted
// by the backend's tokenizer near it, compacting first when asked); the
// Idempotency-Key is
// claimed; then the creation is recorded and the generation starts. Each
// step that waits (a store job, another actor) resumes in its `on_` handler.
#include "actors/guard.hpp"
#include "actors/prompts.hpp"
#include "actors/response/context_plan.hpp"
#include "actors/response/inputs.hpp"
#include "actors/response/state.hpp"
#include "events/ids.hpp"

#include <limits>
#include <thread>

namespace riposte::actors::response {

namespace {

namespace ev = events;
using json = nlohmann::json;
using ev::riposte_errc;

void resolve_prompt_ref(response_actor* self);
void resolve_item_refs(response_actor* self);
void resolve_references(response_actor* self);
void resolve_parent(response_actor* self);
void plan(response_actor* self);
void claim_key(response_actor* self);
void record_creation(response_actor* self);

// Prompts and files live in the store, also for a `store: false` response.
ev::event_log* store_of(const response_data& st) {
  return st.log == st.private_log.get() ? st.svc->log : st.log;
}

// Runs `job` (blocking reads giving an ev::result<json>) on `pool`; the
// result comes back to this actor as (Atom, result). A job that throws
// answers `failure` with what it said.
template <class Atom, class Job>
void off_actor(response_actor* self, thread_pool* pool, riposte_errc failure, Job job) {
  caf::actor me = self;
  pool->post([me, job = std::move(job)] { caf::anon_send(me, Atom::value, job()); },
             [me, failure](const std::string& what) {
               caf::anon_send(me, Atom::value, ev::result<json>{ev::make_error(failure, what)});
             });
}

// Step 0: a prompt template (a store read) becomes the instructions and the
// first input messages, before anything is checked.
void resolve_prompt_ref(response_actor* self) {
  auto& st = self->state;
  auto ref = st.cmd.params.value("prompt", json());
  if (!ref.is_object()) {
    check_model(self);
    return;
  }
  off_actor<prompted_atom>(self, st.svc->store_pool, riposte_errc::internal,
                           [log = store_of(st), tenant = st.cmd.tenant, ref] {
                             auto rendered = resolve_prompt(*log, tenant, ref);
                             if (!rendered)
                               return ev::result<json>{rendered.error()};
                             return ev::result<json>{json{{"instructions", rendered->instructions},
                                                          {"input", rendered->input}}};
                           });
}

// The prompt's instructions come first (the request's own follow them), its
// messages before the request's input.
void apply_prompt(create_command& cmd, json& rendered) {
  auto& instructions = rendered["instructions"];
  const auto& own = cmd.params.value("instructions", json());
  if (instructions.is_string() && own.is_string())
    cmd.params["instructions"] = instructions.get<std::string>() + "\n\n" + own.get<std::string>();
  else if (instructions.is_string())
    cmd.params["instructions"] = instructions;
  json input = json::array();
  for (auto& item : rendered["input"]) {
    item["id"] = ev::make_id("msg_");
    item["status"] = "completed";
    input.push_back(std::move(item));
  }
  for (auto& item : cmd.input)
    input.push_back(std::move(item));
  cmd.input = std::move(input);
}

// Step 2: item references become the stored items they name (store reads),
// before anything else looks at the input.
void resolve_item_refs(response_actor* self) {
  auto& st = self->state;
  if (!has_item_references(st.cmd.input)) {
    resolve_references(self);
    return;
  }
  off_actor<itemrefs_atom>(
      self, st.svc->store_pool, riposte_errc::store_error,
      [log = store_of(st), input = st.cmd.input, tenant = st.cmd.tenant, store = st.cmd.store] {
        return resolve_item_references(input, tenant, *log, store);
      });
}

// Step 3: files and images by reference become what the model reads (store
// reads and URL fetches, on the outbound pool), before anything is stored; a
// bad reference is a 400.
void resolve_references(response_actor* self) {
  auto& st = self->state;
  if (!has_references(st.cmd.input)) {
    resolve_parent(self);
    return;
  }
  off_actor<resolved_atom>(
      self, st.svc->outbound_pool, riposte_errc::internal,
      [log = store_of(st), input = st.cmd.input, tenant = st.cmd.tenant, limits = st.svc->inputs] {
        return resolve_inputs(input, tenant, *log, limits);
      });
}

// Step 4: the parent's chain context, one message whatever its depth.
void resolve_parent(response_actor* self) {
  auto& st = self->state;
  if (!st.cmd.conversation_id.empty()) {
    begin_conversation_turn(self);
    return;
  }
  if (st.cmd.previous_response_id.empty()) {
    plan(self);
    return;
  }
  if (st.cmd.parent_context) {
    context_reply held{st.cmd.parent_context};
    on_parent(self, held);
    return;
  }
  caf::actor me = self;
  self->send(registry_of(st), context_atom::value, st.cmd.previous_response_id, st.cmd.tenant, me);
}

// POST /v1/responses/input_tokens: the planned context's size; nothing was
// stored, and the actor goes.
void answer_count(response_actor* self, std::int64_t tokens, bool exact) {
  auto& st = self->state;
  for (auto& w : st.count_waiters)
    w(token_count{tokens, exact});
  st.count_waiters.clear();
  schedule_passivation(self, std::chrono::milliseconds(0));
}

// context_management [{type: "compaction", compact_threshold}]: the token
// count over which the chain so far is compacted first (0: never).
std::int64_t compact_threshold(const response_data& st) {
  for (const auto& entry : st.cmd.params.value("context_management", json::array()))
    if (entry.value("type", "") == "compaction") {
      auto t = entry.value("compact_threshold", json());
      if (t.is_number_integer())
        return t.get<std::int64_t>();
      return context_window(st.svc->cfg, st.model) * 3 / 4; // none given: most of the window
    }
  return 0;
}

// Server-side compaction: a compact-mode response of the same chain (the
// model summarizes it through the backend, nothing stored), then this turn
// runs on its result.
void start_compaction(response_actor* self) {
  auto& st = self->state;
  st.compaction_tried = true;
  create_command c;
  c.response_id = ev::make_id("resp_");
  c.tenant = st.cmd.tenant;
  c.model = st.cmd.model;
  c.params = {{"store", false}, {"truncation", "auto"}, {"instructions", nullptr}};
  c.input = json::array();
  c.previous_response_id = st.cmd.previous_response_id;
  c.conversation_id = st.cmd.conversation_id;
  c.store = false;
  c.compact = true;
  caf::actor me = self;
  reply_for<compaction> back{reply_for<compaction>::fn_type(
      [me](ev::result<compaction> r) { caf::anon_send(me, compacted_atom::value, std::move(r)); })};
  self->send(registry_of(st), create_atom::value, std::move(c), std::move(back));
}

// The estimate's plan, decided at once.
context_planner estimated_plan(const response_data& st) {
  context_planner planner(st.cmd, make_request(st), false);
  while (const auto* next = planner.next())
    planner.counted(st.svc->count_tokens(*next));
  return planner;
}

// Is the estimate close enough to the budget (or over it) that the model's
// own tokenizer should decide? A count asks whenever it can: the number is
// what the client wants.
bool wants_exact_count(const response_data& st, const context_planner& estimate) {
  if (st.requeued || st.cmd.compact || !st.svc->count_exactly || !st.svc->counts_exactly ||
      !st.svc->counts_exactly(st.cmd.model))
    return false;
  if (st.cmd.count_only)
    return true;
  if (estimate.budget() <= 0 || st.svc->cfg.exact_count_percent > 100)
    return false;
  return estimate.whole_tokens() * 100 >=
         estimate.budget() * std::int64_t{st.svc->cfg.exact_count_percent};
}

void ask_tokenizer(response_actor* self) {
  auto& st = self->state;
  caf::actor me = self;
  st.svc->count_exactly(*st.exact_plan->next(), [me](ev::result<std::int64_t> n) {
    caf::anon_send(me, tokenized_atom::value, std::move(n));
  });
}

void follow_plan(response_actor* self, context_planner&& planned);

// Step 5: the context must fit the model's window, by the estimate, or by
// the backend's tokenizer when the estimate comes near the window. A
// re-queued response plans again (it fitted when it was created).
void plan(response_actor* self) {
  auto& st = self->state;
  if (!st.svc->count_tokens)
    return follow_plan(self, context_planner(st.cmd, make_request(st), false));
  if (auto threshold = compact_threshold(st);
      threshold > 0 && !st.compaction_tried && !st.requeued && !st.cmd.compact &&
      !st.cmd.count_only && st.turn.parent && st.svc->count_tokens(make_request(st)) > threshold) {
    start_compaction(self);
    return;
  }
  auto estimate = estimated_plan(st);
  if (wants_exact_count(st, estimate)) {
    st.exact_plan = std::make_unique<context_planner>(st.cmd, make_request(st), true);
    ask_tokenizer(self);
    return;
  }
  if (st.svc->stats)
    st.svc->stats->prompt_count("estimate");
  follow_plan(self, std::move(estimate));
}

void follow_plan(response_actor* self, context_planner&& planned) {
  auto& st = self->state;
  const auto& plan = planned.result();
  if (st.cmd.count_only && !plan && plan.error().code == riposte_errc::context_too_long) {
    // A count answers even when the request would not fit: that is what
    // the client is asking.
    answer_count(self, planned.whole_tokens(), planned.exact());
    return;
  }
  if (!plan && !st.requeued) {
    fail_create(self, plan.error());
    return;
  }
  if (plan) {
    st.turn.dropped_items = plan->dropped_items;
    if (plan->dropped_items > 0)
      st.cmd.params["truncation_details"] = plan->details;
  }
  if (st.cmd.count_only) {
    answer_count(self, plan ? plan->input_tokens : 0, planned.exact());
    return;
  }
  if (st.requeued) {
    start_generation(self);
    return;
  }
  // Recorded and sent at once (no key to claim first, not queued): the
  // request the plan counted is the one to send.
  if (plan && plan->dropped_items == 0 && st.cmd.idempotency_key.empty() &&
      !st.cmd.params.value("background", false))
    st.planned_request = planned.take_request();
  claim_key(self);
  st.planned_request.reset();
}

// Step 6: claim the Idempotency-Key (if any), then record.
void claim_key(response_actor* self) {
  auto& st = self->state;
  if (st.cmd.idempotency_key.empty()) {
    record_creation(self);
    return;
  }
  auto log = st.log;
  auto tenant = st.cmd.tenant;
  auto key = st.cmd.idempotency_key;
  ev::idempotency_record rec{st.cmd.request_hash, st.id};
  caf::actor me = self;
  st.in_flight = true;
  st.svc->store_pool->post(
      [=] {
        auto claimed = log->claim_idempotency(tenant, key, rec, now_micros());
        ev::result<json> out = json();
        if (!claimed)
          out = claimed.error();
        else
          out =
              json{{"response_id", claimed->response_id}, {"request_hash", claimed->request_hash}};
        caf::anon_send(me, claimed_atom::value, std::move(out));
      },
      [=](const std::string& what) {
        caf::anon_send(me, claimed_atom::value,
                       ev::result<json>{ev::make_error(riposte_errc::store_error, what)});
      });
}

// Step 7: the creation is appended; a foreground response asks the backend
// while it is being stored (the fsync and the first token overlap). Its
// events are appended after the creation all the same (the actor appends in
// order), and nobody sees anything before it is stored.
void record_creation(response_actor* self) {
  auto& st = self->state;
  enqueue(self, decide_creation(st.cmd, now_micros() / 1'000'000));
  if (st.svc->cfg.job_timeout.count() > 0)
    self->delayed_send(self, st.svc->cfg.job_timeout, deadline_atom::value);
  if (!st.cmd.params.value("background", false))
    start_generation(self);
}

} // namespace

void on_create(response_actor* self, create_command& cmd) {
  auto& st = self->state;
  ++st.handled;
  ++st.epoch;
  st.cmd = std::move(cmd);
  st.clock.started = std::chrono::steady_clock::now();
  if (!st.cmd.store) {
    st.private_log = st.svc->make_ephemeral_log();
    st.log = st.private_log.get();
  }
  resolve_prompt_ref(self);
}

void on_prompted(response_actor* self, ev::result<json>& rendered) {
  if (!rendered)
    return fail_create(self, rendered.error());
  apply_prompt(self->state.cmd, *rendered);
  check_model(self);
}

namespace {

// The model's capabilities: from the pool's cache when fresh, else asked.
void on_model(response_actor* self, ev::result<model_info>& info) {
  auto& s = self->state;
  if (!info)
    return fail_create(self, info.error());
  if (auto why = check_capabilities(s.cmd, *info, s.svc->images))
    return fail_create(self, *why);
  s.model = std::move(*info);
  resolve_item_refs(self);
}

} // namespace

void check_model(response_actor* self) {
  auto& st = self->state;
  if (st.svc->cfg.models)
    if (auto cached = st.svc->cfg.models->fresh(st.cmd.model, st.svc->cfg.model_cache_ttl)) {
      ev::result<model_info> info = std::move(*cached);
      return on_model(self, info);
    }
  auto fault = [self](const std::string& what) { on_fault(self, what); };
  self->request(st.svc->backend_pool(), st.svc->cfg.model_request_timeout, model_atom::value,
                st.cmd.model)
      .then(guard_fn(self, fault, [self](ev::result<model_info>& info) { on_model(self, info); }),
            [self](caf::error& err) {
              fail_create(self, ev::make_error(riposte_errc::backend_unavailable,
                                               "The model's capabilities could not be read: " +
                                                   caf::to_string(err) + "."));
            });
}

// The input as if the client had sent the items: its tool outputs must
// answer calls (in it, or in the chain), and the model must be able to read
// it, as for any input.
void on_item_refs(response_actor* self, ev::result<json>& resolved) {
  auto& st = self->state;
  if (!resolved)
    return fail_create(self, resolved.error());
  st.cmd.input = std::move(*resolved);
  st.cmd.open_call_ids = open_outputs(st.cmd.input);
  if (!st.cmd.open_call_ids.empty() && st.cmd.previous_response_id.empty() &&
      st.cmd.conversation_id.empty())
    return fail_create(self, no_tool_call(st.cmd.open_call_ids.front()));
  if (auto why = check_capabilities(st.cmd, st.model, st.svc->images))
    return fail_create(self, *why);
  resolve_references(self);
}

void on_resolved(response_actor* self, ev::result<json>& resolved) {
  if (!resolved)
    return fail_create(self, resolved.error());
  self->state.resolved_input = std::move(*resolved);
  resolve_parent(self);
}

void on_parent(response_actor* self, context_reply& parent) {
  auto& st = self->state;
  if (!parent.context) {
    auto err = parent.context.error();
    err.param = "previous_response_id";
    return fail_create(self, err);
  }
  // A conversation's items stand where a parent's would (its tool calls are
  // what this input's outputs answer), with no depth limit.
  auto max_depth = st.cmd.conversation_id.empty() ? st.svc->cfg.max_chain_depth
                                                  : std::numeric_limits<std::int64_t>::max();
  if (auto why = check_parent(st.cmd, *parent.context, max_depth))
    return fail_create(self, *why);
  st.depth = (*parent.context)->depth + 1;
  st.turn.parent = std::move(*parent.context);
  plan(self);
}

// The backend's tokenizer answered one count of the plan: the next one, or
// the plan. A tokenizer that cannot say leaves the estimate to decide.
void on_tokenized(response_actor* self, ev::result<std::int64_t>& tokens) {
  auto& st = self->state;
  if (!st.exact_plan)
    return;
  if (!tokens || *tokens < 0) {
    st.exact_plan.reset();
    if (st.svc->stats)
      st.svc->stats->prompt_count("estimate_fallback");
    return follow_plan(self, estimated_plan(st));
  }
  st.exact_plan->counted(*tokens);
  if (st.exact_plan->next())
    return ask_tokenizer(self);
  auto planned = std::move(st.exact_plan);
  if (st.svc->stats)
    st.svc->stats->prompt_count("exact");
  follow_plan(self, std::move(*planned));
}

void on_compacted(response_actor* self, ev::result<compaction>& compacted) {
  auto& st = self->state;
  if (!compacted) {
    auto err = compacted.error();
    err.message = "Compacting the conversation failed: " + err.message;
    return fail_create(self, err);
  }
  const auto& output = compacted->output;
  st.compaction_item = output.back();
  st.compacted_history = std::make_shared<const projections::chain_segment>(
      nullptr, unsealed_items(st.turn.seal, st.cmd.tenant, output), 1);
  plan(self);
}

// The idempotency claim returned: ours, a replay, or a conflicting reuse.
void on_claimed(response_actor* self, ev::result<json>& claim) {
  auto& st = self->state;
  st.in_flight = false;
  if (!claim)
    return fail_create(self, claim.error());
  auto winner = (*claim)["response_id"].get<std::string>();
  if (winner == st.id)
    return record_creation(self);
  if ((*claim)["request_hash"] != st.cmd.request_hash)
    return fail_create(self, ev::make_error(riposte_errc::idempotency_conflict,
                                            "Idempotency-Key '" + st.cmd.idempotency_key +
                                                "' was already used with a different request body.",
                                            "Idempotency-Key"));
  // The same request again: answer with the response the key created. Its
  // creator, on another replica maybe, stores it just after the claim: wait
  // (briefly) until it has, so that it is found wherever it is read.
  if (st.svc->stats)
    st.svc->stats->idempotent_replay();
  st.in_flight = true;
  auto log = st.log;
  caf::actor me = self;
  st.svc->store_pool->post(
      [=] {
        for (int wait = 0; wait < 80; ++wait) {
          auto version = log->version(ev::response_stream(winner));
          if (!version || *version != ev::no_stream)
            break;
          std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        caf::anon_send(me, replay_atom::value, winner);
      },
      [=](const std::string&) { caf::anon_send(me, replay_atom::value, winner); });
}

void on_replay(response_actor* self, const std::string& winner) {
  auto& st = self->state;
  st.in_flight = false;
  for (auto& w : st.waiters)
    self->send(registry_of(st), await_atom::value, winner, st.cmd.tenant, w);
  st.waiters.clear();
  for (auto& sub : st.subs) {
    sub.sink->retarget(winner);
    self->send(registry_of(st), subscribe_atom::value, winner, st.cmd.tenant, std::int64_t{-1},
               sink_handle{sub.sink});
  }
  st.subs.clear();
  release_conversation(self); // the first request's turn is the one that counts
  schedule_passivation(self, std::chrono::milliseconds(0));
}

void fail_create(response_actor* self, const ev::error_info& err) {
  auto& st = self->state;
  st.exact_plan.reset(); // a count still out is answered to nobody
  if (st.requeued) { // already stored: it ends failed instead of staying queued
    enqueue(self, {ev::response_failed{ev::failure_code::server_error, err.message, json()}});
    return;
  }
  release_conversation(self);
  fail_waiters(st, err);
  for (auto& sub : st.subs)
    sub.sink->fail(err);
  st.subs.clear();
  schedule_passivation(self, std::chrono::milliseconds(0));
}

} // namespace riposte::actors::response
