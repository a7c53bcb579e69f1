// LeakSanitizer suppressions for the index tests, picked up through LSan's well-known hook (an
// ordinary unused function in builds without it). FAISS 1.7.3's index reader builds objects with
// raw `new` and throws on damaged input without freeing what it built so far, so loading a
// corrupted IVF file (IvfTest.CorruptFaissPayloadIsCorruption) leaks inside FAISS. vecperf
// converts the exception into kCorruption; the leak is bounded by the file's size and is
// documented in docs/design/ivf.md. Only allocations made inside FAISS's readers are suppressed.
extern "C" const char* __lsan_default_suppressions();

extern "C" const char* __lsan_default_suppressions() { return "leak:faiss::read_\n"; }
