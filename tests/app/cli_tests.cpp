// The riposte binary: --help, fail-fast start-up, and serving over loopback.
#define BOOST_TEST_MODULE app
#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <boost/test/unit_test.hpp>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

using namespace std::chrono_literals;
using riposte::tests::child_process;
using riposte::tests::http_call;
using riposte::tests::riposte_binary;

namespace {

std::filesystem::path temp_store() {
  return std::filesystem::temp_directory_path() /
         ("riposte_app_" + std::to_string(::getpid()) + "_" +
          std::to_string(std::random_device{}() % 1000000));
}

// A started riposte on a free port with a fresh RocksDB store.
struct running_riposte {
  std::filesystem::path dir = temp_store();
  std::unique_ptr<child_process> proc;
  std::uint16_t port = 0;

  explicit running_riposte(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{riposte_binary(), "--listen", "127.0.0.1:0", "--store",
                                  "rocksdb:" + dir.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<child_process>(argv);
    auto line = proc->wait_for_line("riposte listening", 20s);
    BOOST_REQUIRE_MESSAGE(!line.empty(), "riposte did not start: " << proc->output());
    port = nlohmann::json::parse(line).at("port").get<std::uint16_t>();
  }
  ~running_riposte() {
    proc.reset();
    std::filesystem::remove_all(dir);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
};

} // namespace

// The README's flag table and --help agree: every flag and its environment
// variable in one is in the other.
BOOST_AUTO_TEST_CASE(help_documents_every_flag_and_its_environment_variable) {
  child_process p{{riposte_binary(), "--help"}};
  BOOST_TEST(p.wait_exit(10s) == 0);
  auto help = p.output();
  const char* src = std::getenv("RIPOSTE_SOURCE_DIR");
  BOOST_REQUIRE(src != nullptr);
  std::ifstream readme{std::string{src} + "/README.md"};
  std::set<std::string> documented;
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind("| `--", 0) != 0)
      continue;
    auto flag_end = line.find_first_of(" `", 3);
    auto flag = line.substr(3, flag_end - 3);
    auto env_at = line.find("`RIPOSTE_");
    BOOST_REQUIRE_MESSAGE(env_at != std::string::npos, "no env var for " << flag);
    auto env = line.substr(env_at + 1, line.find('`', env_at + 1) - env_at - 1);
    documented.insert(flag);
    BOOST_TEST(help.find(flag) != std::string::npos, flag << " is in the README, not in --help");
    BOOST_TEST(help.find(env) != std::string::npos, env << " is in the README, not in --help");
  }
  BOOST_TEST(documented.size() >= 20u);
  // And back: each --flag of --help has its README row.
  for (std::size_t pos = 0; (pos = help.find("  --", pos)) != std::string::npos;) {
    pos += 2;
    auto end = help.find_first_of(" =,\n", pos);
    auto flag = help.substr(pos, end - pos);
    if (flag == "--help" || flag == "--version")
      continue;
    BOOST_TEST(documented.count(flag) == 1u, flag << " is in --help, not in the README");
  }
}

BOOST_AUTO_TEST_CASE(a_bad_flag_fails_fast_with_a_one_line_reason) {
  const std::vector<std::vector<std::string>> cases{
      {"--no-such-flag"},        {"--listen", "localhost"},     {"--listen", "1.2.3.4:99999"},
      {"--store", "mysql://x"},  {"--store-sync", "sometimes"}, {"--backend", "ftp://x"},
      {"--log-level", "chatty"}, {"--api-key", ":tenant"},      {"--store", "rocksdb:"}};
  for (const auto& extra : cases) {
    std::vector<std::string> argv{riposte_binary()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child_process p{argv};
    int code = p.wait_exit(10s);
    BOOST_TEST(code != 0, extra.front());
    BOOST_TEST(code != -1, extra.front());
    auto out = p.output();
    while (!out.empty() && out.back() == '\n')
      out.pop_back();
    BOOST_TEST(!out.empty(), extra.front());
    BOOST_TEST(out.find('\n') == std::string::npos, "more than one line: " << out);
  }
}

BOOST_AUTO_TEST_CASE(an_unreachable_store_fails_fast) {
  child_process p{{riposte_binary(), "--listen", "127.0.0.1:0", "--store",
                   "postgresql://postgres@127.0.0.1:1/nowhere"}};
  BOOST_TEST(p.wait_exit(15s) == 1);
  BOOST_TEST(p.output().find("riposte:") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_port_in_use_fails_fast) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto port = std::to_string(ntohs(addr.sin_port));
  auto dir = temp_store();
  child_process p{
      {riposte_binary(), "--listen", "127.0.0.1:" + port, "--store", "rocksdb:" + dir.string()}};
  BOOST_TEST(p.wait_exit(15s) == 1);
  BOOST_TEST(p.output().find("cannot listen on 127.0.0.1:" + port) != std::string::npos,
             p.output());
  ::close(fd);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_second_riposte_on_the_same_rocksdb_store_fails_fast) {
  running_riposte first;
  child_process second{
      {riposte_binary(), "--listen", "127.0.0.1:0", "--store", "rocksdb:" + first.dir.string()}};
  BOOST_TEST(second.wait_exit(15s) == 1);
  BOOST_TEST(second.output().find("lock") != std::string::npos, second.output());
}

BOOST_AUTO_TEST_CASE(settings_come_from_environment_variables_too) {
  ::setenv("RIPOSTE_STORE_SYNC", "sometimes", 1);
  child_process p{{riposte_binary(), "--listen", "127.0.0.1:0"}};
  ::unsetenv("RIPOSTE_STORE_SYNC");
  BOOST_TEST(p.wait_exit(10s) == 2);
  BOOST_TEST(p.output().find("sometimes") != std::string::npos, p.output());
}

BOOST_AUTO_TEST_CASE(it_serves_health_and_answers_unknown_urls_in_the_openai_shape) {
  running_riposte r;
  auto health = http_call("GET", r.url("/healthz"));
  BOOST_TEST(health.status == 200);
  BOOST_TEST(health.header("x-request-id").rfind("req_", 0) == 0u);

  auto unknown = http_call("GET", r.url("/v1/nothing-here"), "", {"x-request-id: my-trace-7"});
  BOOST_TEST(unknown.status == 404);
  BOOST_TEST(unknown.header("x-request-id") == "my-trace-7");
  auto body = nlohmann::json::parse(unknown.body, nullptr, false);
  BOOST_REQUIRE(body.is_object());
  const auto& err = body.at("error");
  BOOST_TEST(err.at("type") == "invalid_request_error");
  BOOST_TEST(err.at("code") == "unknown_url");
  BOOST_TEST(err.at("param").is_null());
  BOOST_TEST(err.at("message").get<std::string>().find("/v1/nothing-here") != std::string::npos);

  r.proc->signal(SIGTERM);
  auto code = r.proc->wait_exit(15s);
  BOOST_TEST(code == 0, "exit " << code << " (-1: still running): " << r.proc->output());
}
