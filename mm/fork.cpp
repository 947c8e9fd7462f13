// Process lifetime (Linux: kernel/fork.c kernel_clone/copy_mm, kernel/exit.c do_exit) and the
// context switch that loads an mm on a CPU (switch_mm_irqs_off).
#include "mm/kernel.hpp"

namespace mmsim::mm {

long kernel::kernel_clone(int parent_pid, int child_pid, unsigned cpu) {
  led_.charge(cpu, arch::cost::syscall, prof_.syscall_cycles);
  task_struct& parent = tasks_.at(parent_pid);
  mm_struct* mm = mm_alloc(cpu);
  if (!mm) return -E_NOMEM;
  mm->users = 1;
  if (long err = dup_mmap(*mm, *parent.mm, cpu); err < 0) {
    mmput(mm, cpu);
    return err;
  }
  // Linux: khugepaged_fork(): the child is scanned if the parent was.
  if (parent.mm->on_khugepaged_list && !mm->on_khugepaged_list) {
    mm->on_khugepaged_list = true;
    khugepaged_mm_list_.push_back(mm->mm_id);
  }
  task_struct child{child_pid, mm, static_cast<unsigned>(child_pid - 1) % hw_.nr_cpus()};
  tasks_.emplace(child_pid, child);
  return 0;
}

void kernel::do_exit(int pid, unsigned cpu) {
  task_struct& t = tasks_.at(pid);
  const std::uint16_t pcid = t.mm->pcid();
  const bool last = t.mm->users == 1;
  mmput(t.mm, cpu);
  if (last)
    for (auto& m : hw_.cpus)
      if (m.pcid() == pcid) m.load_cr3(0, 0);  // no CPU keeps running the dead mm
  tasks_.erase(pid);
}

void kernel::switch_mm(unsigned cpu, task_struct& t) {
  auto& m = hw_.cpus[cpu];
  if (m.pcid() != t.mm->pcid() || m.root() != t.mm->pgd) m.load_cr3(t.mm->pgd, t.mm->pcid());
  t.mm->cpumask |= 1ull << cpu;
}

}  // namespace mmsim::mm
