// Status and Result<T>: errors as values (STYLE.md #3).
//
// A Status is OK or carries one of a small closed set of codes and a message.
// Both types are [[nodiscard]]: an ignored error is a compile warning. Nothing
// here throws; exceptions never cross a library boundary in Shoal.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/assert.h"

namespace shoal {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller's input is malformed
  kNotFound,
  kCorruption,      // stored or received bytes failed validation
  kIoError,         // the OS failed an operation
  kBusy,            // a bound was reached; retry later
  kUnavailable,     // not leader, no quorum, shutting down
  kUnknownOutcome,  // the operation may or may not have happened (H18)
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid_argument(std::string msg) { return {StatusCode::kInvalidArgument, msg}; }
  static Status not_found(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status io_error(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
  static Status busy(std::string msg) { return {StatusCode::kBusy, std::move(msg)}; }
  static Status unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status unknown_outcome(std::string msg) {
    return {StatusCode::kUnknownOutcome, std::move(msg)};
  }
  static Status internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Result<T> holds a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    SHOAL_ASSERT(!std::get<Status>(v_).is_ok());
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    SHOAL_ASSERT(is_ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    SHOAL_ASSERT(is_ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    SHOAL_ASSERT(is_ok());
    return std::get<T>(std::move(v_));
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace shoal
