// Sealed reasoning: AES-256-GCM round trips, and nothing else opens.
#include "adapters/crypto/sealer.hpp"

#include <boost/test/unit_test.hpp>

using riposte::adapters::crypto::sealer;
using json = nlohmann::json;

BOOST_AUTO_TEST_CASE(sealed_payloads_open_for_their_tenant_only) {
  sealer s{sealer::random_key()};
  json payload{{"text", "first I add, then I carry the one"}, {"model", "qwen3:0.6b"}};
  auto token = s.seal("alice", payload);
  auto opened = s.open("alice", token);
  BOOST_REQUIRE(opened.has_value());
  BOOST_TEST(*opened == payload);
  BOOST_TEST(s.seal("alice", payload) != token); // a fresh nonce every time
  BOOST_TEST(!s.open("bob", token).has_value());
  BOOST_TEST(!sealer{sealer::random_key()}.open("alice", token).has_value());
}

BOOST_AUTO_TEST_CASE(tampered_truncated_and_foreign_tokens_do_not_open) {
  sealer s{sealer::random_key()};
  auto token = s.seal("t", json{{"text", "secret"}});
  for (std::size_t i : {std::size_t{0}, std::size_t{5}, token.size() / 2, token.size() - 3}) {
    auto bent = token;
    bent[i] = bent[i] == 'A' ? 'B' : 'A';
    BOOST_TEST(!s.open("t", bent).has_value(), "flipped at " << i);
  }
  BOOST_TEST(!s.open("t", token.substr(0, token.size() - 4)).has_value());
  BOOST_TEST(!s.open("t", "").has_value());
  BOOST_TEST(!s.open("t", "opaque").has_value());
  BOOST_TEST(!s.open("t", "gAAAAABo-this-is-what-openai-sends==").has_value());
  auto err = s.open("t", "x");
  BOOST_TEST(err.error().message.find("could not be verified") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(keys_parse_from_hex_or_base64_and_nothing_else) {
  auto k = sealer::random_key();
  auto hex = sealer::to_hex(k);
  BOOST_TEST(hex.size() == 64u);
  auto back = sealer::parse_key("  " + hex + "\n");
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(*back == k);
  auto b64 = sealer::parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  BOOST_REQUIRE(b64.has_value());
  BOOST_TEST((*b64)[31] == 31);
  BOOST_TEST(!sealer::parse_key("short").has_value());
  BOOST_TEST(!sealer::parse_key(hex.substr(2)).has_value());
  BOOST_TEST(!sealer::parse_key(std::string(64, 'z')).has_value());
}
