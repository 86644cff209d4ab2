// Event-log benchmark: events/s appended at batch sizes 1, 16 and 256 and
// events/s read back (per stream and through the audit feed), for every
// store named on the command line, in one run. Prints Markdown and JSON.
#include "adapters/store/store.hpp"
#include "events/event.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace store = riposte::adapters::store;
namespace ev = riposte::events;
using clock_type = std::chrono::steady_clock;

namespace {

struct cell {
  std::string store;
  std::size_t batch;
  std::size_t appended;
  double append_eps;
  double read_eps;
  double read_all_eps;
};

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Appends for about `budget` seconds (at most `max_events`), then reads it all back.
cell run(const std::string& label, ev::event_log& log, std::size_t batch, double budget,
         std::size_t max_events, const std::string& prefix) {
  const std::size_t per_stream = 1024; // events per stream before moving on
  std::vector<ev::new_event> evs;
  for (std::size_t i = 0; i < batch; ++i)
    evs.push_back(ev::make_new_event(
        ev::output_text_delta{"msg_0123456789abcdef", 0, 0, " token" + std::to_string(i % 10)},
        "tenant_bench", 1764000000000000));
  std::size_t appended = 0, stream_no = 0, in_stream = 0;
  auto start_pos = log.read_all(0, 0); // warm the connection
  (void)start_pos;
  auto t0 = clock_type::now();
  while (appended < max_events && (appended == 0 || seconds_since(t0) < budget)) {
    auto stream = prefix + std::to_string(stream_no);
    auto expected = in_stream == 0 ? ev::no_stream : static_cast<std::int64_t>(in_stream) - 1;
    auto r = log.append(stream, expected, evs);
    if (!r) {
      std::cerr << label << ": append failed: " << r.error().message << '\n';
      std::exit(1);
    }
    appended += batch;
    in_stream += batch;
    if (in_stream >= per_stream) {
      ++stream_no;
      in_stream = 0;
    }
  }
  double append_s = seconds_since(t0);

  std::size_t read = 0;
  t0 = clock_type::now();
  for (std::size_t s = 0; s <= stream_no; ++s) {
    auto r = log.read(prefix + std::to_string(s), 0, per_stream + 256);
    if (r)
      read += r->size();
  }
  double read_s = seconds_since(t0);
  if (read != appended) {
    std::cerr << label << ": read back " << read << " of " << appended << " events\n";
    std::exit(1);
  }

  std::size_t fed = 0;
  std::uint64_t after = 0;
  t0 = clock_type::now();
  for (;;) {
    auto page = log.read_all(after, 2048);
    if (!page || page->empty())
      break;
    fed += page->size();
    after = page->back().global_position;
  }
  double feed_s = seconds_since(t0);
  return {label, batch, appended, appended / append_s, read / read_s, fed / feed_s};
}

} // namespace

int main(int argc, char** argv) {
  // usage: event_log_bench [--seconds S] [--pg URL] [--json FILE]
  double budget = 3.0;
  std::string pg_url, json_out;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds")
      budget = std::stod(argv[i + 1]);
    else if (flag == "--pg")
      pg_url = argv[i + 1];
    else if (flag == "--json")
      json_out = argv[i + 1];
  }
  struct target {
    std::string label;
    std::string uri;
    store::sync_policy sync;
  };
  auto dir = std::filesystem::temp_directory_path() / "riposte_bench";
  std::vector<target> targets{
      {"rocksdb sync=always", "rocksdb:" + (dir / "sync").string(), store::sync_policy::always},
      {"rocksdb sync=none", "rocksdb:" + (dir / "nosync").string(), store::sync_policy::none}};
  if (!pg_url.empty())
    targets.push_back({"postgres", pg_url, store::sync_policy::always});

  std::vector<cell> cells;
  int run_no = 0;
  for (const auto& t : targets) {
    std::filesystem::remove_all(dir);
    auto log = store::open_store({t.uri, t.sync, 4});
    if (!log) {
      std::cerr << t.label << ": " << log.error().message << '\n';
      return 1;
    }
    for (std::size_t batch : {1u, 16u, 256u}) {
      cells.push_back(
          run(t.label, **log, batch, budget, 2'000'000, "bench_" + std::to_string(run_no++) + "_"));
      const auto& c = cells.back();
      std::fprintf(stderr, "%-20s batch %4zu: %9.0f appended/s  %9.0f read/s  %9.0f feed/s\n",
                   c.store.c_str(), c.batch, c.append_eps, c.read_eps, c.read_all_eps);
    }
  }
  std::filesystem::remove_all(dir);

  std::printf("| store | batch | events appended | append events/s | read events/s | audit feed "
              "events/s |\n|---|---:|---:|---:|---:|---:|\n");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : cells) {
    std::printf("| %s | %zu | %zu | %.0f | %.0f | %.0f |\n", c.store.c_str(), c.batch, c.appended,
                c.append_eps, c.read_eps, c.read_all_eps);
    out.push_back({{"store", c.store},
                   {"batch", c.batch},
                   {"events", c.appended},
                   {"append_events_per_s", c.append_eps},
                   {"read_events_per_s", c.read_eps},
                   {"audit_feed_events_per_s", c.read_all_eps}});
  }
  if (!json_out.empty()) {
    std::FILE* f = std::fopen(json_out.c_str(), "w");
    if (f != nullptr) {
      std::fputs(out.dump(2).c_str(), f);
      std::fclose(f);
    }
  }
  return 0;
}
