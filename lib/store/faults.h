// Collecting faults for a VerifyReport: every check reports through one FaultSink, which
// keeps the first max_faults and counts the rest.
#pragma once

#include <string>
#include <utility>

#include "tessera/verify.h"

namespace tessera::detail {

class FaultSink {
 public:
  FaultSink(VerifyReport& report, size_t max_faults) : report_(report), max_(max_faults) {}
  void add(Fault fault) {
    if (report_.faults.size() < max_) report_.faults.push_back(std::move(fault));
    else ++report_.faults_omitted;
  }
  void add(std::string invariant, std::string message) {
    Fault fault;
    fault.invariant = std::move(invariant);
    fault.message = std::move(message);
    add(std::move(fault));
  }
  uint64_t count() const { return report_.faults.size() + report_.faults_omitted; }

 private:
  VerifyReport& report_;
  size_t max_;
};

}  // namespace tessera::detail
