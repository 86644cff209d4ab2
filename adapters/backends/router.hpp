// Several backends behind one: each model is served by the backend that
// lists it (or is configured for it), in the order the backends were
// configured, so a model two backends list always goes to the first of them.
#pragma once

#include "actors/ports/backend.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace riposte::adapters::backends {

struct routed_backend {
  std::string name; // unique; shown as owned_by, in /readyz and metrics
  std::string kind; // "ollama" or a Chat Completions kind
  std::string url;
  // Models it serves without asking it (empty: what it lists), and a prefix
  // every model it serves starts with (empty: none).
  std::vector<std::string> models;
  std::string prefix;
  std::shared_ptr<actors::backend> backend;
  std::size_t concurrency = 0; // generations at once (0: no limit of its own)
};

// Which backend serves `model` by configuration alone: the first with the
// model in its fixed list or whose prefix it starts with; -1 for none.
int configured_owner(const std::vector<routed_backend>& backends, const std::string& model);

class backend_router final : public actors::backend {
public:
  // `require_all`: healthy only while every backend answers (else: while
  // one does).
  backend_router(std::vector<routed_backend> backends, bool require_all);

  std::uint64_t generate(actors::generation_request req, actors::update_sink sink) override;
  void cancel(std::uint64_t id) override;
  void
  list_models(std::function<void(events::result<std::vector<actors::model_info>>)> done) override;
  void show_model(const std::string& name,
                  std::function<void(events::result<actors::model_info>)> done) override;
  std::int64_t count_input_tokens(const actors::generation_request& req) const override;
  bool counts_exactly(const std::string& model) const override;
  void count_exactly(const actors::generation_request& req,
                     std::function<void(events::result<std::int64_t>)> done) override;
  void version(std::function<void(events::result<std::string>)> done) override;
  void health(std::function<void(bool ok, nlohmann::json detail)> done) override;
  std::string label_for(const std::string& model) const override;
  std::size_t concurrency_for(const std::string& model) const override;

private:
  // The backend serving `model` as last seen (configuration first, then the
  // latest listing); 0 when nothing is known.
  std::size_t owner(const std::string& model) const;
  // Every backend's models (fixed lists as configured, prefixes added),
  // first owner wins; and who did not answer.
  void gather(std::function<void(std::vector<actors::model_info>, std::vector<std::string>)> done);
  void remember(std::vector<std::pair<std::string, std::size_t>> owners,
                const std::vector<bool>& answered);

  std::vector<routed_backend> backends_;
  bool require_all_;
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::size_t>> owners_; // model -> backend, sorted
};

} // namespace riposte::adapters::backends
