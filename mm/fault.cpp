// The CPU's page-fault entry (Linux: arch/x86/mm/fault.c do_user_addr_fault): find the VMA,
// check the access against it, hand the fault to handle_mm_fault, turn failures into signals.
#include "mm/kernel.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;

namespace {
// Linux: access_error().
bool access_error(unsigned error_code, const vm_area_struct& vma) {
  if (error_code & X86_PF_WRITE) return !(vma.vm_flags & VM_WRITE);
  if (error_code & X86_PF_INSTR) return !(vma.vm_flags & VM_EXEC);
  if (error_code & X86_PF_PROT) return true;  // read of a present page: pkeys or PROT_NONE
  return !(vma.vm_flags & (VM_READ | VM_WRITE | VM_EXEC));
}
}  // namespace

fault_outcome kernel::do_user_addr_fault(unsigned cpu, task_struct& t, vaddr_t address,
                                         unsigned error_code) {
  const arch::cycles_t begin = now(cpu);
  fault_kind_ = fault_kind::spurious;
  const fault_outcome out = __do_user_addr_fault(cpu, t, address, error_code);
  if (out != fault_outcome::handled) fault_kind_ = fault_kind::signal;
  ++fault_kinds_[static_cast<unsigned>(fault_kind_)];
  if (tracer_) [[unlikely]] {
    const char* kind = out == fault_outcome::handled  ? fault_kind_name(fault_kind_)
                       : out == fault_outcome::sigsegv ? "SIGSEGV"
                       : out == fault_outcome::sigbus  ? "SIGBUS"
                                                       : "OOM";
    tracer_->emit({"page_fault_user", cpu, begin, now(cpu), address,
                   std::string(kind) + ((error_code & X86_PF_WRITE) ? " (write)" : " (read)")});
  }
  return out;
}

fault_outcome kernel::__do_user_addr_fault(unsigned cpu, task_struct& t, vaddr_t address,
                                           unsigned error_code) {
  led_.charge(cpu, arch::cost::trap, prof_.trap_entry_cycles + prof_.trap_exit_cycles);
  mm_struct& mm = *t.mm;
  auto it = mm.mmap.upper_bound(address);
  if (it == mm.mmap.begin()) return fault_outcome::sigsegv;
  vm_area_struct& vma = std::prev(it)->second;
  if (address >= vma.vm_end) return fault_outcome::sigsegv;  // bad_area
  if (access_error(error_code, vma)) return fault_outcome::sigsegv;  // bad_area_access_error
  unsigned flags = FAULT_FLAG_USER;
  if (error_code & X86_PF_WRITE) flags |= FAULT_FLAG_WRITE;
  if (error_code & X86_PF_INSTR) flags |= FAULT_FLAG_INSTRUCTION;
  const vm_fault_t r = handle_mm_fault(vma, mm, address, flags, cpu);
  if (r & VM_FAULT_OOM) return fault_outcome::oom;
  if (r & VM_FAULT_SIGBUS) return fault_outcome::sigbus;
  if (r & VM_FAULT_SIGSEGV) return fault_outcome::sigsegv;
  return fault_outcome::handled;
}

}  // namespace mmsim::mm
