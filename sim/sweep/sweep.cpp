// Running a sweep: validate everything, keep what an earlier run finished, run the rest in a
// pool of threads, and write each row as soon as it exists. Points share nothing (each builds
// its own trace, machine and kernel), so the thread count changes only the speed; rows are
// appended in completion order for durability and the files are rewritten in point order at
// the end, which is the only order a reader ever sees from a finished run.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "sim/replay.hpp"
#include "sim/report/report.hpp"
#include "sim/sweep/detail.hpp"
#include "sim/trace/reader.hpp"
#include "sim/version.hpp"

namespace mmsim::sim::sweep {

namespace {

point_result run_point(const spec& s, std::uint64_t p) {
  point_result r{p, {}, {}};
  try {
    const trace::trace t = resolve_point(s, p);
    replayer rp(t, replay_options{});
    const replay_result res = rp.run();
    if (!res.violations.empty()) {
      const op_event& v = res.violations.front();
      r.error = "simulator bug at ops[" + std::to_string(v.op) + "]: " + v.what + ": " + v.detail;
      return r;
    }
    const json report = report::to_json(rp, res);
    for (const std::string& m : s.metrics) {
      std::string why;
      const json* v = find_metric(report, m, why);
      if (!v) {  // e.g. a mark this run never reached because replay stopped early
        r.error = "metric " + m + ": " + why;
        return r;
      }
      r.metrics.push_back(*v);
    }
  } catch (const std::exception& e) {
    r.error = e.what();
  } catch (...) {
    r.error = "unknown exception";
  }
  return r;
}

std::string clock_text(double seconds) {
  const auto t = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

// Progress for people only: wall-clock time appears here and never in a row.
class progress {
 public:
  progress(progress_mode mode, std::ostream& log, std::uint64_t total)
      : mode_(mode), log_(log), total_(total), start_(clock::now()), last_(start_) {}

  void point_done(const row& r, const std::string& error) {
    ++done_;
    if (!r.ok && ++failed_ <= MAX_FAILURE_LINES) {
      clear_bar();
      log_ << "sweep: point " << r.point << " failed: " << error << "\n";
      if (failed_ == MAX_FAILURE_LINES) log_ << "sweep: further failures are only in the output\n";
    }
    const auto now = clock::now();
    const bool last = done_ == total_;
    if (mode_ == progress_mode::bar && (last || now - last_ >= std::chrono::milliseconds(100))) {
      draw_bar(now);
      last_ = now;
    } else if (mode_ == progress_mode::plain && (last || (crossed_5_percent() && now - last_ >= std::chrono::seconds(1)) ||
                                                 now - last_ >= std::chrono::seconds(30))) {
      log_ << "sweep: " << status(now) << "\n" << std::flush;
      last_ = now;
    }
  }
  void finish() {
    if (mode_ == progress_mode::bar && total_) log_ << "\n";
  }

 private:
  using clock = std::chrono::steady_clock;
  static constexpr std::uint64_t MAX_FAILURE_LINES = 10;

  // Plain lines go to logs (CI, Slurm): about one per 5% of the points, not one per point.
  bool crossed_5_percent() const { return done_ * 20 / total_ != (done_ - 1) * 20 / total_; }
  std::string status(clock::time_point now) const {
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    std::string s = std::to_string(done_) + "/" + std::to_string(total_) + " points (" +
                    std::to_string(done_ * 100 / total_) + "%)";
    if (failed_) s += ", " + std::to_string(failed_) + " failed";
    s += ", elapsed " + clock_text(elapsed);
    if (done_ < total_) s += ", ETA " + clock_text(elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_));
    return s;
  }
  void draw_bar(clock::time_point now) {
    constexpr std::uint64_t width = 30;
    const std::uint64_t filled = done_ * width / total_;
    log_ << "\r\033[K[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << status(now)
         << std::flush;
  }
  void clear_bar() {
    if (mode_ == progress_mode::bar) log_ << "\r\033[K";
  }

  progress_mode mode_;
  std::ostream& log_;
  std::uint64_t total_, done_ = 0, failed_ = 0;
  clock::time_point start_, last_;
};

// The output files while the sweep runs: rows are appended and flushed one by one, CSV first.
class output {
 public:
  output(const std::string& prefix, const std::string& header, const std::map<std::uint64_t, row>& kept)
      : prefix_(prefix), header_(header) {
    rewrite(kept);  // drops what an interrupted run left half-written
    csv_.open(csv_path(prefix), std::ios::binary | std::ios::app);
    jsonl_.open(jsonl_path(prefix), std::ios::binary | std::ios::app);
    if (!csv_ || !jsonl_) throw sweep_error(prefix + ": cannot open the output for appending");
  }
  void append(const row& r) {
    csv_ << r.csv << std::flush;
    jsonl_ << r.jsonl << std::flush;
    if (!csv_ || !jsonl_) throw sweep_error(prefix_ + ": cannot write the output");
  }
  void rewrite(const std::map<std::uint64_t, row>& rows) {
    std::string csv = header_, jsonl;
    for (auto& [p, r] : rows) {
      csv += r.csv;
      jsonl += r.jsonl;
    }
    if (csv_.is_open()) csv_.close(), jsonl_.close();
    write_file_atomic(csv_path(prefix_), csv);
    write_file_atomic(jsonl_path(prefix_), jsonl);
  }

