// Shadow set: runs the non-driving schemes on the driver's event stream and scores every
// scheme's answer at each decision site against the caller's ground truth (M160, M161). It
// owns no truth of its own: what "shared" means at a site (e.g. M161's same-MM file double
// mapping) is the caller's business, so a scheme is never scored against another scheme.
#include "mm/mapcount/shadow.hpp"

#include <algorithm>
#include <stdexcept>

#include "mm/mapcount/registry.hpp"

namespace mmsim::mm::mapcount {

const char* site_name(decision_site s) {
  switch (s) {
    case decision_site::khugepaged_shared_pte: return "khugepaged_shared_pte";
    case decision_site::cow_reuse: return "cow_reuse";
    case decision_site::folio_mapped_shared: return "folio_mapped_shared";
  }
  return "?";
}

std::string shadow_set::unknown_names(std::span<const std::string> names) {
  std::string bad;
  for (auto& n : names)
    if (n != "all" && !find_scheme(n)) bad += (bad.empty() ? "" : ", ") + n;
  if (bad.empty()) return {};
  return "unknown mapcount scheme(s): " + bad + "; known: " + scheme_names_joined() + ", all";
}

shadow_set::shadow_set(const precise_counts& truth, std::span<const std::string> names,
                       const scheme* driver)
    : driver_(driver), driver_scores_(nr_decision_sites) {
  if (auto err = unknown_names(names); !err.empty()) throw std::invalid_argument(err);
  const bool all = std::find(names.begin(), names.end(), "all") != names.end();
  // Registry order, whatever order the names came in, so runs are reproducible.
  for (auto& row : schemes()) {
    const bool wanted = all || std::find(names.begin(), names.end(), row.name) != names.end();
    if (!wanted || (driver_ && std::string_view(row.name) == driver_->name())) continue;
    shadows_.push_back(row.make(truth));
    scores_.emplace_back(nr_decision_sites);
  }
}

shadow_set::~shadow_set() = default;

void shadow_set::add(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
                     std::uint32_t mm) {
  for (auto& s : shadows_) s->add(f, first, n, lvl, mm);
}
void shadow_set::remove(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
                        std::uint32_t mm) {
  for (auto& s : shadows_) s->remove(f, first, n, lvl, mm);
}
void shadow_set::dup(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
                     std::uint32_t child) {
  for (auto& s : shadows_) s->dup(f, first, n, lvl, child);
}
void shadow_set::folio_freed(const folio_key& f) {
  for (auto& s : shadows_) s->folio_freed(f);
}
void shadow_set::folio_split(const folio_key& f, unsigned new_order) {
  for (auto& s : shadows_) s->folio_split(f, new_order);
}

void shadow_set::score_one(const scheme& s, std::vector<score>& sc, decision_site site,
                           const folio_key& f, unsigned idx, bool truth, long refcount) {
  bool answer = false;
  switch (site) {
    case decision_site::khugepaged_shared_pte: answer = s.page_shared_for_collapse(f, idx); break;
    case decision_site::cow_reuse: answer = s.can_reuse_large_anon_folio(f, refcount); break;
    case decision_site::folio_mapped_shared: answer = s.folio_maybe_mapped_shared(f); break;
  }
  score& c = sc[static_cast<unsigned>(site)];
  ++c.asked;
  if (answer == truth) ++c.agree;
  else if (answer) ++c.false_positive;
  else ++c.false_negative;
}

void shadow_set::record(decision_site site, const folio_key& f, unsigned idx, bool truth,
                        long refcount) {
  if (driver_) score_one(*driver_, driver_scores_, site, f, idx, truth, refcount);
  for (std::size_t i = 0; i < shadows_.size(); ++i)
    score_one(*shadows_[i], scores_[i], site, f, idx, truth, refcount);
}

std::vector<shadow_row> shadow_set::report() const {
  std::vector<shadow_row> rows;
  auto emit = [&rows](const scheme& s, const std::vector<score>& sc) {
    for (unsigned i = 0; i < nr_decision_sites; ++i) {
      const score& c = sc[i];
      rows.push_back({s.name(), site_name(static_cast<decision_site>(i)), c.asked, c.agree,
                      c.false_positive, c.false_negative});
    }
  };
  if (driver_) emit(*driver_, driver_scores_);
  for (std::size_t i = 0; i < shadows_.size(); ++i) emit(*shadows_[i], scores_[i]);
  std::sort(rows.begin(), rows.end(), [](const shadow_row& a, const shadow_row& b) {
    return a.scheme != b.scheme ? a.scheme < b.scheme : a.site < b.site;
  });
  return rows;
}

}  // namespace mmsim::mm::mapcount
