#include "base/status.h"

namespace shoal {

std::string Status::to_string() const {
  const char* name = "OK";
  switch (code_) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      name = "InvalidArgument";
      break;
    case StatusCode::kNotFound:
      name = "NotFound";
      break;
    case StatusCode::kCorruption:
      name = "Corruption";
      break;
    case StatusCode::kIoError:
      name = "IoError";
      break;
    case StatusCode::kBusy:
      name = "Busy";
      break;
    case StatusCode::kUnavailable:
      name = "Unavailable";
      break;
    case StatusCode::kUnknownOutcome:
      name = "UnknownOutcome";
      break;
    case StatusCode::kInternal:
      name = "Internal";
      break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace shoal
