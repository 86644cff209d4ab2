// backend_router: ownership by configuration, then by listing, in order.
#include "adapters/backends/router.hpp"

#include "adapters/backends/openai_chat.hpp"

#include <algorithm>

namespace riposte::adapters::backends {

namespace ev = events;
using json = nlohmann::json;

namespace {

// A backend's generation ids in the router's: its index in the top byte.
constexpr int index_shift = 56;

bool has_prefix(const std::string& model, const std::string& prefix) {
  return !prefix.empty() && model.size() > prefix.size() && model.rfind(prefix, 0) == 0;
}

// The name the backend knows a public model by: without the prefix.
std::string upstream(const routed_backend& b, const std::string& model) {
  return has_prefix(model, b.prefix) ? model.substr(b.prefix.size()) : model;
}

// Answers of every backend to one question, delivered once all are in.
template <class T>
struct gathering {
  std::mutex mutex;
  std::vector<std::optional<T>> answers;
  std::size_t pending;
  std::function<void(std::vector<std::optional<T>>&)> done;

  gathering(std::size_t n, std::function<void(std::vector<std::optional<T>>&)> d)
    : answers(n)
    , pending(n)
    , done(std::move(d)) {}

  void answer(std::size_t i, T value) {
    std::unique_lock lock{mutex};
    answers[i] = std::move(value);
    if (--pending != 0)
      return;
    lock.unlock();
    done(answers);
  }
};

} // namespace

int configured_owner(const std::vector<routed_backend>& backends, const std::string& model) {
  for (std::size_t i = 0; i < backends.size(); ++i) {
    const auto& b = backends[i];
    if (has_prefix(model, b.prefix) ||
        std::find(b.models.begin(), b.models.end(), model) != b.models.end())
      return static_cast<int>(i);
  }
  return -1;
}

backend_router::backend_router(std::vector<routed_backend> backends, bool require_all)
  : backends_(std::move(backends))
  , require_all_(require_all) {}

std::size_t backend_router::owner(const std::string& model) const {
  if (auto i = configured_owner(backends_, model); i >= 0)
    return static_cast<std::size_t>(i);
  std::lock_guard lock{mutex_};
  auto it = std::lower_bound(owners_.begin(), owners_.end(), std::make_pair(model, std::size_t{0}),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
  return it != owners_.end() && it->first == model ? it->second : 0;
}

void backend_router::remember(std::vector<std::pair<std::string, std::size_t>> owners,
                              const std::vector<bool>& answered) {
  std::lock_guard lock{mutex_};
  // A backend that did not answer keeps the models it had.
  for (const auto& [model, from] : owners_)
    if (!answered[from])
      owners.emplace_back(model, from);
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               owners.end());
  owners_ = std::move(owners);
}

std::uint64_t backend_router::generate(actors::generation_request req, actors::update_sink sink) {
  auto i = owner(req.model);
  req.model = upstream(backends_[i], req.model);
  auto id = backends_[i].backend->generate(std::move(req), std::move(sink));
  return (static_cast<std::uint64_t>(i) << index_shift) | id;
}

void backend_router::cancel(std::uint64_t id) {
  auto i = static_cast<std::size_t>(id >> index_shift);
  if (i < backends_.size())
    backends_[i].backend->cancel(id & ((std::uint64_t{1} << index_shift) - 1));
}

void backend_router::gather(
    std::function<void(std::vector<actors::model_info>, std::vector<std::string>)> done) {
  using answer = ev::result<std::vector<actors::model_info>>;
  auto all = std::make_shared<gathering<answer>>(
      backends_.size(), [this, done](std::vector<std::optional<answer>>& answers) {
        // The union, in configuration order: a model two backends list is
        // the first one's.
        std::vector<actors::model_info> models;
        std::vector<std::string> failed;
        std::vector<std::pair<std::string, std::size_t>> owners;
        std::vector<bool> answered(answers.size(), false);
        for (std::size_t i = 0; i < answers.size(); ++i) {
          auto& a = *answers[i];
          if (!a) {
            failed.push_back(backends_[i].name + ": " + a.error().message);
            continue;
          }
          answered[i] = true;
          for (auto& m : *a) {
            if (std::any_of(models.begin(), models.end(),
                            [&m](const actors::model_info& o) { return o.id == m.id; }))
              continue;
            owners.emplace_back(m.id, i);
            models.push_back(std::move(m));
          }
        }
        remember(std::move(owners), answered);
        done(std::move(models), std::move(failed));
      });
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    const auto& b = backends_[i];
    if (!b.models.empty()) { // a fixed list: nothing to ask
      std::vector<actors::model_info> fixed;
      for (const auto& id : b.models) {
        actors::model_info m;
        m.id = id;
        m.owned_by = b.name;
        fixed.push_back(std::move(m));
      }
      all->answer(i, std::move(fixed));
      continue;
    }
    b.backend->list_models([all, i, name = b.name, prefix = b.prefix](answer r) {
      if (r)
        for (auto& m : *r) {
          m.id = prefix + m.id;
          m.owned_by = name;
        }
      all->answer(i, std::move(r));
    });
  }
}

