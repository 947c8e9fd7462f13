// Kernel construction: the memory map, the buddy allocator over all frames but the zero page,
// the mapcount scheme, and init (pid 1) with an empty address space.
#include "mm/kernel.hpp"

#include "mm/mapcount/registry.hpp"

namespace mmsim::mm {

kernel::kernel(const kernel_knobs& knobs, arch::machine& hw)
    : knobs_(knobs),
      hw_(hw),
      mem_(hw.mem),
      led_(hw.led),
      prof_(hw.profile),
      map_(hw.mem.nr_frames()),
      buddy_(1, hw.mem.nr_frames()) {
  // Frame 0 is the shared zero page: reserved, never allocated, content token 0.
  zero_pfn_ = 0;
  map_[zero_pfn_].set(PG_reserved);
  mem_.word(zero_pfn_) = 0;
  vmstat_.mod_node_page_state(NR_FREE_PAGES, static_cast<std::int64_t>(buddy_.nr_free_pages()));
  const mapcount::scheme_info* s = mapcount::find_scheme(knobs_.mapcount);
  MM_BUG_ON(!s, "mapcount scheme not in the registry: " + knobs_.mapcount);
  scheme_ = s->make(*this);
  if (!knobs_.shadow.empty()) {
    std::vector<std::string> names;
    for (std::size_t p = 0; p <= knobs_.shadow.size();) {
      const auto q = knobs_.shadow.find(',', p);
      names.push_back(knobs_.shadow.substr(p, q == std::string::npos ? std::string::npos : q - p));
      if (q == std::string::npos) break;
      p = q + 1;
    }
    shadows_ = std::make_unique<mapcount::shadow_set>(*this, names, scheme_.get());
  }
  mm_struct* init_mm = mm_alloc(0);
  MM_BUG_ON(!init_mm, "no memory for init's page tables");
  init_mm->users = 1;
  tasks_.emplace(1, task_struct{1, init_mm, 0});
}

kernel::~kernel() = default;

kernel::leaf_info kernel::follow_page(const mm_struct& mm, vaddr_t addr) const {
  using namespace arch::x86_64;
  leaf_info r;
  pfn_t table = mm.pgd;
  for (auto l = static_cast<int>(top_level()); l >= 0; --l) {
    const auto level = static_cast<arch::pt_level>(l);
    const pteval_t e = mem_.table(table)[pt_index(addr, level)];
    r.level = level;
    if (!pte_present(e)) return r;
    if (level == arch::pt_level::pte || (e & _PAGE_PSE)) {
      r.present = true;
      r.entry = e;
      r.pfn = pte_pfn(e) + ((addr >> arch::PAGE_SHIFT) & ((1ull << (arch::level_shift(level) - arch::PAGE_SHIFT)) - 1));
      return r;
    }
    table = pte_pfn(e);
  }
  return r;
}

std::size_t kernel::host_bytes() const {
  std::size_t b = map_.host_bytes() + buddy_.host_bytes() + mem_.host_bytes();
  for (auto& [id, mm] : mms_) b += sizeof(mm_struct) + mm->mmap.size() * (sizeof(vm_area_struct) + 48);
  return b;
}

}  // namespace mmsim::mm
