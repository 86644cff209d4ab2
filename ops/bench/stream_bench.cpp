// Streaming benchmark client: N concurrent streams on one curl multi loop,
// timing when each token arrives. Two targets in one run: the scripted
// backend directly (--api ollama: /api/chat NDJSON; --api chat:
// /v1/chat/completions SSE) and riposte (/v1/responses SSE).
//   stream_bench --direct URL --riposte URL --streams N --tokens T --rate R [--api chat]
// Prints a Markdown table and writes JSON with --json FILE. With --pid P it
// reports that process's CPU seconds and peak RSS for the riposte run;
// --gaps 1 prints where the late tokens fell in time (stderr).
#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

// What a target streams: Ollama's NDJSON, Responses SSE, Chat Completions SSE.
enum class wire { ndjson, responses, chat };

struct stream_state {
  clock_type::time_point start;
  std::vector<double> arrivals_ms; // one per token
  std::string buffer;
  wire format = wire::ndjson;
  std::string body;
  curl_slist* headers = nullptr;
};

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
  auto* st = static_cast<stream_state*>(user);
  auto now = std::chrono::duration<double, std::milli>(clock_type::now() - st->start).count();
  st->buffer.append(data, size * n);
  const std::string sep = st->format == wire::ndjson ? "\n" : "\n\n";
  std::size_t pos = 0;
  for (auto end = st->buffer.find(sep); end != std::string::npos;
       pos = end + sep.size(), end = st->buffer.find(sep, pos)) {
    std::string_view unit{st->buffer.data() + pos, end - pos};
    bool token = false;
    if (st->format == wire::responses)
      token = unit.find("event: response.output_text.delta") != std::string_view::npos;
    else if (st->format == wire::chat)
      token = unit.find("\"delta\":{\"content\":\"") != std::string_view::npos &&
              unit.find("\"content\":\"\"") == std::string_view::npos;
    else
      token = unit.find("\"done\":false") != std::string_view::npos &&
              unit.find("\"content\":\"\"") == std::string_view::npos;
    if (token)
      st->arrivals_ms.push_back(now);
  }
  st->buffer.erase(0, pos);
  return size * n;
}

struct loop {
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  long timeout_ms = -1;
};

