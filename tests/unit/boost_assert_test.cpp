// The Boost assertion handler (node/common/boost_assert.cpp): the one known
// wrong assertion of Boost 1.74's HTTP parser is let through, every other
// failed assertion still ends the process.
#include <gtest/gtest.h>

namespace boost {
// Declared by <boost/assert.hpp> only in builds without NDEBUG; defined in
// gc_core for every build.
void assertion_failed(char const* expr, char const* function, char const* file, long line);
}  // namespace boost

namespace {

constexpr const char* kParser = "/usr/include/boost/beast/http/impl/basic_parser.ipp";

TEST(BoostAssert, LetsTheKnownWrongChunkAssertionThrough) {
  boost::assertion_failed("n >= 5", "parse_chunk_header", kParser, 688);
  SUCCEED();
}

TEST(BoostAssert, AbortsOnAnyOtherFailedAssertion) {
  EXPECT_DEATH(boost::assertion_failed("n >= 3", "parse_chunk_header", kParser, 699), "Assertion `n >= 3' failed");
  EXPECT_DEATH(boost::assertion_failed("n >= 5", "other", "/usr/include/boost/asio/impl/x.ipp", 1),
               "Assertion `n >= 5' failed");
}

}  // namespace
