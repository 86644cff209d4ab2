// AES-256-GCM through OpenSSL's EVP interface; base64 through EVP_Encode/DecodeBlock.
#include "adapters/crypto/sealer.hpp"

#include "adapters/crypto/base64.hpp"
#include "events/json_safe.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <memory>
#include <stdexcept>

namespace riposte::adapters::crypto {

namespace {

constexpr unsigned char format_version = 1;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

events::error_info unverifiable() {
  return events::make_error(events::riposte_errc::invalid_value,
                            "The encrypted content could not be verified.");
}

} // namespace

sealer::key sealer::random_key() {
  key k{};
  if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return k;
}

events::result<sealer::key> sealer::parse_key(const std::string& raw) {
  auto begin = raw.find_first_not_of(" \t\r\n");
  auto end = raw.find_last_not_of(" \t\r\n");
  auto text = begin == std::string::npos ? std::string{} : raw.substr(begin, end - begin + 1);
  key k{};
  if (text.size() == 64 && text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    for (std::size_t i = 0; i < 32; ++i)
      k[i] = static_cast<unsigned char>(std::stoi(text.substr(2 * i, 2), nullptr, 16));
    return k;
  }
  std::string bytes;
  if (base64_decode(text, bytes) && bytes.size() == 32) {
    std::copy(bytes.begin(), bytes.end(), k.begin());
    return k;
  }
  return events::make_error(events::riposte_errc::invalid_value,
                            "a reasoning key is 32 bytes: 64 hex digits or 44 base64 characters");
}

std::string sealer::to_hex(const key& k) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto b : k) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string sealer::seal(const std::string& tenant, const nlohmann::json& payload) const {
  auto plain = events::dump_json(payload);
  std::string out(1 + nonce_size + plain.size() + tag_size, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  p[0] = format_version;
  if (RAND_bytes(p + 1, nonce_size) != 1)
    throw std::runtime_error("RAND_bytes failed");
  cipher_ctx ctx{EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free};
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, nonce_size, nullptr) &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), p + 1) &&
            // The tenant is authenticated, not encrypted: another tenant's
            // token does not open.
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(tenant.data()),
                              static_cast<int>(tenant.size())) &&
            EVP_EncryptUpdate(ctx.get(), p + 1 + nonce_size, &len,
                              reinterpret_cast<const unsigned char*>(plain.data()),
                              static_cast<int>(plain.size())) &&
            EVP_EncryptFinal_ex(ctx.get(), p + 1 + nonce_size + len, &len) &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size,
                                p + 1 + nonce_size + plain.size());
  if (!ok)
    throw std::runtime_error("AES-256-GCM sealing failed");
  return base64_encode(out);
}

events::result<nlohmann::json> sealer::open(const std::string& tenant,
                                            const std::string& token) const {
  std::string raw;
  if (!base64_decode(token, raw) || raw.size() < 1 + nonce_size + tag_size ||
      static_cast<unsigned char>(raw[0]) != format_version)
    return unverifiable();
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  auto cipher_len = raw.size() - 1 - nonce_size - tag_size;
  std::string plain(cipher_len, '\0');
  unsigned char tag[tag_size];
  std::copy(p + 1 + nonce_size + cipher_len, p + raw.size(), tag);
  cipher_ctx ctx{EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free};
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, nonce_size, nullptr) &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), p + 1) &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(tenant.data()),
                              static_cast<int>(tenant.size())) &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                              p + 1 + nonce_size, static_cast<int>(cipher_len)) &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size, tag) &&
            EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len,
                                &len) == 1;
  if (!ok)
    return unverifiable();
  auto payload = events::parse_stored(plain);
  if (payload.is_discarded())
    return unverifiable();
  return payload;
}

} // namespace riposte::adapters::crypto
