// The backend pool: at most `backend_concurrency` generations at once (the
// rest wait in FIFO order), cancellation of queued or running work, and a
// short-lived cache of the backend's model list.
#include "actors/messages.hpp"
#include "actors/services.hpp"

#include <deque>
#include <map>

namespace riposte::actors {

namespace {

struct queued {
  std::uint64_t ticket;
  generation_request req;
  caf::actor requester;
};

struct pool_state {
  std::shared_ptr<backend> b;
  settings cfg;
  std::uint64_t next_ticket = 1;
  std::deque<queued> waiting;
  std::map<std::uint64_t, std::uint64_t> running; // ticket -> backend id
  std::vector<model_info> models;
  std::chrono::steady_clock::time_point models_at{};
  std::vector<std::function<void(const events::result<std::vector<model_info>>&)>> model_waiters;
  bool listing = false;
  struct shown {
    events::result<model_info> info = model_info{};
    std::chrono::steady_clock::time_point at{};
    std::vector<caf::response_promise> waiters;
    bool fetching = false;
  };
  std::map<std::string, shown> shows; // /api/show per model, cached like the list
};

using pool_actor = caf::stateful_actor<pool_state>;

void start_next(pool_actor* self) {
  auto& st = self->state;
  while (!st.waiting.empty() && st.running.size() < st.cfg.backend_concurrency) {
    auto job = std::move(st.waiting.front());
    st.waiting.pop_front();
    caf::actor pool = self;
    auto ticket = job.ticket;
    auto requester = job.requester;
    // Sent before the backend can produce anything, so it is first in line.
    self->send(requester, admitted_atom::value);
    // The sink runs on the backend's thread: it only sends messages.
    auto id = st.b->generate(std::move(job.req), [requester, pool, ticket](generation_update u) {
      bool finished = u.finished;
      caf::anon_send(requester, update_atom::value, std::move(u));
      if (finished)
        caf::anon_send(pool, finished_atom::value, ticket);
    });
    st.running.emplace(ticket, id);
  }
}

void refresh_models(pool_actor* self) {
  auto& st = self->state;
  if (st.listing)
    return;
  st.listing = true;
  caf::actor pool = self;
  st.b->list_models([pool](events::result<std::vector<model_info>> r) {
    caf::anon_send(pool, models_atom::value, std::move(r));
  });
}

caf::behavior backend_pool(pool_actor* self, std::shared_ptr<backend> b, settings cfg) {
  self->state.b = std::move(b);
  self->state.cfg = cfg;
  return {
      // Queue a generation for `requester`; answers its ticket at once.
      [=](generate_atom, generation_request& req, caf::actor requester) -> std::uint64_t {
        auto ticket = self->state.next_ticket++;
        self->state.waiting.push_back({ticket, std::move(req), std::move(requester)});
        start_next(self);
        return ticket;
      },
      // Abort a queued or running generation.
      [=](cancel_atom, std::uint64_t ticket) {
        auto& st = self->state;
        if (auto it = st.running.find(ticket); it != st.running.end()) {
          st.b->cancel(it->second);
          return;
        }
        for (auto it = st.waiting.begin(); it != st.waiting.end(); ++it)
          if (it->ticket == ticket) {
            self->send(it->requester, update_atom::value, generation_update{{}, true});
            st.waiting.erase(it);
            return;
          }
      },
      // One model's capabilities (cached for model_cache_ttl; failures are not cached).
      [=](model_atom, const std::string& name) -> caf::response_promise {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        auto& entry = st.shows[name];
        if (entry.info && !entry.info->id.empty() &&
            std::chrono::steady_clock::now() - entry.at < st.cfg.model_cache_ttl) {
          rp.deliver(entry.info);
          return rp;
        }
        entry.waiters.push_back(rp);
        if (!entry.fetching) {
          entry.fetching = true;
          caf::actor pool = self;
          st.b->show_model(name, [pool, name](events::result<model_info> r) {
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
        self->state.running.erase(ticket);
        start_next(self);
      },
      // The model list, from the cache when it is fresh.
      [=](models_atom) -> caf::response_promise {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        if (!st.models.empty() &&
            std::chrono::steady_clock::now() - st.models_at < st.cfg.model_cache_ttl) {
          rp.deliver(events::result<std::vector<model_info>>{st.models});
          return rp;
        }
        st.model_waiters.push_back([rp](const auto& r) mutable { rp.deliver(r); });
        refresh_models(self);
        return rp;
      },
      // The model list as JSON ([{id, created}]), for GET /v1/models.
      [=](models_atom, reply_to& r) {
        auto& st = self->state;
        auto answer = [r](const events::result<std::vector<model_info>>& models) {
          if (!models)
            return r(models.error());
          nlohmann::json list = nlohmann::json::array();
          for (const auto& m : *models)
            list.push_back({{"id", m.id}, {"created", m.created}});
          r(std::move(list));
        };
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
  };
}

} // namespace

caf::actor spawn_backend_pool(caf::actor_system& sys, std::shared_ptr<backend> b,
                              const settings& cfg) {
  return sys.spawn(backend_pool, std::move(b), cfg);
}

std::int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace riposte::actors
