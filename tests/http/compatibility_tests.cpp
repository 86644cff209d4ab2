// The compatibility manifest keeps its promises: every supported or
// conditional feature names a test, and every named test exists.
#include "http/compatibility.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

using namespace riposte::http;

BOOST_AUTO_TEST_CASE(every_supported_feature_is_exercised_by_a_named_test) {
  const char* root = std::getenv("RIPOSTE_SOURCE_DIR");
  BOOST_REQUIRE_MESSAGE(root != nullptr, "RIPOSTE_SOURCE_DIR is not set");
  std::string sources;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator{std::filesystem::path{root} / "tests"}) {
    if (entry.path().string().find("node_modules") != std::string::npos || !entry.is_regular_file())
      continue;
    auto ext = entry.path().extension();
    if (ext != ".cpp" && ext != ".mjs")
      continue;
    std::ifstream in{entry.path()};
    std::stringstream ss;
    ss << in.rdbuf();
    sources += ss.str();
  }
  std::set<std::string_view> names;
  for (const auto& f : compatibility_manifest()) {
    BOOST_TEST(names.insert(f.name).second, "duplicate entry " << f.name);
    if (f.status == support::supported || f.status == support::conditional)
      BOOST_TEST(!f.tests.empty(), f.name << " claims support without a test");
    for (auto test : f.tests)
      BOOST_TEST(sources.find(std::string{test}) != std::string::npos,
                 f.name << " names a test that does not exist: " << test);
  }
}

BOOST_AUTO_TEST_CASE(the_manifest_renders_every_entry) {
  auto j = manifest_json();
  BOOST_TEST(j["features"].size() == compatibility_manifest().size());
  for (const auto& f : j["features"])
    BOOST_TEST((f["status"] == "supported" || f["status"] == "conditional" ||
                f["status"] == "ignored" || f["status"] == "unsupported"));
}
