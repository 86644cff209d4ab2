// Must not compile, four times over: each typed actor refuses a message its
// interface does not list.
// expect: receiver does not accept given message
// expect-count: 4
#include "actors/messages.hpp"

namespace ra = riposte::actors;

// The pool takes a model's name, not a number.
void pool(ra::backend_pool_actor a) {
  caf::anon_send(a, ra::model_atom::value, 42);
}
// A response's events are answered as an events page, not as JSON.
void registry(ra::registry_actor a) {
  caf::anon_send(a, ra::events_atom::value, std::string{"resp_1"}, std::string{"t"},
                 ra::list_query{}, ra::reply_to{});
}
// A file is answered as its upload event, not as JSON.
void files(ra::files_actor a) {
  caf::anon_send(a, ra::file_get_atom::value, std::string{"file-1"}, std::string{"t"},
                 ra::reply_to{});
}
// A prompt's deletion is answered as a deleted_object.
void prompts(ra::prompts_actor a) {
  caf::anon_send(a, ra::prompt_delete_atom::value, std::string{"t"}, std::string{"pmpt_1"},
                 ra::reply_for<ra::prompt_versions>{});
}