 private:
  std::string prefix_, header_;
  std::ofstream csv_, jsonl_;
};

void check_fresh(const std::string& prefix) {
  std::error_code ec;
  for (const std::string& p : {csv_path(prefix), jsonl_path(prefix)})
    if (std::filesystem::exists(p, ec))
      throw sweep_error(p + ": exists (continue it with --resume, or remove it)");
}

}  // namespace

run_summary run_sweep(const spec& s, const run_options& opt, std::ostream& log) {
  validate_spec(s);
  if (opt.out_prefix.empty()) throw sweep_error("no output prefix");
  previous_rows prev;
  if (opt.resume || opt.retry_failed)
    prev = read_previous(s, opt.out_prefix, opt.sh);
  else
    check_fresh(opt.out_prefix);
  if (prev.dropped) log << "sweep: " << prev.dropped << " incomplete rows of an earlier run will run again\n";
  for (const std::string& v : prev.versions)
    if (v != MMSIM_VERSION) log << "sweep: warning: kept rows were written by mmsim " << v << ", this is " << MMSIM_VERSION << "\n";

  run_summary sum;
  std::map<std::uint64_t, row> rows;
  std::vector<std::uint64_t> todo;
  for (std::uint64_t p = opt.sh.index - 1; p < s.nr_points; p += opt.sh.count) {
    ++sum.points;
    auto it = prev.rows.find(p);
    if (it != prev.rows.end() && (it->second.ok || !opt.retry_failed)) {
      rows.emplace(p, std::move(it->second));
      ++sum.kept;
    } else {
      todo.push_back(p);
    }
  }

  output out(opt.out_prefix, csv_line(header_fields(s)), rows);
  progress prog(opt.progress, log, todo.size());
  std::mutex mu;
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;  // an output error stops every worker; the first is rethrown
  auto worker = [&] {
    for (std::size_t i; (i = next++) < todo.size();) {
      const point_result res = run_point(s, todo[i]);
      row r = render_row(s, res);
      const std::lock_guard lock(mu);
      if (failure) return;
      try {
        out.append(r);
      } catch (...) {
        failure = std::current_exception();
        next = todo.size();
        return;
      }
      prog.point_done(r, res.error);
      rows.emplace(r.point, std::move(r));
    }
  };
  const unsigned nr = static_cast<unsigned>(std::min<std::size_t>(std::max(opt.jobs, 1u), todo.size()));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < nr; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  prog.finish();
  if (failure) std::rethrow_exception(failure);
  out.rewrite(rows);
  sum.ran = todo.size();
  for (auto& [p, r] : rows) sum.failed += !r.ok;
  return sum;
}

int sweep_command(const cli_options& o) {
  try {
    const spec s = read_spec_file(o.spec_path);
    run_options opt;
    if (!o.shard.empty()) opt.sh = parse_shard(o.shard);
    std::string prefix = o.out;
    if (prefix.empty()) {  // beside the spec: runs/x.json -> runs/x.csv, runs/x.shard-2-of-8.csv
      prefix = std::filesystem::path(o.spec_path).replace_extension().string();
      if (opt.sh.count > 1) prefix += ".shard-" + std::to_string(opt.sh.index) + "-of-" + std::to_string(opt.sh.count);
    }
    opt.out_prefix = strip_output_suffix(prefix);
    opt.jobs = o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
    opt.resume = o.resume;
    opt.retry_failed = o.retry_failed;
    opt.progress = isatty(STDERR_FILENO) ? progress_mode::bar : progress_mode::plain;
    if (o.dry_run) {
      validate_spec(s);
      std::uint64_t mine = 0;
      for (std::uint64_t p = 0; p < s.nr_points; ++p) mine += in_shard(p, opt.sh);
      std::cout << o.spec_path << ": ok (" << s.nr_points << " points, " << mine << " in shard " << opt.sh.index
                << "/" << opt.sh.count << "; output " << csv_path(opt.out_prefix) << ")\n";
      return 0;
    }
    const run_summary sum = run_sweep(s, opt, std::cerr);
    std::cerr << "sweep: " << sum.points << " points" << (opt.sh.count > 1 ? " in this shard" : "") << ": " << sum.ran
              << " ran, " << sum.kept << " kept from an earlier run, " << sum.failed << " failed -> "
              << csv_path(opt.out_prefix) << ", " << jsonl_path(opt.out_prefix) << "\n";
    if (sum.failed) std::cerr << "sweep: the error column says why; --retry-failed runs those points again\n";
    return sum.failed ? 1 : 0;
  } catch (const sweep_error& e) {
    std::cerr << "mmsim sweep: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace mmsim::sim::sweep