namespace {

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts)
    out += (out.empty() ? "" : "; ") + p;
  return out;
}

} // namespace

void backend_router::list_models(
    std::function<void(ev::result<std::vector<actors::model_info>>)> done) {
  gather([this, done](std::vector<actors::model_info> models, std::vector<std::string> failed) {
    if (failed.size() == backends_.size())
      return done(ev::make_error(ev::riposte_errc::backend_unavailable,
                                 "no backend answered its model list: " + joined(failed)));
    done(std::move(models));
  });
}

void backend_router::show_model(const std::string& name,
                                std::function<void(ev::result<actors::model_info>)> done) {
  auto ask = [this, name, done](std::size_t i) {
    const auto& b = backends_[i];
    b.backend->show_model(upstream(b, name),
                          [done, name, owner = b.name](ev::result<actors::model_info> r) {
                            if (r) {
                              r->id = name;
                              r->owned_by = owner;
                            }
                            done(std::move(r));
                          });
  };
  if (auto i = configured_owner(backends_, name); i >= 0 || backends_.size() == 1) {
    const auto& b = backends_[static_cast<std::size_t>(std::max(i, 0))];
    if (std::find(b.models.begin(), b.models.end(), name) == b.models.end())
      return ask(static_cast<std::size_t>(std::max(i, 0)));
    // Configured by name (a LoRA adapter, a server that lists another
    // name): served whether the backend lists it or not.
    return b.backend->show_model(
        name, [done, name, owner = b.name](ev::result<actors::model_info> r) {
          if (!r && r.error().code != ev::riposte_errc::model_not_found)
            return done(std::move(r));
          actors::model_info info = r ? *r : actors::model_info{};
          if (!r)
            info.capabilities = unstated_capabilities();
          info.id = name;
          info.owned_by = owner;
          done(std::move(info));
        });
  }
  // Whoever lists it now (a model may have moved since the last listing).
  gather([this, name, done, ask](std::vector<actors::model_info> models,
                                 std::vector<std::string> failed) {
    for (const auto& m : models)
      if (m.id == name)
        return ask(owner(name));
    // Not listed by any backend that answered: unknown only if all did.
    if (!failed.empty())
      return done(ev::make_error(ev::riposte_errc::backend_unavailable,
                                 "model '" + name +
                                     "' is not served by any backend that answered; not "
                                     "answering: " +
                                     joined(failed)));
    done(ev::make_error(ev::riposte_errc::model_not_found,
                        "The requested model '" + name + "' does not exist.", "model"));
  });
}

std::int64_t backend_router::count_input_tokens(const actors::generation_request& req) const {
  return backends_[owner(req.model)].backend->count_input_tokens(req);
}

bool backend_router::counts_exactly(const std::string& model) const {
  return backends_[owner(model)].backend->counts_exactly(model);
}

void backend_router::count_exactly(const actors::generation_request& req,
                                   std::function<void(ev::result<std::int64_t>)> done) {
  const auto& b = backends_[owner(req.model)];
  auto upstream_req = req;
  upstream_req.model = upstream(b, req.model);
  b.backend->count_exactly(upstream_req, std::move(done));
}

void backend_router::version(std::function<void(ev::result<std::string>)> done) {
  health([done](bool ok, json detail) {
    if (!ok)
      return done(ev::make_error(ev::riposte_errc::backend_unavailable, detail.dump()));
    done(std::string{"riposte router"});
  });
}

void backend_router::health(std::function<void(bool, json)> done) {
  using answer = std::pair<bool, json>;
  auto all = std::make_shared<gathering<answer>>(
      backends_.size(), [this, done](std::vector<std::optional<answer>>& answers) {
        json each = json::object();
        std::size_t up = 0;
        for (std::size_t i = 0; i < answers.size(); ++i) {
          auto& [ok, detail] = *answers[i];
          detail["ok"] = ok;
          detail["kind"] = backends_[i].kind;
          detail["url"] = backends_[i].url;
          each[backends_[i].name] = std::move(detail);
          up += ok ? 1 : 0;
        }
        bool ok = require_all_ ? up == answers.size() : up > 0;
        done(ok, json{{"backends", std::move(each)},
                      {"serving", up},
                      {"require", require_all_ ? "all" : "any"}});
      });
  for (std::size_t i = 0; i < backends_.size(); ++i)
    backends_[i].backend->health([all, i](bool ok, json detail) {
      all->answer(i, {ok, std::move(detail)});
    });
}

std::string backend_router::label_for(const std::string& model) const {
  return backends_[owner(model)].name;
}

std::size_t backend_router::concurrency_for(const std::string& model) const {
  return backends_[owner(model)].concurrency;
}

} // namespace riposte::adapters::backends
