// GET /readyz: is this riposte able to serve? The store takes a write, the
// backend answers, and its default model is there; each check says why not.
#pragma once

#include "actors/services.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace riposte::actors {

struct readiness_options {
  std::string default_model; // empty: no model check
  std::chrono::milliseconds timeout{2'000};
  std::string backend_label;
  // The supervised actors: not ready while one of them is down.
  std::vector<slot_ptr> core;
};

class readiness {
public:
  readiness(caf::actor_system& sys, std::shared_ptr<const services> svc, std::shared_ptr<backend> b,
            readiness_options opts);

  // Runs every check at once; `done` is called once, within the timeout,
  // with the verdict and {status, checks: {name: {ok, latency_ms, ...}}}.
  void check(std::function<void(bool ready, nlohmann::json body)> done);

private:
  caf::actor_system& sys_;
  std::shared_ptr<const services> svc_;
  std::shared_ptr<backend> backend_;
  readiness_options opts_;
  // A store probe stuck in a hung database is not stacked up again.
  std::shared_ptr<std::atomic<bool>> store_probe_busy_ = std::make_shared<std::atomic<bool>>(false);
};

} // namespace riposte::actors
