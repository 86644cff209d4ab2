// The backend pool: at most `backend_concurrency` generations at once (the
// rest wait in FIFO order), cancellation of queued or running work, and a
// short-lived cache of the backend's model list.
#include "actors/guard.hpp"
#include "actors/messages.hpp"
#include "actors/services.hpp"
#include "events/faults.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>

namespace riposte::actors {

namespace {

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point t) {
  return std::chrono::duration<double>(clock::now() - t).count();
}

struct queued {
  std::uint64_t ticket;
  generation_request req;
  caf::actor requester;
  clock::time_point since = clock::now();
  // Where replicas share admission: its row in the store's queue, and the
  // limits it counts against as one string (to match it with a held slot).
  events::waiting_job entry{};
  std::string limits;
};

// Waiting work, one FIFO per tenant, served round-robin: a tenant with a
// thousand queued jobs delays another tenant's one job by at most one turn.
class fair_queue {
public:
  void push(queued job) {
    auto& q = by_tenant_[job.req.tenant];
    if (q.empty())
      turn_.push_back(job.req.tenant);
    q.push_back(std::move(job));
    ++size_;
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The next job, in tenant turn, that `fits`; the tenant then goes to the
  // back of the turn.
  template <class Fits>
  std::optional<queued> pop(Fits fits) {
    for (std::size_t i = 0; i < turn_.size(); ++i) {
      auto tenant = turn_[i];
      auto& q = by_tenant_[tenant];
      auto it = std::find_if(q.begin(), q.end(), fits);
      if (it == q.end())
        continue;
      auto job = std::move(*it);
      q.erase(it);
      --size_;
      turn_.erase(turn_.begin() + static_cast<std::ptrdiff_t>(i));
      if (!q.empty())
        turn_.push_back(tenant);
      else
        by_tenant_.erase(tenant);
      return job;
    }
    return std::nullopt;
  }

  const queued* find(std::uint64_t ticket) const {
    for (const auto& [tenant, q] : by_tenant_)
      for (const auto& job : q)
        if (job.ticket == ticket)
          return &job;
    return nullptr;
  }

  // Takes a waiting job out; nothing when it is not waiting.
  std::optional<queued> take(std::uint64_t ticket) {
    for (auto& [tenant, q] : by_tenant_)
      for (auto it = q.begin(); it != q.end(); ++it)
        if (it->ticket == ticket) {
          auto job = std::move(*it);
          q.erase(it);
          --size_;
          if (q.empty()) {
            turn_.erase(std::find(turn_.begin(), turn_.end(), tenant));
            by_tenant_.erase(tenant);
          }
          return job;
        }
    return std::nullopt;
  }

private:
  std::map<std::string, std::deque<queued>> by_tenant_;
  std::deque<std::string> turn_;
  std::size_t size_ = 0;
};

// Times one generation from the backend's thread (its sink is called there,
// one update after another): first token, token rate, outcome.
struct generation_meter {
  std::shared_ptr<adapters::observability::metrics> stats;
  std::string backend, model;
  clock::time_point sent = clock::now();
  std::optional<clock::time_point> first;

  bool streamed = true;             // time to first token means something only when streamed
  std::string status = "cancelled"; // until a terminal event says otherwise
  nlohmann::json usage;

