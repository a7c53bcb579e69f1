// ThreadSanitizer suppressions for the cache tests, picked up by TSan through this well-known
// hook (it is an ordinary unused function in other builds). Debian's librocksdb is not built
// with -fsanitize=thread, so TSan sees its memcpy/malloc calls but not the atomics and futexes
// that order them, and would report races inside RocksDB. Only reports from within that library
// are suppressed; races in vecperf's own code are still reported:
// - called_from_lib: interceptors (memcpy, malloc, ...) called by librocksdb itself.
// - ^rocksdb::: frames of RocksDB's inline header code compiled into vecperf.
// - submit_to_write_group (src/cache/disk_tier.cc): RocksDB's write-group leader appends other
//   writers' batches to a batch it shares with later leaders; those copies go through
//   libstdc++'s std::string (so called_from_lib does not see them) and TSan names them by the
//   last instrumented call, which is this function. It does nothing but call DB::Write, so a
//   race with one of its accesses is a race inside DB::Write. A race in the rest of
//   DiskTier::write (capacity bookkeeping, building the batch) has no such frame and is reported.
// - __run_exit_handlers: RocksDB's default Env leaves its background threads running while
//   exit() destroys static objects they may still touch (seen with a static string set rehashed
//   by a flush thread).
extern "C" const char* __tsan_default_suppressions();

extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:librocksdb.so\n"
         "race:^rocksdb::\n"
         "race:submit_to_write_group\n"
         "race:__run_exit_handlers\n";
}
