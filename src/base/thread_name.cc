#include "base/thread_name.h"

#include <pthread.h>

#include <string>

namespace shoal {

void set_thread_name(std::string_view name) {
  constexpr size_t kMaxBytes = 15;  // TASK_COMM_LEN - 1
  std::string cut(name.substr(0, kMaxBytes));
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace shoal
