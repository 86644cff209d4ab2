// One short-lived actor per readiness request gathers the checks and the
// deadline, whichever comes first.
#include "actors/readiness.hpp"

#include "actors/guard.hpp"
#include "actors/messages.hpp"
#include "events/faults.hpp"
#include "events/ids.hpp"
#include "events/json_safe.hpp"

#include <map>

namespace riposte::actors {

namespace {

using json = nlohmann::json;
using clock = std::chrono::steady_clock;

struct gather_state {
  std::map<std::string, json> results;
  std::size_t expected = 0;
  clock::time_point start = clock::now();
  std::function<void(bool, json)> done;
  std::shared_ptr<adapters::observability::metrics> stats;
};

using gather_actor = caf::stateful_actor<gather_state>;

void finish(gather_actor* self) {
  auto& st = self->state;
  bool ready = true;
  json checks = json::object();
  for (auto& [name, result] : st.results) {
    ready = ready && result.value("ok", false);
    if (st.stats)
      st.stats->readiness(name, result.value("ok", false));
    checks[name] = std::move(result);
  }
  auto done = std::move(st.done);
  st.done = nullptr;
  if (done)
    done(ready, json{{"status", ready ? "ready" : "not_ready"}, {"checks", checks}});
  self->quit();
}

caf::behavior gather(gather_actor* self, std::vector<std::string> names,
                     std::chrono::milliseconds timeout,
                     std::shared_ptr<adapters::observability::metrics> stats,
                     std::function<void(bool, json)> done) {
  auto& st = self->state;
  st.expected = names.size();
  st.done = std::move(done);
  st.stats = std::move(stats);
  self->delayed_send(self, timeout, deadline_atom::value);
  // A check that throws is a failed check; the answer still goes out.
  auto on_fault = [self](const std::string& what) {
    events::report_fault("readiness", what);
    auto& st = self->state;
    if (st.done) {
      auto done = std::move(st.done);
      st.done = nullptr;
      done(false, json{{"status", "not_ready"}, {"error", "a readiness check failed"}});
    }
    self->quit();
  };
  return guarded(
      self, on_fault,
      [=](check_atom, const std::string& name, events::result<json>& r) {
        auto& st = self->state;
        auto ms = std::chrono::duration<double, std::milli>(clock::now() - st.start).count();
        json result = r ? *r : json{{"error", r.error().message}};
        // A check may say itself that it failed (and why, in detail).
        if (!result.is_object())
          result = json{{"value", std::move(result)}};
        result["ok"] = r.has_value() && result.value("ok", true);
        result["latency_ms"] = ms;
        st.results[name] = std::move(result);
        if (st.results.size() == st.expected)
          finish(self);
      },
      [=](deadline_atom) {
        auto& st = self->state;
        for (const auto& name : names)
          if (!st.results.count(name))
            st.results[name] =
                json{{"ok", false},
                     {"error", "no answer within " + std::to_string(timeout.count()) + " ms"}};
        finish(self);
      });
}

} // namespace

readiness::readiness(caf::actor_system& sys, std::shared_ptr<const services> svc,
                     std::shared_ptr<backend> b, readiness_options opts)
  : sys_(sys)
  , svc_(std::move(svc))
  , backend_(std::move(b))
  , opts_(std::move(opts)) {}

void readiness::check(std::function<void(bool, json)> done) {
  std::vector<std::string> names{"store", "backend"};
  if (!opts_.default_model.empty())
    names.push_back("model");
  if (!opts_.core.empty())
    names.push_back("actors");
  auto me = sys_.spawn(gather, names, opts_.timeout, svc_->stats, std::move(done));
  auto report = [me](std::string name, events::result<json> r) {
    caf::anon_send(me, check_atom::value, std::move(name), std::move(r));
  };

  // The supervised actors: each one running (not between a death and its
  // restart).
  if (!opts_.core.empty()) {
    json down = json::array();
    for (const auto& slot : opts_.core)
      if (!slot->up())
        down.push_back(slot->name());
    if (down.empty())
      report("actors", json{{"down", down}});
    else
      report("actors", events::make_error(events::riposte_errc::internal,
                                          "restarting: " + events::dump_json(down)));
  }

  // The store: a marker written and removed, a real write round trip.
  if (store_probe_busy_->exchange(true)) {
    report("store", events::make_error(events::riposte_errc::internal,
                                       "the previous store probe has not returned yet"));
  } else {
    auto log = svc_->log;
    auto busy = store_probe_busy_;
    auto kind = svc_->store_kind;
    svc_->store_pool->post(
        [log, busy, kind, report] {
          auto key = events::make_id("probe_");
          auto put = log->put_marker("readyz", key);
          auto removed = put ? log->delete_marker("readyz", key) : put;
          busy->store(false);
          if (!removed)
            return report("store", removed.error());
          report("store", json{{"kind", kind}});
        },
        [busy, report](const std::string& what) {
          busy->store(false);
          report("store", events::make_error(events::riposte_errc::store_error, what));
        });
  }

  // The backend, then (when configured) its default model.
  auto stats = svc_->stats;
  auto label = opts_.backend_label;
  auto sent = clock::now();
  backend_->health([report, stats, label, sent](bool ok, json detail) {
    if (stats)
      stats->backend_request(label, "", "version", ok ? "ok" : "error",
                             std::chrono::duration<double>(clock::now() - sent).count());
    detail["ok"] = ok;
    report("backend", std::move(detail));
  });
  if (!opts_.default_model.empty()) {
    auto model = opts_.default_model;
    backend_->show_model(model, [report, stats, label, sent, model](events::result<model_info> m) {
      if (stats)
        stats->backend_request(label, model, "show", m ? "ok" : "error",
                               std::chrono::duration<double>(clock::now() - sent).count());
      if (!m)
        return report("model", m.error());
      report("model", json{{"model", model}, {"capabilities", m->capabilities}});
    });
  }
}

} // namespace riposte::actors
