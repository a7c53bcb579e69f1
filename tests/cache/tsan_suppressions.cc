// ThreadSanitizer suppressions for the cache tests, picked up by TSan through this well-known
// hook (it is an ordinary unused function in other builds). Debian's librocksdb is not built
// with -fsanitize=thread, so TSan sees its memcpy/malloc calls but not the atomics and futexes
// that order them (its write-group leader appends other threads' batches to the WAL), and would
// report races inside RocksDB. Only reports from within that library are suppressed; races in
// vecperf's own code are still reported. RocksDB's default Env also leaves its background
// threads running while exit() destroys static objects they may still touch (seen with a
// static string set rehashed by a flush thread); such exit-time reports are suppressed too.
// When two threads write at once, RocksDB's write-group leader copies the follower's WriteBatch
// into the WAL; the hand-over happens in RocksDB's uninstrumented code (and its frames are not
// on TSan's shadow stack), so the copy is reported against DiskTier::write, the thin wrapper
// that builds the batch and calls DB::Write. Reports with that frame are suppressed.
extern "C" const char* __tsan_default_suppressions();

extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:librocksdb.so\n"
         "race:^rocksdb::\n"
         "race:__run_exit_handlers\n"
         "race:vecperf::internal::DiskTier::write\n";
}
