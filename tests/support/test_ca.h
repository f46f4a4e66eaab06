// TestCa: a throwaway certificate authority, made at test time with the
// openssl CLI in a directory of the test's, and the leaf certificates it
// signs. For tests of outbound TLS (push services, node documents): the node
// under test is told to trust the CA's certificate (SSL_CERT_FILE), so a
// leaf from it is trusted, a leaf from another TestCa is not, and a leaf for
// other names fails the host name check. P-256 keys, valid one day.
#pragma once

#include <string>

namespace gc::test {

class TestCa {
 public:
  // Makes `dir`/`name`-ca.pem (the certificate to trust) and its key.
  // Failures are gtest failures (ADD_FAILURE), and then cert() names a
  // missing file.
  TestCa(const std::string& dir, const std::string& name);

  struct Leaf {
    std::string cert, key;  // PEM files
  };
  // A server certificate signed by this CA for `san`, an openssl
  // subjectAltName list such as "DNS:localhost,IP:127.0.0.1"; its files are
  // named after `leaf_name` in the CA's directory.
  Leaf Issue(const std::string& leaf_name, const std::string& san) const;

  const std::string& cert() const { return cert_; }

 private:
  std::string dir_, name_, cert_, key_;
};

}  // namespace gc::test
