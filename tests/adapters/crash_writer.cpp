// Appends batches to a store in a loop and prints "ack N" after each append
// returned success; the conformance suite kills it with SIGKILL mid-way.
#include "adapters/store/store.hpp"
#include "events/event.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: crash_writer STORE_URI STREAM_PREFIX\n");
    return 2;
  }
  namespace store = riposte::adapters::store;
  namespace ev = riposte::events;
  auto log = store::open_store({argv[1], store::sync_policy::none, 2});
  if (!log) {
    std::fprintf(stderr, "%s\n", log.error().message.c_str());
    return 1;
  }
  const std::string prefix = argv[2];
  constexpr int batch_size = 7;
  for (long batch = 0;; ++batch) {
    std::vector<ev::new_event> evs;
    for (int i = 0; i < batch_size; ++i)
      evs.push_back(
          ev::make_new_event(ev::output_text_delta{"msg_" + std::to_string(batch), 0, 0,
                                                   std::to_string(batch) + ":" + std::to_string(i)},
                             "t", batch));
    auto stream = prefix + std::to_string(batch % 5);
    if (auto ok = (*log)->append(stream, ev::any_version, evs); !ok) {
      std::fprintf(stderr, "append failed: %s\n", ok.error().message.c_str());
      return 1;
    }
    std::printf("ack %ld\n", batch);
    std::fflush(stdout);
  }
}