  void saw(const generation_update& u) {
    if (!stats)
      return;
    for (const auto& e : u.events) {
      if (streamed && !first &&
          (std::holds_alternative<events::output_text_delta>(e) ||
           std::holds_alternative<events::function_call_arguments_delta>(e) ||
           std::holds_alternative<events::reasoning_delta>(e))) {
        first = clock::now();
        stats->first_token(model, std::chrono::duration<double>(*first - sent).count());
      } else if (const auto* c = std::get_if<events::response_completed>(&e)) {
        status = "ok";
        usage = c->usage;
      } else if (const auto* i = std::get_if<events::response_incomplete>(&e)) {
        status = "ok";
        usage = i->usage;
      } else if (std::holds_alternative<events::response_failed>(e)) {
        status = "error";
      }
    }
    if (!u.finished)
      return;
    stats->backend_request(backend, model, "chat", status, seconds_since(sent));
    if (first && usage.is_object()) {
      auto tokens = usage.value("output_tokens", 0.0);
      auto after_first = std::chrono::duration<double>(clock::now() - *first).count();
      if (tokens > 1 && after_first > 0)
        stats->token_rate(model, (tokens - 1) / after_first);
    }
  }
};

} // namespace

// The work a restarted pool must not lose: what waits, what runs, and the
// slots they hold.
struct pool_memory {
  std::map<std::uint64_t, clock::time_point> started; // ticket -> slot taken
  std::uint64_t next_ticket = 1;
  fair_queue waiting;
  std::map<std::uint64_t, std::uint64_t> running; // ticket -> backend id
  std::map<std::uint64_t, std::string> running_model;
  std::map<std::string, std::size_t> per_model; // generations running per model
  // Generations running per backend (by its label), for backends with their
  // own limit.
  std::map<std::uint64_t, std::string> running_backend;
  std::map<std::string, std::size_t> per_backend;
  // Where replicas share admission (event_log::shares_admission): what the
  // store has yet to hear, whether it is being asked now, and the slots this
  // process holds there.
  struct {
    std::vector<events::waiting_job> arrived;
    std::vector<std::uint64_t> ended; // tickets whose rows go: slots given back, jobs dropped
    bool asking = false;
    bool ask_again = false; // news or the timer: something may be admitted
    bool timer = false;     // a look is scheduled (work waits, or a slot is idle)
    // A slot is an admitted row, named by the ticket it was admitted for.
    // While no other process's work waits, a slot whose job ended is kept:
    // the next job here with the same limits runs in it at once, with no
    // round trip (that is what makes a lone replica on PostgreSQL as quick
    // as one that admits alone). Kept idle too long, or wanted elsewhere,
    // it goes back.
    struct held_slot {
      std::string limits;    // what a job taking it over must count against
      std::uint64_t job = 0; // running in it now; 0: idle
      clock::time_point idle_since{};
    };
    std::map<std::uint64_t, held_slot> slots;
    std::map<std::uint64_t, std::uint64_t> slot_of; // job ticket -> slot
    bool others_waiting = false;                    // as the store last said
    // Jobs waiting here that the store has not heard of: while no other
    // replica is there, a job that a held slot will take when it frees
    // needs no row (and no round trip). Told once another replica appears.
    std::set<std::uint64_t> deferred;
  } shared;
};

std::shared_ptr<pool_memory> make_pool_memory() {
  return std::make_shared<pool_memory>();
}

namespace {

struct pool_state {
  std::shared_ptr<backend> b;
  settings cfg;
  shared_admission shared;                                 // log null: this process admits alone
  std::shared_ptr<adapters::observability::metrics> stats; // may be null (tests)
  std::string backend_label;
  std::shared_ptr<pool_memory> mem;
  slot_ptr self_slot; // where the backend's callbacks find the pool now
  std::vector<model_info> models;
  std::chrono::steady_clock::time_point models_at{};
  std::vector<std::function<void(const events::result<std::vector<model_info>>&)>> model_waiters;
  bool listing = false;
  // /api/show calls on their way, per model, with whoever waits for them;
  // what they read is cached in cfg.models (shared with the actors).
  std::map<std::string, std::vector<caf::typed_response_promise<events::result<model_info>>>> shows;
};

using pool_actor = backend_pool_actor::stateful_pointer<pool_state>;

// Starts a job the limits admitted: its slot counted, the backend called.
void launch(pool_actor self, queued job) {
  auto& st = self->state;
  ++st.mem->per_model[job.req.model];
  st.mem->running_model[job.ticket] = job.req.model;
  // The backend serving the model, named once: its limit counts this job
  // and its metrics label the generation.
  auto label = st.b->label_for(job.req.model);
  if (st.b->concurrency_for(job.req.model) != 0) {
    ++st.mem->per_backend[label];
    st.mem->running_backend[job.ticket] = label;
  }
  auto first = caf::actor_cast<caf::actor>(self);
  auto slot = st.self_slot;
  auto ticket = job.ticket;
  auto requester = job.requester;
  if (st.stats) {
    st.stats->queue_wait(seconds_since(job.since));
    st.stats->queue_depth().Set(static_cast<double>(st.mem->waiting.size()));
  }
  st.mem->started[ticket] = clock::now();
  auto meter =
      std::make_shared<generation_meter>(generation_meter{st.stats,
                                                          label.empty() ? st.backend_label : label,
                                                          job.req.model,
                                                          clock::now(),
                                                          std::nullopt,
                                                          job.req.stream,
                                                          "cancelled",
                                                          {}});
  // Sent before the backend can produce anything, so it is first in line.
  caf::anon_send(requester, admitted_atom::value);
  // The sink runs on the backend's thread: it only sends messages.
  auto id = st.b->generate(
      std::move(job.req), [requester, first, slot, ticket, meter](generation_update u) {
        meter->saw(u);
        bool finished = u.finished;
        caf::anon_send(requester, update_atom::value, std::move(u));
        if (finished)
          caf::anon_send(slot && slot->get() ? slot->get() : first, finished_atom::value, ticket);
      });
  st.mem->running.emplace(ticket, id);
}

// The limits a job counts against, named alike on every replica, once as
// its row in the store's queue and once as one string.
void name_limits(const pool_state& st, queued& job) {
  const auto& req = job.req;
  auto& w = job.entry;
  w = {job.ticket, req.tenant, req.asked_at_us, {}};
  w.limits.emplace_back("all", static_cast<std::int64_t>(st.cfg.backend_concurrency));
  if (st.cfg.model_concurrency != 0)
    w.limits.emplace_back("model:" + req.model,
                          static_cast<std::int64_t>(st.cfg.model_concurrency));
  if (auto limit = st.b->concurrency_for(req.model); limit != 0)
    w.limits.emplace_back("backend:" + st.b->label_for(req.model),
                          static_cast<std::int64_t>(limit));
  job.limits.clear();
  for (const auto& [name, count] : w.limits)
    job.limits += '\x1e' + name + '\x1f' + std::to_string(count);
}

// How long waiting work goes before the store is asked again without news
// (a replica that died frees its slots without telling anyone), and how long
// a slot stays held idle.
constexpr auto shared_look_every = std::chrono::milliseconds{500};
constexpr auto idle_slot_kept = std::chrono::milliseconds{250};

void look_later(pool_actor self, std::chrono::milliseconds after) {
  auto& sh = self->state.mem->shared;
  if (sh.timer)
    return;
  sh.timer = true;
  self->delayed_send(self, after, admitted_atom::value, true);
}

// Tells the store what arrived and ended and asks what may start, one call
// at a time (what comes meanwhile goes in the next); off the actor threads.
void ask_store(pool_actor self) {
  auto& st = self->state;
  auto& sh = st.mem->shared;
  if (sh.asking || (sh.arrived.empty() && sh.ended.empty() && !sh.ask_again))
    return;
  sh.asking = true;
  sh.ask_again = false;
  auto arrived = std::move(sh.arrived);
  auto ended = std::move(sh.ended);
  sh.arrived.clear();
  sh.ended.clear();
  auto* log = st.shared.log;
  auto slot = st.self_slot;
  auto first = caf::actor_cast<caf::actor>(self);
  auto answer = [slot, first](events::result<events::admission> r,
                              std::vector<events::waiting_job> arrived,
                              std::vector<std::uint64_t> ended) {
    caf::anon_send(slot && slot->get() ? slot->get() : first, admitted_atom::value, std::move(r),
                   std::move(arrived), std::move(ended));
  };
  st.shared.pool->post(
      [log, arrived, ended, answer] { answer(log->admit(arrived, ended), arrived, ended); },
      [arrived, ended, answer](const std::string& what) {
        answer(events::make_error(events::riposte_errc::store_error, what), arrived, ended);
      });
}

// Runs `job` in held slot `slot`.
void run_in_slot(pool_actor self, std::uint64_t slot, queued job) {
  auto& sh = self->state.mem->shared;
  sh.slots[slot].job = job.ticket;
  sh.slot_of[job.ticket] = slot;
  launch(self, std::move(job));
}

// Gives a held slot back to the store.
void give_back(pool_state& st, std::uint64_t slot) {
  auto& sh = st.mem->shared;
  sh.slots.erase(slot);
  sh.ended.push_back(slot);
}

void give_back_idle(pool_state& st, clock::duration idle_for) {
  auto& sh = st.mem->shared;
  std::vector<std::uint64_t> idle;
  for (const auto& [ticket, slot] : sh.slots)
    if (slot.job == 0 && clock::now() - slot.idle_since >= idle_for)
      idle.push_back(ticket);
  for (auto t : idle)
    give_back(st, t);
}

// A job that will not run here after all (cancelled while waiting, or
// taken into a held slot): its row goes, unless the store never heard of it.
void forget_shared(pool_state& st, std::uint64_t ticket) {
  auto& sh = st.mem->shared;
  if (sh.deferred.erase(ticket) != 0)
    return;
  auto unsent = std::find_if(sh.arrived.begin(), sh.arrived.end(),
                             [&](const events::waiting_job& w) { return w.ticket == ticket; });
  if (unsent != sh.arrived.end())
    sh.arrived.erase(unsent);
  else
    sh.ended.push_back(ticket);
}

// Once another replica is there (or its work waits), the store hears of
// every job waiting here.
void tell_deferred(pool_state& st) {
  auto& sh = st.mem->shared;
  if (sh.deferred.empty() || (!st.shared.log->has_peers() && !sh.others_waiting))
    return;
  for (auto ticket : sh.deferred)
    if (const auto* job = st.mem->waiting.find(ticket))
      sh.arrived.push_back(job->entry);
  sh.deferred.clear();
}

// Whether the store should be looked at again later: work waits, a slot
// is idle, or slots are held while another replica may be waiting for one.
bool wants_look(const pool_state& st) {
  const auto& sh = st.mem->shared;
  return !st.mem->waiting.empty() ||
         std::any_of(sh.slots.begin(), sh.slots.end(),
                     [](const auto& s) { return s.second.job == 0; }) ||
         (!sh.slots.empty() && st.shared.log->has_peers());
}

// A new job, where replicas share admission: into an idle held slot with
// its limits if nobody else waits; else, alone with a slot for it, it waits
// here for that slot; else it is queued with the store.
void queue_shared(pool_actor self, queued job) {
  auto& st = self->state;
  auto& sh = st.mem->shared;
  bool held = false;
  name_limits(st, job);
  if (!sh.others_waiting) {
    for (auto& [ticket, slot] : sh.slots) {
      if (slot.limits != job.limits)
        continue;
      if (slot.job == 0) {
        run_in_slot(self, ticket, std::move(job));
        return;
      }
      held = true;
    }
  }
  // Alone, holding as many slots as a limit of the job allows, one of them
  // with its limits: that one will take it, no other slot can be had.
  auto full = [&] {
    for (const auto& [name, count] : job.entry.limits) {
      std::int64_t holding = 0;
      for (const auto& [ticket, slot] : sh.slots)
        holding += slot.limits.find('\x1e' + name + '\x1f') != std::string::npos ? 1 : 0;
      if (holding >= count)
        return true;
    }
    return false;
  };
  if (held && !st.shared.log->has_peers() && full())
    sh.deferred.insert(job.ticket);
  else
    sh.arrived.push_back(job.entry);
  st.mem->waiting.push(std::move(job));
  tell_deferred(st);
  ask_store(self);
}

// A job in a held slot ended: the slot goes to the next job waiting here
// with its limits (tenants in turn) while nobody else waits; else it is
// kept idle a while, or given back.
void slot_freed(pool_actor self, std::uint64_t job) {
  auto& st = self->state;
  auto& sh = st.mem->shared;
  auto of = sh.slot_of.find(job);
  if (of == sh.slot_of.end())
    return;
  auto ticket = of->second;
  sh.slot_of.erase(of);
  auto& slot = sh.slots[ticket];
  slot.job = 0;
  slot.idle_since = clock::now();
  if (sh.others_waiting) {
    give_back(st, ticket);
  } else if (auto next = st.mem->waiting.pop(
                 [&](const queued& waiting) { return waiting.limits == slot.limits; })) {
    forget_shared(st, next->ticket);
    run_in_slot(self, ticket, std::move(*next));
  } else {
    look_later(self, shared_look_every);
  }
  ask_store(self);
}

void start_next(pool_actor self) {
  auto& st = self->state;
  if (st.shared.log) {
    ask_store(self);
    return;
  }
  auto fits = [&](const queued& job) {
    const auto& req = job.req;
    if (st.cfg.model_concurrency != 0 && st.mem->per_model[req.model] >= st.cfg.model_concurrency)
      return false;
    auto limit = st.b->concurrency_for(req.model);
    if (limit == 0)
      return true;
    auto running = st.mem->per_backend.find(st.b->label_for(req.model));
    return running == st.mem->per_backend.end() || running->second < limit;
  };
  while (!st.mem->waiting.empty() && st.mem->running.size() < st.cfg.backend_concurrency) {
    auto next = st.mem->waiting.pop(fits);
    if (!next)
      break; // every waiting model is at its limit
    launch(self, std::move(*next));
  }
}

// The store admitted `ticket` here: its job runs in the slot that is now
// held, unless it no longer waits (cancelled, or taken into a held slot
// meanwhile): then the slot goes back.
void take_admitted(pool_actor self, std::uint64_t ticket) {
  auto& st = self->state;
  auto& sh = st.mem->shared;
  if (sh.slots.count(ticket) != 0 ||
      std::find(sh.ended.begin(), sh.ended.end(), ticket) != sh.ended.end())
    return;
  if (auto job = st.mem->waiting.take(ticket)) {
    sh.slots[ticket].limits = job->limits;
    run_in_slot(self, ticket, std::move(*job));
  } else {
    sh.ended.push_back(ticket);
  }
}

// The store answered: start what it admitted here (each a slot now held),
// give back what is no longer wanted, and look again later while work
// waits or a slot is idle.
void on_admitted(pool_actor self, events::result<events::admission>& r,
                 std::vector<events::waiting_job>& arrived, std::vector<std::uint64_t>& ended) {
  auto& st = self->state;
  auto& sh = st.mem->shared;
  sh.asking = false;
  if (!r) {
    // Told again at the next look (adding and dropping are idempotent).
    sh.arrived.insert(sh.arrived.begin(), arrived.begin(), arrived.end());
    sh.ended.insert(sh.ended.begin(), ended.begin(), ended.end());
    look_later(self, shared_look_every / 2);
    return;
  }
  sh.others_waiting = r->others_waiting;
  for (auto ticket : r->admitted)
    take_admitted(self, ticket);
  if (sh.others_waiting)
    give_back_idle(st, clock::duration::zero());
  tell_deferred(st);
  if (wants_look(st))
    look_later(self, shared_look_every);
  ask_store(self);
}

void refresh_models(pool_actor self) {
  auto& st = self->state;
  if (st.listing)
    return;
  st.listing = true;
  backend_pool_actor pool = self;
  auto sent = clock::now();
  st.b->list_models([pool, sent, stats = st.stats,
                     label = st.backend_label](events::result<std::vector<model_info>> r) {
    if (stats)
      stats->backend_request(label, "", "tags", r ? "ok" : "error", seconds_since(sent));
    caf::anon_send(pool, models_atom::value, std::move(r));
  });
}

backend_pool_actor::behavior_type
backend_pool(pool_actor self, std::shared_ptr<backend> b, settings cfg,
             std::shared_ptr<adapters::observability::metrics> stats, std::string label,
             std::shared_ptr<pool_memory> memory, slot_ptr self_slot, shared_admission shared) {
  self->state.b = std::move(b);
  self->state.cfg = cfg;
  self->state.shared = shared;
  self->state.stats = std::move(stats);
  self->state.backend_label = std::move(label);
  self->state.mem = memory ? std::move(memory) : make_pool_memory();
  self->state.self_slot = std::move(self_slot);
  // A restarted pool may find queued work its predecessor could not start
  // (or an answer of the store it never heard).
  self->send(self, finished_atom::value, std::uint64_t{0});
  if (shared.log) {
    self->state.mem->shared.asking = false;
    self->send(self, admitted_atom::value, false);
  }
  auto on_fault = [](const std::string& what) { events::report_fault("backend_pool", what); };
  return guarded_typed<backend_pool_actor::behavior_type>(
      self, on_fault,
      // Queue a generation for `requester`; answers its ticket at once.
      [=](generate_atom, generation_request& req, caf::actor requester) -> std::uint64_t {
        auto& st = self->state;
        auto ticket = st.mem->next_ticket++;
        queued job{ticket, std::move(req), std::move(requester)};
        if (st.shared.log) {
          queue_shared(self, std::move(job));
        } else {
          st.mem->waiting.push(std::move(job));
          start_next(self);
        }
        if (st.stats)
          st.stats->queue_depth().Set(static_cast<double>(st.mem->waiting.size()));
        return ticket;
      },
      // Abort a queued or running generation.
      [=](cancel_atom, std::uint64_t ticket) {
        auto& st = self->state;
        if (auto it = st.mem->running.find(ticket); it != st.mem->running.end()) {
          st.b->cancel(it->second);
          return;
        }
        if (auto job = st.mem->waiting.take(ticket)) {
          if (st.shared.log) {
            forget_shared(st, ticket);
            ask_store(self);
          }
          caf::anon_send(job->requester, update_atom::value, generation_update{{}, true});
          if (st.stats)
            st.stats->queue_depth().Set(static_cast<double>(st.mem->waiting.size()));
        }
      },
      // One model's capabilities (cached for model_cache_ttl; failures are not cached).
      [=](model_atom,
          const std::string& name) -> caf::typed_response_promise<events::result<model_info>> {
        auto& st = self->state;
        auto rp = self->make_response_promise<events::result<model_info>>();
        if (st.cfg.models)
          if (auto cached = st.cfg.models->fresh(name, st.cfg.model_cache_ttl)) {
            rp.deliver(events::result<model_info>{std::move(*cached)});
            return rp;
          }
        auto& waiters = st.shows[name];
        waiters.push_back(rp);
        if (waiters.size() == 1) {
          backend_pool_actor pool = self;
          auto sent = clock::now();
          st.b->show_model(name, [pool, name, sent, stats = st.stats,
                                  label = st.backend_label](events::result<model_info> r) {
            if (stats)
              stats->backend_request(label, name, "show", r ? "ok" : "error", seconds_since(sent));
            caf::anon_send(pool, model_atom::value, name, std::move(r));
          });
        }
        return rp;
      },
      [=](model_atom, const std::string& name, events::result<model_info>& r) {
        auto& st = self->state;
        if (r && !r->id.empty() && st.cfg.models)
          st.cfg.models->put(name, *r);
        auto it = st.shows.find(name);
        if (it == st.shows.end())
          return;
        auto waiters = std::move(it->second);
        st.shows.erase(it); // a name no model has leaves nothing behind
        for (auto& rp : waiters)
          rp.deliver(r);
      },
      // The shared queue's answer, and a look at it (timer, news).
      [=](admitted_atom, events::result<events::admission>& r,
          std::vector<events::waiting_job>& arrived,
          std::vector<std::uint64_t>& ended) { on_admitted(self, r, arrived, ended); },
      [=](admitted_atom, bool from_timer) {
        auto& st = self->state;
        auto& sh = st.mem->shared;
        if (!st.shared.log)
          return;
        if (from_timer) {
          sh.timer = false;
          give_back_idle(st, idle_slot_kept);
          tell_deferred(st);
          if (wants_look(st))
            look_later(self, shared_look_every);
        }
        sh.ask_again = !from_timer || !st.mem->waiting.empty() ||
                       (!sh.slots.empty() && st.shared.log->has_peers());
        ask_store(self);
      },
      // Another replica admitted these tickets of this one (the news names
      // them): they start without asking. Whether others' work still waits
      // the news does not say, so slots are not kept until the store does.
      [=](admitted_atom, std::vector<std::uint64_t>& tickets) {
        auto& st = self->state;
        if (!st.shared.log)
          return;
        st.mem->shared.others_waiting = true;
        for (auto ticket : tickets)
          take_admitted(self, ticket);
        if (wants_look(st))
          look_later(self, shared_look_every);
        ask_store(self);
      },
      [=](finished_atom, std::uint64_t ticket) {
        auto& st = self->state;
        st.mem->running.erase(ticket);
        if (auto m = st.mem->running_model.find(ticket); m != st.mem->running_model.end()) {
          if (--st.mem->per_model[m->second] == 0)
            st.mem->per_model.erase(m->second);
          st.mem->running_model.erase(m);
        }
        if (auto b = st.mem->running_backend.find(ticket); b != st.mem->running_backend.end()) {
          if (--st.mem->per_backend[b->second] == 0)
            st.mem->per_backend.erase(b->second);
          st.mem->running_backend.erase(b);
        }
        if (auto it = st.mem->started.find(ticket); it != st.mem->started.end()) {
          if (st.stats)
            st.stats->job_run(seconds_since(it->second));
          st.mem->started.erase(it);
        }
        if (st.shared.log)
          slot_freed(self, ticket);
        start_next(self);
      },
      // The model list, from the cache when it is fresh (GET /v1/models).
      [=](models_atom, reply_for<std::vector<model_info>>& r) {
        auto& st = self->state;
        auto answer = [r](const events::result<std::vector<model_info>>& models) { r(models); };
        if (!st.models.empty() &&
            std::chrono::steady_clock::now() - st.models_at < st.cfg.model_cache_ttl) {
          answer(st.models);
          return;
        }
        st.model_waiters.push_back(answer);
        refresh_models(self);
      },
      [=](models_atom, events::result<std::vector<model_info>>& r) {
        auto& st = self->state;
        st.listing = false;
        if (r) {
          st.models = *r;
          st.models_at = std::chrono::steady_clock::now();
        }
        for (auto& waiter : st.model_waiters)
          waiter(r);
        st.model_waiters.clear();
      },
      // Test hook (RIPOSTE_TEST_FAULTS).
      [=](fault_atom, const std::string&, reply_to&) {
        throw std::runtime_error("injected fault (backend pool)");
      });
}

} // namespace

caf::actor spawn_backend_pool(caf::actor_system& sys, std::shared_ptr<backend> b,
                              const settings& cfg,
                              std::shared_ptr<adapters::observability::metrics> stats,
                              std::string label, std::shared_ptr<pool_memory> memory,
                              slot_ptr self_slot, shared_admission shared) {
  return caf::actor_cast<caf::actor>(sys.spawn(backend_pool, std::move(b), cfg, std::move(stats),
                                               std::move(label), std::move(memory),
                                               std::move(self_slot), shared));
}

std::int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace riposte::actors
