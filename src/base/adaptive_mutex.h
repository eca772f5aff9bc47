// A mutex that spins briefly before sleeping (glibc's adaptive mutex).
//
// For locks held for about a microsecond by a few event-loop threads, going
// to sleep in the kernel on every collision (a futex wait and a wake, plus a
// context switch) costs far more than the critical section; a short spin
// usually wins. Satisfies the Lockable requirements (std::lock_guard works).
#pragma once

#include <pthread.h>

#include "base/assert.h"

namespace shoal {

class AdaptiveMutex {
 public:
  AdaptiveMutex() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    SHOAL_ASSERT(pthread_mutex_init(&mu_, &attr) == 0);
    pthread_mutexattr_destroy(&attr);
  }
  ~AdaptiveMutex() { pthread_mutex_destroy(&mu_); }
  AdaptiveMutex(const AdaptiveMutex&) = delete;
  AdaptiveMutex& operator=(const AdaptiveMutex&) = delete;

  void lock() { SHOAL_ASSERT(pthread_mutex_lock(&mu_) == 0); }
  void unlock() { pthread_mutex_unlock(&mu_); }
  bool try_lock() { return pthread_mutex_trylock(&mu_) == 0; }

 private:
  pthread_mutex_t mu_;
};

}  // namespace shoal
