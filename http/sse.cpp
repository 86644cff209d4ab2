// SSE frames over a chunk_stream, with a bound on bytes not yet written.
#include "http/sse.hpp"

#include "events/faults.hpp"
#include "events/json_safe.hpp"
#include "http/errors.hpp"

#include <atomic>
#include <mutex>

namespace riposte::http {

namespace {

using json = nlohmann::json;

// The `error` event that ends a stream already under way.
std::string error_frame(const events::error_info& err, std::int64_t seq) {
  auto m = map_error(err.code);
  json event{{"type", "error"},
             {"code", m.code.empty() ? json(nullptr) : json(m.code)},
             {"message", err.message},
             {"param", err.param.empty() ? json(nullptr) : json(err.param)},
             {"sequence_number", seq}};
  return "event: error\ndata: " + events::dump_json(event) + "\n\n";
}

class sse_sink final : public actors::event_sink, public std::enable_shared_from_this<sse_sink> {
public:
  sse_sink(std::shared_ptr<exchange> ex, sse_options opts)
    : ex_(std::move(ex))
    , opts_(std::move(opts))
    , seed_(obfuscation_seed(opts_.response_id)) {}

  // Dropped without an end (its actor died, a message was lost): the client
  // is told, never left waiting.
  ~sse_sink() override {
    try {
      if (closed_ || gone_)
        return;
      if (!stream_) {
        ex_->reply(to_http(events::server_fault()));
        return;
      }
      stream_->write(error_frame(events::server_fault(), last_seq_ + 1), nullptr);
      stream_->finish();
    } catch (...) {
    }
  }

  void push(const projections::stream_frame& event) override {
    last_seq_ = event.seq;
    send(sse_frame(event, opts_, seed_));
  }

  void push_all(const std::vector<projections::stream_frame>& events) override {
    std::string frames;
    for (const auto& event : events) {
      last_seq_ = event.seq;
      frames += sse_frame(event, opts_, seed_);
    }
    if (!frames.empty())
      send(std::move(frames));
  }

  void keep_alive() override { send(": keep-alive\n\n"); }

  // Called before the sink is handed on, so no push races with it.
  void retarget(const std::string& response_id) override {
    opts_.response_id = response_id;
    seed_ = obfuscation_seed(response_id);
  }

  void close() override {
    std::shared_ptr<chunk_stream> stream;
    {
      std::lock_guard guard{mutex_};
      if (closed_)
        return;
      closed_ = true;
      stream = open_locked();
    }
    stream->finish();
  }

  void fail(const events::error_info& err) override {
    std::shared_ptr<chunk_stream> stream;
    {
      std::lock_guard guard{mutex_};
      if (closed_)
        return;
      if (!stream_) {
        closed_ = true;
        ex_->reply(to_http(err));
        return;
      }
    }
    send(error_frame(err, last_seq_ + 1));
    close();
  }

  void on_gone(std::function<void()> fn) override {
    bool already = false;
    {
      std::lock_guard guard{mutex_};
      gone_fn_ = std::move(fn);
      already = gone_;
    }
    if (already && gone_fn_)
      gone_fn_();
  }

private:
  std::shared_ptr<chunk_stream> open_locked() {
    if (!stream_)
      stream_ = ex_->stream("text/event-stream; charset=utf-8",
                            {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}});
    return stream_;
  }

  void send(std::string frame) {
    std::shared_ptr<chunk_stream> stream;
    auto size = frame.size();
    bool dropped = false;
    {
      std::lock_guard guard{mutex_};
      if (closed_ || gone_)
        return;
      stream = open_locked();
      pending_ += size;
      // A client this far behind is let go (it can resume with starting_after).
      dropped = pending_ > opts_.max_pending_bytes;
    }
    if (dropped) {
      mark_gone();
      stream->finish();
      return;
    }
    std::weak_ptr<sse_sink> weak = weak_from_this();
    stream->write(std::move(frame), [weak, size](bool ok) {
      if (auto self = weak.lock())
        self->written(size, ok);
    });
  }

  void written(std::size_t size, bool ok) {
    {
      std::lock_guard guard{mutex_};
      pending_ -= size;
    }
    if (!ok)
      mark_gone();
  }

  void mark_gone() {
    std::function<void()> fn;
    {
      std::lock_guard guard{mutex_};
      if (gone_)
        return;
      gone_ = true;
      fn = gone_fn_;
    }
    if (fn)
      fn();
  }

  std::shared_ptr<exchange> ex_;
  sse_options opts_;
  std::uint64_t seed_; // of opts_.response_id
  std::mutex mutex_;
  std::shared_ptr<chunk_stream> stream_;
  std::size_t pending_ = 0;
  bool closed_ = false;
  bool gone_ = false;
  std::atomic<std::int64_t> last_seq_{-1}; // pushes come from the actor or the writer
  std::function<void()> gone_fn_;
};

} // namespace

std::shared_ptr<actors::event_sink> make_sse_sink(std::shared_ptr<exchange> ex, sse_options opts) {
  return std::make_shared<sse_sink>(std::move(ex), std::move(opts));
}

namespace {

// The padding's characters, written straight after `out`'s end.
void put_obfuscation(std::string& out, std::uint64_t seed, std::int64_t seq,
                     std::size_t delta_size) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  auto h = seed ^ (static_cast<std::uint64_t>(seq) * 0x9e3779b97f4a7c15ull);
  // Pads the delta towards a multiple of 16 bytes, at least 4 characters.
  std::size_t length = 4 + (16 - (delta_size % 16)) % 16;
  auto at = out.size();
  out.resize(at + length);
  for (std::size_t i = 0; i < length; ++i) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    out[at + i] = alphabet[h % (sizeof alphabet - 1)];
  }
}

// The padding goes last in the object, as the API sends it.
void append_data(std::string& out, const projections::stream_frame& event, const sse_options& opts,
                 std::uint64_t seed) {
  out += event.data;
  if (opts.obfuscation && event.delta_size && out.back() == '}') {
    out.pop_back();
    out += ",\"obfuscation\":\"";
    put_obfuscation(out, seed, event.seq, *event.delta_size);
    out += "\"}";
  }
}

} // namespace

std::uint64_t obfuscation_seed(std::string_view response_id) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : response_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string sse_frame(const projections::stream_frame& event, const sse_options& opts,
                      std::uint64_t seed) {
  std::string frame;
  frame.reserve(event.type.size() + event.data.size() + 64);
  frame += "event: ";
  frame += event.type;
  frame += "\ndata: ";
  append_data(frame, event, opts, seed);
  frame += "\n\n";
  return frame;
}

std::string sse_frame(const projections::stream_frame& event, const sse_options& opts) {
  return sse_frame(event, opts, obfuscation_seed(opts.response_id));
}

std::string event_data(const projections::stream_frame& event, const sse_options& opts,
                       std::uint64_t seed) {
  std::string data;
  data.reserve(event.data.size() + 48);
  append_data(data, event, opts, seed);
  return data;
}

std::string event_data(const projections::stream_frame& event, const sse_options& opts) {
  return event_data(event, opts, obfuscation_seed(opts.response_id));
}

std::string obfuscation_for(const std::string& response_id, std::int64_t seq,
                            std::size_t delta_size) {
  std::string out;
  put_obfuscation(out, obfuscation_seed(response_id), seq, delta_size);
  return out;
}

} // namespace riposte::http
