// Every metric family riposte exports, declared once at start-up (Prometheus
// naming; no response id is ever a label). Labelled children are cached, so
// the hot path takes one short lock instead of prometheus-cpp's Add().
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace riposte::actors {

class metrics {
public:
  metrics();

  // One finished HTTP exchange (for streams: when the stream opened).
  void http_request(const std::string& route, const std::string& method, int status,
                    double seconds);
  prometheus::Gauge& http_in_flight() { return in_flight_; }
  // A response reached its end.
  void response_finished(const std::string& model, const std::string& mode,
                         const std::string& status);
  // One append to the event log, and how many events it carried.
  void event_append(const std::string& store, double seconds, std::size_t events, bool ok);
  void subscriber_dropped() { dropped_.Increment(); }

  // The text exposition format, for GET /metrics.
  std::string serialize() const;

private:
  template <class T>
  T& child(prometheus::Family<T>& family, const std::map<std::string, std::string>& labels,
           std::map<std::string, T*>& cache, const std::vector<double>* buckets = nullptr);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_latency_;
  prometheus::Gauge& in_flight_;
  prometheus::Family<prometheus::Counter>& responses_;
  prometheus::Family<prometheus::Histogram>& append_latency_;
  prometheus::Family<prometheus::Histogram>& append_batch_;
  prometheus::Family<prometheus::Counter>& append_errors_;
  prometheus::Counter& dropped_;
  std::mutex mutex_;
  std::map<std::string, prometheus::Counter*> counters_;
  std::map<std::string, prometheus::Histogram*> histograms_;
};

} // namespace riposte::actors
