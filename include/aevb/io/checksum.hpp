// SHA-256 digests (OpenSSL EVP), as lowercase hex strings.
//
// Shards record the SHA-256 of their /data bytes and of their source files so a
// reader can prove it trains on exactly the bytes that were converted.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace aevb {

// Incremental hasher: the data layer hashes rows chunk by chunk while streaming,
// so it never needs a second full copy of a shard in memory.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  std::string hex_digest();  // finalizes; the object must not be updated afterwards

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256_hex(const void* data, size_t n);
// Throws input_error naming the path if it cannot be opened or read.
std::string sha256_file_hex(const std::string& path);

}  // namespace aevb
