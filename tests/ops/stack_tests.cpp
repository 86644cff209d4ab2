// The deployable stack under ops/: the compose file, the scrape and Grafana
// provisioning files parse and point at each other, every RIPOSTE_* variable
// they set is one riposte knows, and every metric the dashboard queries is
// one a running riposte exports.
#define BOOST_TEST_MODULE ops
#include "tests/support/servers.hpp"
#include "tests/support/sse.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using json = nlohmann::json;
using namespace riposte::tests;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path source_dir() {
  const char* dir = std::getenv("RIPOSTE_SOURCE_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr, "RIPOSTE_SOURCE_DIR is not set");
  return dir;
}

fs::path ops_dir() {
  return source_dir() / "ops";
}

std::string read_text(const fs::path& p) {
  std::ifstream in{p};
  BOOST_REQUIRE_MESSAGE(in.good(), "cannot read " << p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

YAML::Node load_yaml(const fs::path& p) {
  try {
    return YAML::LoadFile(p.string());
  } catch (const YAML::Exception& ex) {
    BOOST_FAIL(p << " does not parse: " << ex.what());
  }
  return {};
}

json dashboard() {
  auto j = json::parse(read_text(ops_dir() / "grafana/dashboards/riposte.json"), nullptr, false);
  BOOST_REQUIRE_MESSAGE(j.is_object(), "the dashboard is not valid JSON");
  return j;
}

std::vector<std::string> dashboard_queries(const json& dash) {
  std::vector<std::string> out;
  for (const auto& panel : dash.at("panels"))
    for (const auto& target : panel.value("targets", json::array()))
      out.push_back(target.at("expr").get<std::string>());
  return out;
}

std::string riposte_help() {
  child_process p{{riposte_binary(), "--help"}};
  BOOST_REQUIRE(p.wait_exit(10s) == 0);
  return p.output();
}

} // namespace

BOOST_AUTO_TEST_CASE(the_compose_file_parses_and_wires_riposte_to_postgres_and_ollama) {
  auto compose = load_yaml(ops_dir() / "compose.yaml");
  auto services = compose["services"];
  BOOST_REQUIRE(services.IsMap());
  for (const char* name : {"riposte", "ollama", "postgres", "victoriametrics", "grafana"})
    BOOST_TEST(services[name].IsMap(), name << " is not a service");

  auto riposte = services["riposte"];
  auto dockerfile = ops_dir() / riposte["build"]["context"].as<std::string>() /
                    riposte["build"]["dockerfile"].as<std::string>();
  BOOST_TEST(fs::exists(dockerfile), dockerfile);
  auto env = riposte["environment"];
  BOOST_TEST(env["RIPOSTE_STORE"].as<std::string>().rfind("postgres://", 0) == 0u);
  BOOST_TEST(env["RIPOSTE_STORE"].as<std::string>().find("@postgres:5432/") != std::string::npos);
  BOOST_TEST(env["RIPOSTE_BACKEND"].as<std::string>() == "http://ollama:11434");
  // Every variable the stack sets is one riposte reads.
  auto help = riposte_help();
  for (const auto& kv : env) {
    auto name = kv.first.as<std::string>();
    BOOST_TEST(help.find(name) != std::string::npos, name << " is not a riposte variable");
  }
  // Local files mounted into containers exist.
  for (const auto& service : services)
    for (const auto& volume : service.second["volumes"]) {
      auto spec = volume.as<std::string>();
      if (spec.rfind("./", 0) == 0)
        BOOST_TEST(fs::exists(ops_dir() / spec.substr(0, spec.find(':'))), spec);
    }
}

// The "replicas" profile: a second riposte on the same store and backend
// under its own replica id, and HAProxy in front of both, checking /readyz
// (its configuration valid for the HAProxy Debian ships).
BOOST_AUTO_TEST_CASE(the_replicas_profile_puts_two_replicas_behind_a_checked_balancer) {
  auto services = load_yaml(ops_dir() / "compose.yaml")["services"];
  auto a = services["riposte"];
  auto b = services["riposte-b"];
  BOOST_REQUIRE(b.IsMap());
  BOOST_TEST(b["profiles"][0].as<std::string>() == "replicas");
  BOOST_TEST(services["lb"]["profiles"][0].as<std::string>() == "replicas");
  for (const char* same : {"RIPOSTE_STORE", "RIPOSTE_BACKEND", "RIPOSTE_LEASE_MS"})
    BOOST_TEST(a["environment"][same].as<std::string>() == b["environment"][same].as<std::string>(),
               same);
  BOOST_TEST(a["environment"]["RIPOSTE_REPLICA_ID"].as<std::string>() !=
             b["environment"]["RIPOSTE_REPLICA_ID"].as<std::string>());
  BOOST_TEST(b["build"]["dockerfile"].as<std::string>() ==
             a["build"]["dockerfile"].as<std::string>());
  auto help = riposte_help();
  for (const auto& kv : b["environment"])
    BOOST_TEST(help.find(kv.first.as<std::string>()) != std::string::npos, kv.first);

  auto cfg_path = ops_dir() / "haproxy/haproxy.cfg";
  auto cfg = read_text(cfg_path);
  BOOST_TEST(cfg.find("option httpchk GET /readyz") != std::string::npos);
  BOOST_TEST(cfg.find("server riposte-a riposte:8080 check") != std::string::npos);
  BOOST_TEST(cfg.find("server riposte-b riposte-b:8080 check") != std::string::npos);
  bool mounted = false;
  for (const auto& volume : services["lb"]["volumes"])
    mounted = mounted || volume.as<std::string>().rfind("./haproxy/haproxy.cfg:", 0) == 0;
  BOOST_TEST(mounted);
  child_process check{{"/usr/sbin/haproxy", "-c", "-f", cfg_path.string()}};
  BOOST_TEST(check.wait_exit(10s) == 0, check.output());
}

BOOST_AUTO_TEST_CASE(victoriametrics_scrapes_riposte_and_grafana_reads_victoriametrics) {
  auto compose = load_yaml(ops_dir() / "compose.yaml");
  auto scrape = load_yaml(ops_dir() / "victoriametrics/scrape.yaml");
  auto job = scrape["scrape_configs"][0];
  BOOST_TEST(job["metrics_path"].as<std::string>() == "/metrics");
  auto target = job["static_configs"][0]["targets"][0].as<std::string>();
  BOOST_TEST(target == "riposte:8080");
  // The image listens on 8080 (Dockerfile), which the scrape target names.
  BOOST_TEST(read_text(ops_dir() / "docker/Dockerfile").find("RIPOSTE_LISTEN=0.0.0.0:8080") !=
             std::string::npos);

  auto source = load_yaml(ops_dir() / "grafana/provisioning/datasources/victoriametrics.yaml");
  auto ds = source["datasources"][0];
  BOOST_TEST(ds["url"].as<std::string>() == "http://victoriametrics:8428");
  BOOST_TEST(ds["type"].as<std::string>() == "prometheus");
  auto provider = load_yaml(ops_dir() / "grafana/provisioning/dashboards/riposte.yaml");
  auto path = provider["providers"][0]["options"]["path"].as<std::string>();
  bool mounted = false;
  for (const auto& volume : compose["services"]["grafana"]["volumes"]) {
    auto spec = volume.as<std::string>();
    mounted = mounted || spec.find(":" + path) != std::string::npos;
  }
  BOOST_TEST(mounted, "the dashboards path " << path << " is not mounted into grafana");
  // Every panel reads the provisioned data source.
  // (The dashboard held in a variable: a range over a member of a temporary
  // reads freed memory, as AddressSanitizer showed.)
  auto dash = dashboard();
  for (const auto& panel : dash.at("panels"))
    if (panel.contains("targets"))
      BOOST_TEST(panel["datasource"]["uid"] == ds["uid"].as<std::string>(),
                 panel["title"].get<std::string>());
}

BOOST_AUTO_TEST_CASE(the_dockerfile_builds_on_bookworm_with_the_setup_script) {
  auto text = read_text(ops_dir() / "docker/Dockerfile");
  BOOST_TEST(text.find("FROM debian:bookworm") != std::string::npos);
  BOOST_TEST(text.find("bash ops/setup.sh --build-only") != std::string::npos);
  BOOST_TEST(text.find("bash ops/build.sh") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_metric_the_dashboard_queries_is_one_riposte_exports) {
  auto queries = dashboard_queries(dashboard());
  BOOST_REQUIRE_GE(queries.size(), 15u);
  std::set<std::string> names;
  std::regex metric{"riposte_[a-z0-9_]+"};
  for (const auto& q : queries)
    for (std::sregex_iterator it{q.begin(), q.end(), metric}, end; it != end; ++it)
      names.insert(it->str());

  // A short scripted run, so that labelled families have series.
  scripted_backend b;
  riposte_server r{b.url(), {"--default-model", "llama3.2:1b"}};
  BOOST_TEST(r.post("/v1/responses", {{"model", "llama3.2:1b"}, {"input", "hello there"}}).status ==
             200);
  auto stream =
      sse_call("POST", r.url("/v1/responses"),
               json{{"model", "llama3.2:1b"}, {"input", "and a stream"}, {"stream", true}}.dump());
  BOOST_TEST(stream.events.back()["type"] == "response.completed");
  BOOST_TEST(r.get("/readyz").status == 200);
  auto exported = r.get("/metrics").body;

  for (const auto& name : names) {
    auto family = name;
    for (const std::string suffix : {"_bucket", "_sum", "_count"})
      if (family.size() > suffix.size() &&
          family.compare(family.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          exported.find("# TYPE " + family.substr(0, family.size() - suffix.size()) +
                        " histogram") != std::string::npos)
        family = family.substr(0, family.size() - suffix.size());
    BOOST_TEST(exported.find("# TYPE " + family + " ") != std::string::npos,
               name << " is queried by the dashboard but riposte does not export it");
  }
}
