// Test support: a PostgreSQL server of a test's own (tests/support/pg_start.sh),
// so taking it down or filling it disturbs no one.
#pragma once

#include <boost/test/unit_test.hpp>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace riposte::tests {

inline std::string source_dir() {
  const char* dir = std::getenv("RIPOSTE_SOURCE_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr, "RIPOSTE_SOURCE_DIR is not set");
  return dir;
}

// Started and stopped with the test; stop()/start() take it down and up.
class own_postgres {
public:
  own_postgres()
    : dir_(std::filesystem::temp_directory_path() /
           ("riposte_test_pg_" + std::to_string(::getpid()) + "_" +
            std::to_string(std::random_device{}() % 1000000))) {
    run("pg_start.sh", "");
    std::ifstream in{dir_ / "url"};
    std::getline(in, url_);
    BOOST_REQUIRE_MESSAGE(!url_.empty(), "pg_start.sh wrote no url");
  }
  ~own_postgres() {
    std::system(("bash " + source_dir() + "/tests/support/pg_stop.sh " + dir_.string()).c_str());
    std::filesystem::remove_all(dir_);
  }
  const std::string& url() const { return url_; }
  void stop() { run("pg_pause.sh", " stop"); }
  void start() { run("pg_pause.sh", " start"); }

private:
  void run(const std::string& script, const std::string& args) {
    auto cmd = "bash " + source_dir() + "/tests/support/" + script + " " + dir_.string() + args;
    BOOST_REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd << " failed");
  }
  std::filesystem::path dir_;
  std::string url_;
};

} // namespace riposte::tests
