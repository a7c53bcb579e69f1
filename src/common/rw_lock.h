// Readers-writer lock that prefers writers.
//
// std::shared_mutex on glibc prefers readers: with searches arriving back to back, an add or
// remove can wait indefinitely (we measured a 100-remove loop taking a minute behind three
// searching threads). glibc's writer-preferring rwlock kind makes a waiting writer block new
// readers, so a write waits only for the searches already running. It meets the
// SharedMutex requirements, so std::shared_lock / std::unique_lock work with it.
#pragma once

#include <pthread.h>

namespace vecperf::internal {

class RwLock {
 public:
  RwLock() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~RwLock() { pthread_rwlock_destroy(&lock_); }
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  void lock() { pthread_rwlock_wrlock(&lock_); }
  bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

}  // namespace vecperf::internal