int on_socket(CURL*, curl_socket_t s, int what, void* user, void*) {
  auto* lp = static_cast<loop*>(user);
  if (what == CURL_POLL_REMOVE) {
    ::epoll_ctl(lp->epoll_fd, EPOLL_CTL_DEL, s, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.data.fd = s;
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  if (::epoll_ctl(lp->epoll_fd, EPOLL_CTL_MOD, s, &ev) != 0)
    ::epoll_ctl(lp->epoll_fd, EPOLL_CTL_ADD, s, &ev);
  return 0;
}

int on_timer(CURLM*, long timeout_ms, void* user) {
  static_cast<loop*>(user)->timeout_ms = timeout_ms;
  return 0;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[idx];
}

struct summary {
  std::size_t streams = 0, complete = 0;
  double ttft_p50 = 0, ttft_p99 = 0, itl_p50 = 0, itl_p99 = 0, wall_s = 0;
  std::size_t tokens = 0; // received, over all streams
  double tokens_per_s() const { return wall_s > 0 ? static_cast<double>(tokens) / wall_s : 0; }
};

summary run(const std::string& url, wire format, const std::string& model, int streams, int tokens,
            int delay_ms, bool gaps) {
  bool sse = format == wire::responses;
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  std::vector<stream_state> states(static_cast<std::size_t>(streams));
  std::vector<CURL*> handles;
  std::string prompt = "bench";
  auto t0 = clock_type::now();
  for (auto& st : states) {
    st.format = format;
    st.body =
        sse ? json{{"model", model}, {"input", prompt}, {"stream", true}, {"store", true}}.dump()
            : json{{"model", model},
                   {"messages", {{{"role", "user"}, {"content", prompt}}}},
                   {"stream", true}}
                  .dump();
    st.headers = curl_slist_append(nullptr, "Content-Type: application/json");
    CURL* e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, st.body.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, st.headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 600L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    st.start = clock_type::now();
    curl_multi_add_handle(multi, e);
    handles.push_back(e);
  }
  // libcurl's socket interface on epoll: each wake-up touches only the
  // connections that have data (curl_multi_perform would walk all of them,
  // and at a thousand streams the client would add the latency it measures).
  loop lp;
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &lp);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &lp);
  int running = 0;
  curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
  std::vector<epoll_event> ready(1024);
  while (running > 0) {
    int n = ::epoll_wait(lp.epoll_fd, ready.data(), static_cast<int>(ready.size()),
                         lp.timeout_ms < 0 ? 100 : static_cast<int>(lp.timeout_ms));
    if (n <= 0) {
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
      continue;
    }
    for (int i = 0; i < n; ++i) {
      const auto& ev = ready[static_cast<std::size_t>(i)];
      int mask = ((ev.events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                 ((ev.events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                 ((ev.events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
      curl_multi_socket_action(multi, ev.data.fd, mask, &running);
    }
  }
  ::close(lp.epoll_fd);
  summary s;
  s.streams = states.size();
  s.wall_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::vector<double> ttft, itl;
  for (auto& st : states) {
    if (static_cast<int>(st.arrivals_ms.size()) >= tokens)
      ++s.complete;
    if (st.arrivals_ms.empty())
      continue;
    s.tokens += st.arrivals_ms.size();
    ttft.push_back(st.arrivals_ms.front());
    for (std::size_t i = 1; i < st.arrivals_ms.size(); ++i)
      itl.push_back(st.arrivals_ms[i] - st.arrivals_ms[i - 1]);
  }
  if (gaps) {
    // Where the late tokens are: gaps over 1.5x the pace, by 100 ms of run
    // time, and the p99 without each stream's first and last ten tokens.
    std::map<int, int> by_time;
    std::vector<double> steady;
    for (auto& st : states) {
      double offset = std::chrono::duration<double, std::milli>(st.start - t0).count();
      for (std::size_t i = 1; i < st.arrivals_ms.size(); ++i) {
        double gap = st.arrivals_ms[i] - st.arrivals_ms[i - 1];
        if (i >= 10 && i + 10 < st.arrivals_ms.size())
          steady.push_back(gap);
        if (gap > 1.5 * delay_ms)
          by_time[static_cast<int>((offset + st.arrivals_ms[i]) / 100)]++;
      }
    }
    std::fprintf(stderr, "%s: inter-token p99 without first and last ten tokens %.2f ms\n",
                 sse ? "riposte" : "direct", percentile(steady, 0.99));
    for (auto& [b, n] : by_time)
      std::fprintf(stderr, "  at %5d ms: %d gaps over %.0f ms\n", b * 100, n, 1.5 * delay_ms);
  }
  for (auto* e : handles) {
    curl_multi_remove_handle(multi, e);
    curl_easy_cleanup(e);
  }
  for (auto& st : states)
    curl_slist_free_all(st.headers);
  curl_multi_cleanup(multi);
  s.ttft_p50 = percentile(ttft, 0.5);
  s.ttft_p99 = percentile(ttft, 0.99);
  s.itl_p50 = percentile(itl, 0.5);
  s.itl_p99 = percentile(itl, 0.99);
  return s;
}

// utime + stime in seconds, and VmHWM in MiB, of a process.
std::pair<double, double> usage_of(long pid) {
  double cpu = 0, rss = 0;
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = content.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields{content.substr(close + 2)};
    std::vector<std::string> f;
    std::string x;
    while (fields >> x)
      f.push_back(x);
    if (f.size() > 12)
      cpu = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      rss = std::stod(line.substr(6)) / 1024.0;
  return {cpu, rss};
}

} // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2)
    args[argv[i]] = argv[i + 1];
  auto get = [&](const std::string& k, const std::string& d) {
    return args.count(k) ? args[k] : d;
  };
  int streams = std::stoi(get("--streams", "100"));
  int tokens = std::stoi(get("--tokens", "200"));
  int delay = 1000 / std::stoi(get("--rate", "50"));
  std::string model = get("--model", "bench");
  long pid = std::stol(get("--pid", "0"));
  curl_global_init(CURL_GLOBAL_DEFAULT);

  bool gaps = args.count("--gaps") != 0 && args["--gaps"] != "0";
  bool chat = get("--api", "ollama") == "chat";
  auto direct = run(get("--direct", "") + (chat ? "/v1/chat/completions" : "/api/chat"),
                    chat ? wire::chat : wire::ndjson, model, streams, tokens, delay, gaps);
  auto before = pid ? usage_of(pid) : std::pair<double, double>{};
  auto gw = run(get("--riposte", "") + "/v1/responses", wire::responses, model, streams, tokens,
                delay, gaps);
  auto after = pid ? usage_of(pid) : std::pair<double, double>{};

  std::printf(
      "| %d streams x %d tokens @ %s tok/s | direct | riposte | added |\n|---|---:|---:|---:|\n",
      streams, tokens, get("--rate", "50").c_str());
  auto row = [](const char* name, double d, double r) {
    std::printf("| %s | %.2f | %.2f | %.2f |\n", name, d, r, r - d);
  };
  row("time to first token p50 (ms)", direct.ttft_p50, gw.ttft_p50);
  row("time to first token p99 (ms)", direct.ttft_p99, gw.ttft_p99);
  row("inter-token p50 (ms)", direct.itl_p50, gw.itl_p50);
  row("inter-token p99 (ms)", direct.itl_p99, gw.itl_p99);
  std::printf("| complete streams | %zu/%zu | %zu/%zu | |\n", direct.complete, direct.streams,
              gw.complete, gw.streams);
  // Offered: streams x rate tokens/s; below it, the target fell behind.
  std::printf("| tokens/s delivered (wall s) | %.0f (%.1f) | %.0f (%.1f) | |\n",
              direct.tokens_per_s(), direct.wall_s, gw.tokens_per_s(), gw.wall_s);
  if (pid)
    std::printf("| riposte CPU during its run (s) | | %.2f (%.0f%% of one core) | |\n"
                "| riposte peak RSS (MiB) | | %.1f | |\n",
                after.first - before.first, 100.0 * (after.first - before.first) / gw.wall_s,
                after.second);
  if (args.count("--json")) {
    json out{{"streams", streams},
             {"tokens", tokens},
             {"direct",
              {{"ttft_p50_ms", direct.ttft_p50},
               {"ttft_p99_ms", direct.ttft_p99},
               {"itl_p50_ms", direct.itl_p50},
               {"itl_p99_ms", direct.itl_p99},
               {"tokens_per_s", direct.tokens_per_s()},
               {"wall_s", direct.wall_s},
               {"complete", direct.complete}}},
             {"riposte",
              {{"ttft_p50_ms", gw.ttft_p50},
               {"ttft_p99_ms", gw.ttft_p99},
               {"itl_p50_ms", gw.itl_p50},
               {"itl_p99_ms", gw.itl_p99},
               {"tokens_per_s", gw.tokens_per_s()},
               {"wall_s", gw.wall_s},
               {"complete", gw.complete},
               {"cpu_s", after.first - before.first},
               {"peak_rss_mib", after.second}}}};
    std::ofstream{args["--json"]} << out.dump(2);
  }
  return 0;
}
