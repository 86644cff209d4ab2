// The scripted backend and riposte as child processes.
#include "tests/support/servers.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace riposte::tests {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::string scripted_ollama_binary() {
  const char* bin = std::getenv("SCRIPTED_OLLAMA_BIN");
  if (bin == nullptr)
    throw std::runtime_error("SCRIPTED_OLLAMA_BIN is not set");
  return bin;
}

std::string test_backend_kind() {
  const char* kind = std::getenv("RIPOSTE_TEST_BACKEND_KIND");
  return kind == nullptr ? std::string{} : kind;
}

double series(const std::string& text, const std::string& name) {
  auto pos = text.find("\n" + name + " ");
  if (pos == std::string::npos)
    return -1;
  return std::stod(text.substr(pos + name.size() + 2));
}

namespace {

std::unique_ptr<child_process> start_scripted(std::uint16_t port, std::uint16_t& bound) {
  std::vector<std::string> argv{scripted_ollama_binary(), "--listen",
                                "127.0.0.1:" + std::to_string(port)};
  if (auto kind = test_backend_kind(); !kind.empty() && kind != "ollama")
    argv.insert(argv.end(), {"--profile", kind});
  auto proc = std::make_unique<child_process>(argv);
  auto line = proc->wait_for_line("\"port\"", 10s);
  if (line.empty())
    throw std::runtime_error("scripted_ollama did not start: " + proc->output());
  bound = json::parse(line).at("port").get<std::uint16_t>();
  return proc;
}

} // namespace

scripted_backend::scripted_backend(const json& script) {
  proc_ = start_scripted(0, port_);
  if (!script.empty())
    set_script(script);
}

void scripted_backend::restart() {
  proc_.reset();
  proc_ = start_scripted(port_, port_);
}

void scripted_backend::set_script(const json& script) {
  auto r = http_call("POST", url() + "/_scripted/script", script.dump(),
                     {"Content-Type: application/json"});
  if (r.status != 200)
    throw std::runtime_error("cannot set script: " + r.body);
}

json scripted_backend::requests() {
  return json::parse(http_call("GET", url() + "/_scripted/requests").body);
}

int scripted_backend::release() {
  return json::parse(http_call("POST", url() + "/_scripted/release").body).value("released", 0);
}

void scripted_backend::clear_requests() {
  http_call("DELETE", url() + "/_scripted/requests");
}

riposte_server::riposte_server(const std::string& backend_url, std::vector<std::string> extra,
                               std::string store, std::vector<std::string> launcher)
  : backend_url_(backend_url)
  , extra_(std::move(extra))
  , launcher_(std::move(launcher))
  , store_(std::move(store)) {
  if (store_.empty()) {
    dir_ = std::filesystem::temp_directory_path() /
           ("riposte_e2e_" + std::to_string(::getpid()) + "_" +
            std::to_string(std::random_device{}() % 1000000));
    store_ = "rocksdb:" + dir_.string();
  }
  start();
}

riposte_server::~riposte_server() {
  proc_.reset();
  if (!dir_.empty())
    std::filesystem::remove_all(dir_);
}

void riposte_server::start() {
  std::vector<std::string> argv = launcher_;
  // A bare URL is the scripted backend: spoken to in the suite's kind.
  auto backend = backend_url_;
  if (auto kind = test_backend_kind(); !kind.empty() && backend.rfind("http", 0) == 0)
    backend = kind + ":" + backend;
  for (const auto& a : {riposte_binary(), std::string{"--listen"}, std::string{"127.0.0.1:0"},
                        std::string{"--store"}, store_, std::string{"--backend"}, backend})
    argv.push_back(a);
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  // A restart of one still running ends it first (SIGKILL, as a crash),
  // never two on one store at once.
  proc_.reset();
  proc_ = std::make_unique<child_process>(argv);
  auto line = proc_->wait_for_line("riposte listening", 20s);
  if (line.empty())
    throw std::runtime_error("riposte did not start: " + proc_->output());
  port_ = json::parse(line).at("port").get<std::uint16_t>();
}

std::string riposte_server::tool(std::vector<std::string> args) const {
  std::vector<std::string> argv{riposte_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--store");
  argv.push_back(store_);
  child_process p{argv};
  if (p.wait_exit(std::chrono::seconds(20)) != 0)
    throw std::runtime_error("riposte " + (args.empty() ? std::string{} : args.front()) +
                             " failed: " + p.output());
  return p.output();
}

int riposte_server::stop() {
  proc_->signal(SIGTERM);
  return proc_->wait_exit(20s);
}

void riposte_server::crash() {
  proc_->signal(SIGKILL);
  proc_->wait_exit(20s);
}

void riposte_server::restart() {
  start();
}

http_result riposte_server::post(const std::string& path, const json& body,
                                 std::vector<std::string> headers) {
  headers.push_back("Content-Type: application/json");
  return http_call("POST", url(path), body.dump(), headers);
}

http_result riposte_server::get(const std::string& path, std::vector<std::string> headers) {
  return http_call("GET", url(path), "", headers);
}

http_result riposte_server::del(const std::string& path, std::vector<std::string> headers) {
  return http_call("DELETE", url(path), "", headers);
}

} // namespace riposte::tests
