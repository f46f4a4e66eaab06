#include "tests/support/test_ca.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>

namespace gc::test {

namespace {

// Runs an openssl command line (its output into `log`); false on failure.
bool RunOpenssl(const std::string& args, const std::string& log) {
  std::string cmd = "openssl " + args + " >" + log + " 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::string ReadLog(const std::string& log) {
  std::ifstream in(log);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TestCa::TestCa(const std::string& dir, const std::string& name)
    : dir_(dir), name_(name), cert_(dir + "/" + name + "-ca.pem"), key_(dir + "/" + name + "-ca.key") {
  std::string log = dir_ + "/" + name_ + "-ca.log";
  bool ok = RunOpenssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=" + name_ +
                           "-test-ca -addext basicConstraints=critical,CA:TRUE "
                           "-addext keyUsage=critical,keyCertSign,cRLSign -keyout " + key_ + " -out " + cert_,
                       log);
  if (!ok) ADD_FAILURE() << "openssl could not make the test CA " << name_ << ": " << ReadLog(log);
}

TestCa::Leaf TestCa::Issue(const std::string& leaf_name, const std::string& san) const {
  std::string base = dir_ + "/" + leaf_name;
  Leaf leaf{base + ".pem", base + ".key"};
  std::string ext = base + ".ext", csr = base + ".csr", log = base + ".log";
  std::ofstream(ext) << "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=serverAuth\nsubjectAltName=" << san << "\n";
  bool ok = RunOpenssl("req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" + leaf_name +
                           " -keyout " + leaf.key + " -out " + csr, log) &&
            RunOpenssl("x509 -req -in " + csr + " -CA " + cert_ + " -CAkey " + key_ +
                           " -set_serial " + std::to_string(std::hash<std::string>{}(leaf_name) & 0x7fffffff) +
                           " -days 1 -extfile " + ext + " -out " + leaf.cert, log);
  if (!ok) ADD_FAILURE() << "openssl could not issue " << leaf_name << ": " << ReadLog(log);
  return leaf;
}

}  // namespace gc::test
