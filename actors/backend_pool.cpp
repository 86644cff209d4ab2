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

  // The next job, in tenant turn, whose model `fits`; the tenant then goes
  // to the back of the turn.
  template <class Fits>
  std::optional<queued> pop(Fits fits) {
    for (std::size_t i = 0; i < turn_.size(); ++i) {
      auto tenant = turn_[i];
      auto& q = by_tenant_[tenant];
      auto it = std::find_if(q.begin(), q.end(), [&](const queued& j) { return fits(j.req); });
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

  // Removes a waiting job; false when it is not waiting.
  bool remove(std::uint64_t ticket, caf::actor& requester) {
    for (auto& [tenant, q] : by_tenant_)
      for (auto it = q.begin(); it != q.end(); ++it)
        if (it->ticket == ticket) {
          requester = it->requester;
          q.erase(it);
          --size_;
          if (q.empty()) {
            turn_.erase(std::find(turn_.begin(), turn_.end(), tenant));
            by_tenant_.erase(tenant);
          }
          return true;
        }
    return false;
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
};

std::shared_ptr<pool_memory> make_pool_memory() {
  return std::make_shared<pool_memory>();
}

namespace {

struct pool_state {
  std::shared_ptr<backend> b;
  settings cfg;
  std::shared_ptr<adapters::observability::metrics> stats; // may be null (tests)
  std::string backend_label;
  std::shared_ptr<pool_memory> mem;
  slot_ptr self_slot; // where the backend's callbacks find the pool now
  std::vector<model_info> models;
  std::chrono::steady_clock::time_point models_at{};
  std::vector<std::function<void(const events::result<std::vector<model_info>>&)>> model_waiters;
  bool listing = false;
  struct shown {
    events::result<model_info> info = model_info{};
    std::chrono::steady_clock::time_point at{};
    std::vector<caf::typed_response_promise<events::result<model_info>>> waiters;
    bool fetching = false;
  };
  std::map<std::string, shown> shows; // /api/show per model, cached like the list
};

using pool_actor = backend_pool_actor::stateful_pointer<pool_state>;

void start_next(pool_actor self) {
  auto& st = self->state;
  auto fits = [&](const generation_request& req) {
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
    auto job = std::move(*next);
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
    auto meter = std::make_shared<generation_meter>(
        generation_meter{st.stats,
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
             std::shared_ptr<pool_memory> memory, slot_ptr self_slot) {
  self->state.b = std::move(b);
  self->state.cfg = cfg;
  self->state.stats = std::move(stats);
  self->state.backend_label = std::move(label);
  self->state.mem = memory ? std::move(memory) : make_pool_memory();
  self->state.self_slot = std::move(self_slot);
  // A restarted pool may find queued work its predecessor could not start.
  self->send(self, finished_atom::value, std::uint64_t{0});
  auto on_fault = [](const std::string& what) { events::report_fault("backend_pool", what); };
  return guarded_typed<backend_pool_actor::behavior_type>(
      self, on_fault,
      // Queue a generation for `requester`; answers its ticket at once.
      [=](generate_atom, generation_request& req, caf::actor requester) -> std::uint64_t {
        auto& st = self->state;
        auto ticket = st.mem->next_ticket++;
        st.mem->waiting.push({ticket, std::move(req), std::move(requester)});
        start_next(self);
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
        caf::actor requester;
        if (st.mem->waiting.remove(ticket, requester)) {
          caf::anon_send(requester, update_atom::value, generation_update{{}, true});
          if (st.stats)
            st.stats->queue_depth().Set(static_cast<double>(st.mem->waiting.size()));
        }
      },
      // One model's capabilities (cached for model_cache_ttl; failures are not cached).
      [=](model_atom,
          const std::string& name) -> caf::typed_response_promise<events::result<model_info>> {
        auto& st = self->state;
        auto rp = self->make_response_promise<events::result<model_info>>();
        auto& entry = st.shows[name];
        if (entry.info && !entry.info->id.empty() &&
            std::chrono::steady_clock::now() - entry.at < st.cfg.model_cache_ttl) {
          rp.deliver(entry.info);
          return rp;
        }
        entry.waiters.push_back(rp);
        if (!entry.fetching) {
          entry.fetching = true;
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
        auto& entry = self->state.shows[name];
        entry.fetching = false;
        entry.info = r;
        entry.at = std::chrono::steady_clock::now();
        for (auto& rp : entry.waiters)
          rp.deliver(r);
        entry.waiters.clear();
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
                              slot_ptr self_slot) {
  return caf::actor_cast<caf::actor>(sys.spawn(backend_pool, std::move(b), cfg, std::move(stats),
                                               std::move(label), std::move(memory),
                                               std::move(self_slot)));
}

std::int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace riposte::actors
