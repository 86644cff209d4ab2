// Test support: the scripted Ollama-protocol backend and a riposte in front
// of it, both real processes on free loopback ports.
#pragma once

#include "tests/support/process.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace riposte::tests {

class scripted_backend {
public:
  explicit scripted_backend(const nlohmann::json& script = nlohmann::json::object());
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set_script(const nlohmann::json& script);
  // Every /api/chat body received so far.
  nlohmann::json requests();
  void clear_requests();
  // Answers every blocking reply scripted "held" so far; how many.
  int release();
  void stop() { proc_.reset(); }
  // Starts again on the same port (the script is empty again).
  void restart();

private:
  std::unique_ptr<child_process> proc_;
  std::uint16_t port_ = 0;
};

class riposte_server {
public:
  // Starts riposte with a fresh RocksDB store (unless `store` is given).
  // `launcher`, when given, is a command riposte runs under (an absolute path
  // and its arguments, e.g. {"/usr/bin/prlimit", "--nofile=200:200"} or
  // {"/usr/bin/env", "RIPOSTE_TEST_FAULTS=1"}); it must exec riposte in its
  // own process, so process() is riposte itself.
  riposte_server(const std::string& backend_url, std::vector<std::string> extra = {},
                 std::string store = {}, std::vector<std::string> launcher = {});
  ~riposte_server();
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::uint16_t port() const { return port_; }
  const std::string& store() const { return store_; }
  child_process& process() { return *proc_; }
  // Stops with SIGTERM and waits; the store stays.
  int stop();
  // Kills with SIGKILL, as a crash would.
  void crash();
  // Starts again on the same store and flags.
  void restart();
  http_result post(const std::string& path, const nlohmann::json& body,
                   std::vector<std::string> headers = {});
  http_result get(const std::string& path, std::vector<std::string> headers = {});
  http_result del(const std::string& path, std::vector<std::string> headers = {});
  // Runs `riposte ARGS... --store STORE` (replay, audit) on this server's
  // store, running or not, and returns what it printed; throws unless it
  // exits 0.
  std::string tool(std::vector<std::string> args) const;

private:
  void start();
  std::string backend_url_;
  std::vector<std::string> extra_;
  std::vector<std::string> launcher_;
  std::string store_;
  std::filesystem::path dir_;
  std::unique_ptr<child_process> proc_;
  std::uint16_t port_ = 0;
};

std::string scripted_ollama_binary();

// RIPOSTE_TEST_BACKEND_KIND: the backend kind a suite runs against (empty:
// Ollama's native API). The scripted backend then speaks that kind's
// Chat Completions dialect, and riposte is told the kind.
std::string test_backend_kind();

// The value of one series (its name with its labels, as riposte writes
// them) in the Prometheus text of /metrics; -1 if absent.
double series(const std::string& text, const std::string& name);

} // namespace riposte::tests
