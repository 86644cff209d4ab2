// Must compile: one message from each typed actor's interface.
#include "actors/messages.hpp"

namespace ra = riposte::actors;

void probe(ra::backend_pool_actor pool, ra::registry_actor registry, ra::files_actor files,
           ra::prompts_actor prompts) {
  caf::anon_send(pool, ra::cancel_atom::value, std::uint64_t{7});
  caf::anon_send(registry, ra::passivate_atom::value, std::string{"resp_1"}, std::uint64_t{3});
  caf::anon_send(files, ra::file_uploaded_atom::value, std::string{"tenant"});
  caf::anon_send(prompts, ra::prompt_versions_atom::value, std::string{"tenant"},
                 std::string{"pmpt_1"}, ra::reply_for<ra::prompt_versions>{});
}
