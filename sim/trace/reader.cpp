// Reads a format-v1 trace into ops.hpp's structs. Only what the simulator can run today is
// accepted; features the format names but the simulator does not model yet are errors that say
// "not supported yet", because silently replaying a trace without its uffd or THP ops would
// report results for a different workload.
#include "sim/trace/reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "mm/errno.hpp"
#include "mm/knobs.hpp"
#include "mm/vmstat.hpp"

namespace mmsim::sim::trace {

using namespace detail;

namespace {

constexpr std::uint64_t MiB = 1ull << 20, TiB = 1ull << 40;
constexpr std::uint64_t PID_MAX_LIMIT = 4u << 20;  // Linux's ceiling for pid_max on 64-bit
constexpr unsigned MAX_CPUS = 64;

// ---- machine ------------------------------------------------------------------------------

// arm64 VA sizes each granule's translation regime can express (LPA2 gives 52 on 4K/16K).
std::vector<unsigned> valid_va_bits(const machine_config& m) {
  if (m.arch == "x86_64") return {48, 57};  // 4-level, 5-level paging
  if (m.granule == "16K") return {47, 48, 52};
  if (m.granule == "64K") return {42, 48, 52};
  return {39, 48, 52};
}

machine_config read_machine(const json& v) {
  const object_fields f(v, "machine",
                        {"arch", "va_bits", "granule", "cpus", "memory", "cpu_model"});
  machine_config m;
  if (const json* a = f.find("arch")) {
    m.arch = string_value(*a, f.at("arch"));
    if (!one_of(m.arch, {"x86_64", "arm64"}))
      fail(f.at("arch"), "unknown arch '" + m.arch + "' (expected x86_64 or arm64)");
  }
  const bool arm64 = m.arch == "arm64";
  if (const json* g = f.find("granule")) {
    if (!arm64) fail(f.at("granule"), "only arm64 has a granule (x86_64 base pages are 4K)");
    m.granule = string_value(*g, f.at("granule"));
    if (!one_of(m.granule, {"4K", "16K", "64K"}))
      fail(f.at("granule"), "unknown granule '" + m.granule + "' (expected 4K, 16K or 64K)");
  }
  if (const json* b = f.find("va_bits")) {
    m.va_bits = static_cast<unsigned>(uint_value(*b, f.at("va_bits"), 0, 64));
    const auto allowed = valid_va_bits(m);
    if (std::find(allowed.begin(), allowed.end(), m.va_bits) == allowed.end())
      fail(f.at("va_bits"), std::to_string(m.va_bits) + " is not valid for " + m.arch +
                                (arm64 ? " with a " + m.granule + " granule" : "") + " (expected " +
                                join_list(allowed) + ")");
  }
  if (const json* c = f.find("cpus"))
    m.cpus = static_cast<unsigned>(uint_value(*c, f.at("cpus"), 1, MAX_CPUS));
  if (const json* mem = f.find("memory")) {
    m.memory = size_value(*mem, f.at("memory"));
    if (m.memory % 4096 || m.memory < 16 * MiB || m.memory > TiB)
      fail(f.at("memory"), describe(*mem) + " must be a multiple of 4K from 16M to 1T");
  }
  if (const json* p = f.find("cpu_model")) m.cpu_model = string_value(*p, f.at("cpu_model"));
  // Validated in full first, so an arm64 trace that is wrong in other ways says so today.
  if (arm64) fail(f.at("arch"), "arm64 is not supported yet");
  return m;
}

// ---- kernel -------------------------------------------------------------------------------

// Knobs the format promises whose mechanism is not modelled yet. Accepting them would let a
// trace believe it configured something the simulator ignores.
bool awaited_knob(std::string_view name) {
  return name.starts_with("hugepages-") ||
         one_of(name, {"mm/arm64_atomic_write_fault", "mm/hgm_collapse", "vm/overcommit_memory"});
}

std::vector<std::pair<std::string, std::string>> read_kernel(const json& v) {
  if (!v.is_object()) fail("kernel", describe(v) + " is not an object");
  std::vector<std::pair<std::string, std::string>> out;
  mm::kernel_knobs scratch = mm::default_knobs();
  for (const auto& item : v.items()) {
    const std::string& name = item.key();
    if (is_annotation(name)) continue;
    const std::string where = join_path("kernel", name);
    const json& val = item.value();
    // Linux's sysfs takes text; 1/0 and true/false are both natural in JSON.
    std::string text;
    if (val.is_string())
      text = val.get<std::string>();
    else if (val.is_boolean())
      text = val.get<bool>() ? "1" : "0";
    else if (val.is_number_unsigned())
      text = std::to_string(val.get<std::uint64_t>());
    else if (val.is_number_integer())
      text = std::to_string(val.get<std::int64_t>());
    else
      fail(where, describe(val) + " is not a string, integer or bool");
    if (!mm::find_knob(name) && awaited_knob(name)) fail(where, "not supported yet");
    if (std::string err = mm::set_knob(scratch, name, text); !err.empty()) {
      // The place already names the knob; keep only what is wrong with the value.
      const std::string redundant = "knob '" + name + "': ";
      fail(where, err.starts_with(redundant) ? err.substr(redundant.size()) : err);
    }
    out.emplace_back(name, std::move(text));
  }
  return out;
}

// ---- ops ----------------------------------------------------------------------------------

// Replay state the reader must follow to reject what cannot mean anything: ops by processes
// that do not exist, a `since` naming a mark that has not happened.
struct op_state {
  const machine_config& machine;
  std::set<int> live;
  std::set<std::string> marks;
};

// Only what the simulated mmap implements; the rest of the format's flags wait for their issues.
unsigned read_mmap_flags(const json& v, const std::string& where) {
  const unsigned flags = mmap_flags_value(v, where);
  for (auto [bit, name] :
       {std::pair{MF_SHARED, "shared"}, {MF_HUGETLB, "hugetlb"}, {MF_NORESERVE, "noreserve"}})
    if (flags & bit)
      fail(where,
           std::string("'") + name + "' is not supported yet (only private anonymous mappings)");
  if (!(flags & MF_ANONYMOUS))
    fail(where, "file-backed mappings are not supported yet (add 'anonymous')");
  if (!(flags & MF_FIXED))
    fail(where, "only MAP_FIXED mappings are supported (add 'fixed': addresses are the trace's)");
  // Neither private nor shared is left to the simulated mmap: Linux answers EINVAL.
  return flags;
}

std::uint64_t read_addr(const object_fields& f) { return size_value(f.need("addr"), f.at("addr")); }
std::uint64_t read_len(const object_fields& f) { return size_value(f.need("len"), f.at("len")); }

// For ranges the reader itself walks (access, expect); syscalls leave this to the kernel,
// which answers a bad range with Linux's errno.
void check_range(const object_fields& f, std::uint64_t addr, std::uint64_t len) {
  if (len == 0) fail(f.at("len"), "must be > 0");
  if (addr + len < addr) fail(f.at("len"), "addr + len is beyond the 64-bit address space");
}

op_body read_mmap(const object_fields& f, op_state&) {
  mmap_op m;
  m.addr = read_addr(f);
  m.len = read_len(f);
  m.prot = prot_value(f.need("prot"), f.at("prot"));
  m.flags = read_mmap_flags(f.need("flags"), f.at("flags"));
  if (f.has("hugetlb_size")) fail(f.at("hugetlb_size"), "hugetlb mappings are not supported yet");
  if (f.has("memfd")) fail(f.at("memfd"), "memfd-backed mappings are not supported yet");
  return m;
}

op_body read_munmap(const object_fields& f, op_state&) {
  return munmap_op{read_addr(f), read_len(f)};
}

op_body read_mprotect(const object_fields& f, op_state&) {
  mprotect_op m{read_addr(f), read_len(f)};
  m.prot = prot_value(f.need("prot"), f.at("prot"));
  return m;
}

op_body read_madvise(const object_fields& f, op_state&) {
  madvise_op m{read_addr(f), read_len(f)};
  const std::string where = f.at("advice");
  const std::string& advice = string_value(f.need("advice"), where);
  if (one_of(advice, {"free", "split"})) fail(where, "'" + advice + "' is not supported yet");
  m.advice = enum_value<madvise_advice>(f.need("advice"), where, "advice",
                                        {{"dontneed", madvise_advice::dontneed},
                                         {"populate_read", madvise_advice::populate_read},
                                         {"populate_write", madvise_advice::populate_write},
                                         {"hugepage", madvise_advice::hugepage},
                                         {"nohugepage", madvise_advice::nohugepage},
                                         {"collapse", madvise_advice::collapse},
                                         {"pageout", madvise_advice::pageout}});
  return m;
}

op_body read_access(const object_fields& f, op_state&) {
  access_op a;
  a.addr = read_addr(f);
  a.len = read_len(f);
  check_range(f, a.addr, a.len);
  if (const json* s = f.find("stride")) {
    a.stride = size_value(*s, f.at("stride"));
    if (a.stride == 0) fail(f.at("stride"), "must be > 0");
  }
  if (const json* k = f.find("kind"))
    a.kind = enum_value<access_kind>(*k, f.at("kind"), "kind",
                                     {{"read", access_kind::read},
                                      {"write", access_kind::write},
                                      {"atomic", access_kind::atomic},
                                      {"exec", access_kind::exec}});
  // 0 is the struct's "one pass over the range"; an explicit 0 would be a silent surprise.
  if (const json* c = f.find("count")) a.count = uint_value(*c, f.at("count"), 1);
  if (const json* p = f.find("pattern"))
    a.pattern = enum_value<access_pattern>(
        *p, f.at("pattern"), "pattern",
        {{"seq", access_pattern::seq}, {"random", access_pattern::random}});
  if (const json* r = f.find("repeat")) a.repeat = uint_value(*r, f.at("repeat"), 1);
  // No trace may make replay run for days: one op touches memory at most 2^36 times (about
  // ten minutes at the replay's TLB-hit rate).
  constexpr std::uint64_t MAX_TOUCHES = 1ull << 36;
  const std::uint64_t per_pass = a.count ? a.count : a.len / a.stride + (a.len % a.stride != 0);
  if (per_pass > MAX_TOUCHES || a.repeat > MAX_TOUCHES / per_pass)
    fail(f.at(f.has("repeat") ? "repeat" : (f.has("count") ? "count" : "len")),
         "more than 2^36 touches in one access op");
  return a;
}

int read_pid(const json& v, const std::string& where) {
  return static_cast<int>(uint_value(v, where, 1, PID_MAX_LIMIT));
}

op_body read_fork(const object_fields& f, op_state&) {
  return fork_op{read_pid(f.need("child"), f.at("child"))};
}

op_body read_exit(const object_fields&, op_state&) { return exit_op{}; }

// Runaway guards: no trace may make replay hang.
constexpr std::uint64_t MAX_KHUGEPAGED_SCANS = 1'000'000, MAX_KHUGEPAGED_PAGES = 1ull << 40;

op_body read_khugepaged(const object_fields& f, op_state&) {
  khugepaged_op k;
  const json* s = f.find("scans");
  const json* p = f.find("pages");
  if (!s == !p) fail(f.at("scans"), "give exactly one of 'scans' and 'pages'");
  if (s) k.scans = uint_value(*s, f.at("scans"), 1, MAX_KHUGEPAGED_SCANS);
  if (p) k.pages = uint_value(*p, f.at("pages"), 1, MAX_KHUGEPAGED_PAGES);
  return k;
}

op_body read_prctl(const object_fields& f, op_state&) {
  prctl_op p;
  p.option = enum_value<prctl_option>(f.need("option"), f.at("option"), "option",
                                      {{"thp_disable", prctl_option::thp_disable}});
  p.value = uint_value(f.need("value"), f.at("value"), 0, 1);
  return p;
}

op_body read_mark(const object_fields& f, op_state& st) {
  mark_op m{string_value(f.need("label"), f.at("label"))};
  if (m.label.empty()) fail(f.at("label"), "must not be empty");
  st.marks.insert(m.label);
  return m;
}

const std::vector<std::string_view> per_address_fields = {
    "mapped",   "thp",           "folio_order", "zero_page", "writable", "uffd_wp",
    "mapcount", "mapped_shared", "rss",         "pss",       "anon_huge"};

void read_expect_range(const object_fields& f, expect_op& e) {
  if (!f.has("addr")) {
    for (auto k : per_address_fields)
      if (f.has(k)) fail(f.at(k), "needs an addr (it is checked per page)");
    if (f.has("len")) fail(f.at("len"), "needs an addr");
    return;
  }
  if (std::ranges::none_of(per_address_fields, [&](auto k) { return f.has(k); }))
    fail(f.at("addr"), "nothing to check at this address (expected " +
                           join_list(per_address_fields, " and/or ") + ")");
  e.addr = read_addr(f);
  e.len = f.has("len") ? read_len(f) : arch::PAGE_SIZE;
  check_range(f, *e.addr, *e.len);
}

void read_expect_page_state(const object_fields& f, expect_op& e, const op_state& st) {
  if (const json* m = f.find("mapped")) {
    e.mapped = enum_value<mapped_level>(*m, f.at("mapped"), "mapping level",
                                        {{"none", mapped_level::none},
                                         {"pte", mapped_level::pte},
                                         {"contpte", mapped_level::contpte},
                                         {"pmd", mapped_level::pmd},
                                         {"cont-pmd", mapped_level::cont_pmd},
                                         {"pud", mapped_level::pud}});
    const bool cont = *e.mapped == mapped_level::contpte || *e.mapped == mapped_level::cont_pmd;
    if (cont && st.machine.arch != "arm64")
      fail(f.at("mapped"), describe(*m) + " exists only on arm64 (the contiguous bit)");
  }
  auto flag = [&](std::string_view key, std::optional<bool>& out) {
    if (const json* b = f.find(key)) out = bool_value(*b, f.at(key));
  };
  flag("thp", e.thp);
  flag("zero_page", e.zero_page);
  flag("writable", e.writable);
  flag("uffd_wp", e.uffd_wp);
  flag("mapped_shared", e.mapped_shared);
  if (const json* o = f.find("folio_order"))
    e.folio_order = static_cast<int>(uint_value(*o, f.at("folio_order"), 0, 63));
  if (const json* m = f.find("mapcount")) {
    const object_fields mc(*m, f.at("mapcount"), {"folio", "page", "entire"});
    if (const json* v = mc.find("folio")) e.mapcount_folio = int_value(*v, mc.at("folio"));
    if (const json* v = mc.find("page")) e.mapcount_page = int_value(*v, mc.at("page"));
    if (const json* v = mc.find("entire")) e.mapcount_entire = int_value(*v, mc.at("entire"));
  }
  auto bytes = [&](std::string_view key, std::optional<std::uint64_t>& out) {
    if (const json* s = f.find(key)) out = size_value(*s, f.at(key));
  };
  bytes("rss", e.rss);
  bytes("pss", e.pss);
  bytes("anon_huge", e.anon_huge);
}

void read_expect_global(const object_fields& f, expect_op& e, const op_state& st) {
  if (const json* vm = f.find("vmstat")) {
    const std::string where = f.at("vmstat");
    if (!vm->is_object()) fail(where, describe(*vm) + " is not an object");
    for (const auto& item : vm->items()) {
      if (is_annotation(item.key())) continue;
      const std::string at = join_path(where, item.key());
      if (!mm::vmstat_lookup(item.key())) fail(at, "unknown vmstat counter '" + item.key() + "'");
      e.vmstat.emplace_back(item.key(), int_value(item.value(), at));
    }
  }
  if (const json* s = f.find("since")) {
    const std::string& label = string_value(*s, f.at("since"));
    if (!st.marks.contains(label)) fail(f.at("since"), "no mark '" + label + "' before this op");
    if (e.vmstat.empty())
      fail(f.at("since"), "only vmstat counts from a mark, and this expect has no vmstat");
    e.since = label;
  }
  constexpr auto max = static_cast<std::uint64_t>(INT64_MAX);
  if (const json* v = f.find("free_hugepages"))
    e.free_hugepages = static_cast<std::int64_t>(uint_value(*v, f.at("free_hugepages"), 0, max));
  if (const json* v = f.find("nr_folios"))
    e.nr_folios = static_cast<std::int64_t>(uint_value(*v, f.at("nr_folios"), 0, max));
}

op_body read_expect(const object_fields& f, op_state& st) {
  expect_op e;
  read_expect_range(f, e);
  read_expect_page_state(f, e, st);
  read_expect_global(f, e, st);
  if (!e.addr && e.vmstat.empty() && !e.free_hugepages && !e.nr_folios)
    fail(f.where(), "expect checks nothing");
  return e;
}

struct op_spec {
  std::string_view name;
  std::vector<std::string_view> fields;  // besides "op"
  op_body (*read)(const object_fields&, op_state&);
};

const std::vector<op_spec>& op_specs() {
  static const std::vector<op_spec> specs = {
      {"mmap",
       {"pid", "cpu", "expect_errno", "addr", "len", "prot", "flags", "hugetlb_size", "memfd"},
       read_mmap},
      {"munmap", {"pid", "cpu", "expect_errno", "addr", "len"}, read_munmap},
      {"mprotect", {"pid", "cpu", "expect_errno", "addr", "len", "prot"}, read_mprotect},
      {"madvise", {"pid", "cpu", "expect_errno", "addr", "len", "advice"}, read_madvise},
      {"access",
       {"pid", "cpu", "expect_signal", "addr", "len", "stride", "kind", "count", "pattern",
        "repeat"},
       read_access},
      {"fork", {"pid", "cpu", "expect_errno", "child"}, read_fork},
      {"exit", {"pid", "cpu"}, read_exit},
      {"expect",
       {"pid", "addr", "len", "mapped", "thp", "folio_order", "zero_page", "writable", "uffd_wp",
        "mapcount", "mapped_shared", "rss", "pss", "anon_huge", "vmstat", "since", "free_hugepages",
        "nr_folios"},
       read_expect},
      {"mark", {"label"}, read_mark},
      {"khugepaged", {"cpu", "scans", "pages"}, read_khugepaged},
      {"prctl", {"pid", "cpu", "expect_errno", "option", "value"}, read_prctl},
  };
  return specs;
}

// Ops of the format that the simulator does not model yet.
bool awaited_op(std::string_view name) {
  return one_of(
      name, {"memfd_create", "mremap", "uffd_open", "uffd_register", "uffdio_copy",
             "uffdio_zeropage", "uffdio_continue", "uffdio_writeprotect", "uffdio_poison"});
}

const op_spec& find_op_spec(const json& v, const std::string& where) {
  const auto it = v.find("op");
  if (it == v.end()) fail(where, "missing field 'op'");
  const std::string& name = string_value(*it, where + ".op");
  for (const op_spec& s : op_specs())
    if (s.name == name) return s;
  if (awaited_op(name)) fail(where + ".op", "'" + name + "' is not supported yet");
  std::vector<std::string_view> known;
  for (const op_spec& s : op_specs()) known.push_back(s.name);
  fail(where + ".op", "unknown op '" + name + "' (expected " + join_list(known) + ")");
}

// expect_errno and expect_signal are only checked where replay can observe them; elsewhere
// they would be silently ignored, so they get a message better than "unknown field".
void check_outcome_fields(const json& v, const op_spec& spec, const std::string& where) {
  auto allows = [&](std::string_view k) {
    return std::ranges::find(spec.fields, k) != spec.fields.end();
  };
  if (v.contains("expect_errno") && !allows("expect_errno"))
    fail(where + ".expect_errno", "op '" + std::string(spec.name) + "' cannot fail with an errno");
  if (v.contains("expect_signal") && !allows("expect_signal"))
    fail(where + ".expect_signal", "only an access can raise a signal");
}

op read_op(const json& v, std::size_t index, op_state& st) {
  const std::string where = "ops[" + std::to_string(index) + "]";
  if (!v.is_object()) fail(where, describe(v) + " is not an object");
  const op_spec& spec = find_op_spec(v, where);
  check_outcome_fields(v, spec, where);
  std::vector<std::string_view> known{"op"};
  known.insert(known.end(), spec.fields.begin(), spec.fields.end());
  const object_fields f(v, where, std::move(known), "op '" + std::string(spec.name) + "'");

  op o;
  o.index = index;
  if (const json* p = f.find("pid")) o.pid = read_pid(*p, f.at("pid"));
  if (const json* c = f.find("cpu")) {
    o.cpu = static_cast<unsigned>(uint_value(*c, f.at("cpu")));
    if (*o.cpu >= st.machine.cpus)
      fail(f.at("cpu"), std::to_string(*o.cpu) + " is out of range (machine.cpus is " +
                            std::to_string(st.machine.cpus) + ")");
  }
  if (const json* e = f.find("expect_errno")) {
    const std::string& name = string_value(*e, f.at("expect_errno"));
    o.expect_errno = mm::errno_from_name(name);
    if (!o.expect_errno) fail(f.at("expect_errno"), "unknown errno '" + name + "'");
  }
  if (const json* s = f.find("expect_signal")) {
    const std::string& name = string_value(*s, f.at("expect_signal"));
    o.expect_signal = mm::signal_from_name(name);
    if (!o.expect_signal)
      fail(f.at("expect_signal"), "unknown signal '" + name + "' (expected SIGSEGV or SIGBUS)");
  }
  o.body = spec.read(f, st);

  // A mark or a global expect (vmstat, nr_folios) concerns no process unless it names one.
  const auto* e = std::get_if<expect_op>(&o.body);
  const bool needs_process = !std::holds_alternative<mark_op>(o.body) &&
                             !std::holds_alternative<khugepaged_op>(o.body) && !(e && !e->addr);
  if ((needs_process || f.has("pid")) && !st.live.contains(o.pid))
    fail(f.at("pid"), "no process " + std::to_string(o.pid) + " at this point");
  if (const auto* fk = std::get_if<fork_op>(&o.body)) {
    if (!st.live.insert(fk->child).second)
      fail(f.at("child"), "pid " + std::to_string(fk->child) + " already exists");
  } else if (std::holds_alternative<exit_op>(o.body)) {
    st.live.erase(o.pid);
  }
  return o;
}

std::vector<op> read_ops(const json& v, const machine_config& machine) {
  if (!v.is_array()) fail("ops", describe(v) + " is not an array");
  op_state st{machine, {1}, {}};  // pid 1 exists at start
  std::vector<op> ops;
  ops.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) ops.push_back(read_op(v[i], i, st));
  return ops;
}

trace read_document(const json& doc) {
  if (!doc.is_object()) fail("", "the top level is " + describe(doc) + ", not an object");
  // format and version come before the key check: for a version-2 trace, "version 2" is the
  // useful message, not a complaint about a field version 2 added.
  const auto fmt = doc.find("format");
  if (fmt == doc.end()) fail("format", "missing (expected \"mmsim-trace\")");
  if (!fmt->is_string() || *fmt != "mmsim-trace")
    fail("format", describe(*fmt) + " is not \"mmsim-trace\"");
  const auto ver = doc.find("version");
  if (ver == doc.end()) fail("version", "missing (this build reads version 1)");
  if (!ver->is_number_unsigned() || ver->get<std::uint64_t>() != 1)
    fail("version", describe(*ver) + " is not supported (this build reads version 1)");

  const object_fields f(
      doc, "", {"format", "version", "name", "description", "seed", "machine", "kernel", "ops"});
  trace t;
  if (const json* n = f.find("name")) t.name = string_value(*n, "name");
  if (const json* d = f.find("description")) t.description = string_value(*d, "description");
  if (const json* s = f.find("seed")) t.seed = uint_value(*s, "seed");
  if (const json* m = f.find("machine")) t.machine = read_machine(*m);
  if (const json* k = f.find("kernel")) t.kernel = read_kernel(*k);
  t.ops = read_ops(f.need("ops"), t.machine);
  return t;
}

}  // namespace

trace parse_trace(std::string_view json_text, const std::string& origin) {
  try {
    return read_document(parse_json_text(json_text));
  } catch (const trace_error& e) {
    throw trace_error(origin + ": " + e.what());
  } catch (const nlohmann::json::exception& e) {
    // Every access above is type-checked first; reaching this is a reader bug, but the user
    // still deserves the file name rather than a bare library message.
    throw trace_error(origin + ": " + e.what());
  }
}

trace read_trace_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw trace_error(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw trace_error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw trace_error(path + ": cannot read: " + std::strerror(errno));
  return parse_trace(text.str(), path);
}

}  // namespace mmsim::sim::trace
