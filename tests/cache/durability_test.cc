// Durability: a child process writes with kSyncEachWrite and reports each acknowledged put
// through a pipe; it is SIGKILLed mid-stream. After reopening, every acknowledged entry must be
// present and intact, and no entry may be corrupt.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "cache/cache_test_util.h"
#include "vecperf/cache.h"

namespace vecperf {
namespace {

using testing::disk_options;
using testing::TempDir;
using testing::vector_for;

constexpr int kMaxWrites = 100000;
constexpr int kKillAfterAcks = 300;

std::string text_of(int i) { return "durable-" + std::to_string(i); }

CacheOptions durable_options(const std::string& dir) {
  CacheOptions o = disk_options(dir, 32);
  o.durability = CacheDurability::kSyncEachWrite;
  return o;
}

// The writer process: puts entries one by one and reports each acknowledged index on the fd.
TEST(DurabilityHelper, Writer) {
  std::string dir;
  int fd = -1;
  if (!testing::is_helper("durability-writer", &dir, &fd)) {
    GTEST_SKIP() << "helper process of AcknowledgedSyncWritesSurviveSigkill";
  }
  auto c = EmbeddingCache::open(durable_options(dir));
  if (!c.ok()) ::_exit(3);
  for (int32_t i = 0; i < kMaxWrites; ++i) {
    const std::string t = text_of(i);
    if (!(*c)->put(t, vector_for(t, 32)).ok()) ::_exit(4);
    if (::write(fd, &i, sizeof(i)) != sizeof(i)) ::_exit(5);
  }
  ::_exit(0);
}

TEST(DurabilityTest, AcknowledgedSyncWritesSurviveSigkill) {
  TempDir dir;
  const CacheOptions o = durable_options(dir.path());
  int acks[2];
  ASSERT_EQ(::pipe(acks), 0);
  const pid_t child =
      testing::spawn_helper("DurabilityHelper.Writer", "durability-writer", dir.path(), acks[1]);
  ASSERT_GT(child, 0);
  ::close(acks[1]);
  int32_t last = -1, value = 0;
  while (last + 1 < kKillAfterAcks && ::read(acks[0], &value, sizeof(value)) == sizeof(value)) {
    ASSERT_EQ(value, last + 1);
    last = value;
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  // Acks written before the kill but not read yet are acknowledged writes too.
  while (::read(acks[0], &value, sizeof(value)) == sizeof(value)) last = value;
  ::close(acks[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
  ASSERT_GE(last, kKillAfterAcks - 1);

  auto c = std::move(EmbeddingCache::open(o)).value();
  for (int i = 0; i <= last; ++i) {
    const std::string t = text_of(i);
    auto got = c->get(t);
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(got->has_value()) << "acknowledged write " << i << " of " << last << " lost";
    ASSERT_EQ(**got, vector_for(t, 32)) << i;
  }
  // The put in flight at the kill may or may not have landed; if it did it is intact.
  auto next = c->get(text_of(last + 1));
  ASSERT_TRUE(next.ok());
  if (next->has_value()) {
    EXPECT_EQ(**next, vector_for(text_of(last + 1), 32));
  }
  EXPECT_EQ(c->stats().corrupt_records, 0u);
}

}  // namespace
}  // namespace vecperf
