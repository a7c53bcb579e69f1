# Configure-time checks that FAISS and hnswlib are versions whose internals vecperf knows.
#
# Why: two files reach below these libraries' APIs, and neither library's version shows in what
# the compiler or the linker checks.
#  - src/index/faiss_blob.cc validates and rewrites the bytes of FAISS's serialized IVF indexes
#    (faiss/impl/index_write.cpp as of FAISS 1.7.3) before FAISS reads them. FAISS 1.7.x keeps
#    that layout; another release may change it without changing an API, so the library would
#    build and then reject or misread every IVF index.
#  - src/index/hnsw_index.cc drives hnswlib 0.6.2's HierarchicalNSW through its public fields
#    (node memory, link lists, locks, visited lists). hnswlib has no version macro, so a small
#    program that uses exactly those fields and members, with static_asserts on their types, is
#    compiled against the headers found; hnswlib 0.7 and later, for one, make some of them atomic.
# A failure stops the configuration and says what was found, what is supported and why.

include(CheckCXXSourceCompiles)

# Fails unless FAISS is 1.7.x. `package_version` is faiss_VERSION from find_package(faiss) (the
# package's faiss-config-version.cmake; may be empty), `include_dirs` the faiss target's include
# directories: FAISS_VERSION_MAJOR/MINOR/PATCH are read from faiss/Index.h there, and both sources
# must agree (two FAISS installations mixed would otherwise slip through).
function(vecperf_check_faiss_version package_version include_dirs)
  set(header "")
  foreach(dir IN LISTS include_dirs)
    if(EXISTS "${dir}/faiss/Index.h")
      file(REAL_PATH "${dir}/faiss/Index.h" header)
      break()
    endif()
  endforeach()
  if(NOT header)
    message(FATAL_ERROR "vecperf: cannot find faiss/Index.h in the faiss target's include "
                        "directories (${include_dirs}) to read FAISS_VERSION_MAJOR/MINOR/PATCH.")
  endif()
  file(STRINGS "${header}" defines REGEX "^#define FAISS_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+")
  foreach(part MAJOR MINOR PATCH)
    if(NOT defines MATCHES "#define FAISS_VERSION_${part} +([0-9]+)")
      message(FATAL_ERROR "vecperf: ${header} does not define FAISS_VERSION_${part}; "
                          "vecperf supports FAISS 1.7.x.")
    endif()
    set(${part} ${CMAKE_MATCH_1})
  endforeach()
  set(header_version "${MAJOR}.${MINOR}.${PATCH}")
  if(package_version AND NOT package_version VERSION_EQUAL header_version)
    message(FATAL_ERROR "vecperf: the FAISS package says version ${package_version} "
                        "(faiss_DIR=${faiss_DIR}) but its headers say ${header_version} "
                        "(${header}): two FAISS installations are mixed. Point faiss_DIR at the "
                        "package whose headers come first, or remove one.")
  endif()
  if(NOT (MAJOR EQUAL 1 AND MINOR EQUAL 7))
    message(FATAL_ERROR "vecperf: found FAISS ${header_version} (${header}); vecperf supports "
                        "FAISS 1.7.x only (tested: 1.7.3, Debian 12's libfaiss-dev). "
                        "src/index/faiss_blob.cc reads and writes FAISS's serialized IVF layout "
                        "as of 1.7.3, which another release may change. Install FAISS 1.7 or "
                        "point faiss_DIR at one.")
  endif()
  message(STATUS "vecperf: FAISS ${header_version} (supported: 1.7.x)")
endfunction()

# Fails unless the hnswlib headers in `include_dir` have the HierarchicalNSW members, with the
# types, that src/index/hnsw_index.cc uses (hnswlib 0.6.2). Keep the program below in step with
# that file: a member it starts to use belongs here too.
function(vecperf_check_hnswlib_layout include_dir)
  set(source [=[
#include <hnswlib/hnswlib.h>

#include <mutex>
#include <queue>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::labeltype;
using hnswlib::linklistsizeint;
using hnswlib::tableint;
using hnswlib::vl_type;
using Queue = std::priority_queue<std::pair<float, tableint>,
                                  std::vector<std::pair<float, tableint>>, Graph::CompareByFirst>;
template <typename A, typename B>
constexpr bool kSame = std::is_same_v<A, B>;

static_assert(kSame<tableint, unsigned int>, "tableint is unsigned int");
static_assert(kSame<linklistsizeint, unsigned int>, "linklistsizeint is unsigned int");
static_assert(kSame<labeltype, size_t>, "labeltype is size_t");
static_assert(kSame<vl_type, unsigned short>, "vl_type is unsigned short");
static_assert(kSame<hnswlib::DISTFUNC<float>, float (*)(const void*, const void*, const void*)>,
              "DISTFUNC<float> is float(*)(const void*, const void*, const void*)");

// The space: KernelSpace implements exactly these three functions.
struct Space final : hnswlib::SpaceInterface<float> {
  size_t get_data_size() override { return 0; }
  hnswlib::DISTFUNC<float> get_dist_func() override { return nullptr; }
  void* get_dist_func_param() override { return nullptr; }
};
static_assert(!std::is_abstract_v<Space>, "SpaceInterface<float> has no other pure virtual");
static_assert(std::is_constructible_v<Graph, hnswlib::SpaceInterface<float>*, size_t, size_t,
                                      size_t, size_t>,
              "HierarchicalNSW(space, max_elements, M, ef_construction, random_seed)");

// Fields read and written directly.
static_assert(kSame<decltype(Graph::max_elements_), size_t>, "max_elements_ is size_t");
static_assert(kSame<decltype(Graph::cur_element_count), size_t>, "cur_element_count is size_t");
static_assert(kSame<decltype(Graph::size_data_per_element_), size_t>,
              "size_data_per_element_ is size_t");
static_assert(kSame<decltype(Graph::size_links_per_element_), size_t>,
              "size_links_per_element_ is size_t");
static_assert(kSame<decltype(Graph::size_links_level0_), size_t>, "size_links_level0_ is size_t");
static_assert(kSame<decltype(Graph::num_deleted_), size_t>, "num_deleted_ is size_t");
static_assert(kSame<decltype(Graph::M_), size_t>, "M_ is size_t");
static_assert(kSame<decltype(Graph::maxM_), size_t>, "maxM_ is size_t");
static_assert(kSame<decltype(Graph::maxM0_), size_t>, "maxM0_ is size_t");
static_assert(kSame<decltype(Graph::ef_construction_), size_t>, "ef_construction_ is size_t");
static_assert(kSame<decltype(Graph::ef_), size_t>, "ef_ is size_t");
static_assert(kSame<decltype(Graph::mult_), double>, "mult_ is double");
static_assert(kSame<decltype(Graph::maxlevel_), int>, "maxlevel_ is int");
static_assert(kSame<decltype(Graph::enterpoint_node_), tableint>, "enterpoint_node_ is tableint");
static_assert(kSame<decltype(Graph::offsetData_), size_t>, "offsetData_ is size_t");
static_assert(kSame<decltype(Graph::offsetLevel0_), size_t>, "offsetLevel0_ is size_t");
static_assert(kSame<decltype(Graph::label_offset_), size_t>, "label_offset_ is size_t");
static_assert(kSame<decltype(Graph::data_size_), size_t>, "data_size_ is size_t");
static_assert(kSame<decltype(Graph::data_level0_memory_), char*>, "data_level0_memory_ is char*");
static_assert(kSame<decltype(Graph::linkLists_), char**>, "linkLists_ is char**");
static_assert(kSame<decltype(Graph::element_levels_), std::vector<int>>,
              "element_levels_ is std::vector<int>");
static_assert(kSame<decltype(Graph::link_list_locks_), std::vector<std::mutex>>,
              "link_list_locks_ is std::vector<std::mutex>");
static_assert(kSame<decltype(Graph::link_list_update_locks_), std::vector<std::mutex>>,
              "link_list_update_locks_ is std::vector<std::mutex>");
static_assert(kSame<decltype(Graph::global), std::mutex>, "global is std::mutex");
static_assert(kSame<decltype(Graph::level_generator_), std::default_random_engine>,
              "level_generator_ is std::default_random_engine");
static_assert(kSame<decltype(Graph::visited_list_pool_), hnswlib::VisitedListPool*>,
              "visited_list_pool_ is VisitedListPool*");

// Member functions called.
static_assert(kSame<decltype(&Graph::getDataByInternalId), char* (Graph::*)(tableint) const>,
              "char* getDataByInternalId(tableint) const");
static_assert(kSame<decltype(&Graph::setExternalLabel), void (Graph::*)(tableint, labeltype) const>,
              "void setExternalLabel(tableint, labeltype) const");
static_assert(kSame<decltype(&Graph::getRandomLevel), int (Graph::*)(double)>,
              "int getRandomLevel(double)");
static_assert(kSame<decltype(&Graph::getNeighborsByHeuristic2), void (Graph::*)(Queue&, size_t)>,
              "void getNeighborsByHeuristic2(priority_queue<..., CompareByFirst>&, size_t)");
static_assert(kSame<decltype(&Graph::get_linklist),
                    linklistsizeint* (Graph::*)(tableint, int) const>,
              "linklistsizeint* get_linklist(tableint, int) const");
static_assert(kSame<decltype(&Graph::get_linklist_at_level),
                    linklistsizeint* (Graph::*)(tableint, int) const>,
              "linklistsizeint* get_linklist_at_level(tableint, int) const");
static_assert(kSame<decltype(&Graph::markDeletedInternal), void (Graph::*)(tableint)>,
              "void markDeletedInternal(tableint)");
static_assert(kSame<decltype(&Graph::isMarkedDeleted), bool (Graph::*)(tableint) const>,
              "bool isMarkedDeleted(tableint) const");
static_assert(kSame<decltype(&Graph::getListCount),
                    unsigned short (Graph::*)(linklistsizeint*) const>,
              "unsigned short getListCount(linklistsizeint*) const");
static_assert(kSame<decltype(&Graph::setListCount),
                    void (Graph::*)(linklistsizeint*, unsigned short) const>,
              "void setListCount(linklistsizeint*, unsigned short) const");
static_assert(std::is_invocable_r_v<bool, const Graph::CompareByFirst&,
                                    const std::pair<float, tableint>&,
                                    const std::pair<float, tableint>&>,
              "CompareByFirst orders pair<float, tableint>");

// The visited-list pool, replaced when the graph grows.
static_assert(std::is_constructible_v<hnswlib::VisitedListPool, int, int>,
              "VisitedListPool(int initmaxpools, int numelements)");
static_assert(kSame<decltype(&hnswlib::VisitedListPool::getFreeVisitedList),
                    hnswlib::VisitedList* (hnswlib::VisitedListPool::*)()>,
              "VisitedList* VisitedListPool::getFreeVisitedList()");
static_assert(kSame<decltype(&hnswlib::VisitedListPool::releaseVisitedList),
                    void (hnswlib::VisitedListPool::*)(hnswlib::VisitedList*)>,
              "void VisitedListPool::releaseVisitedList(VisitedList*)");
static_assert(kSame<decltype(hnswlib::VisitedList::mass), vl_type*>,
              "VisitedList::mass is vl_type*");
static_assert(kSame<decltype(hnswlib::VisitedList::curV), vl_type>, "VisitedList::curV is vl_type");

int main() { return 0; }
]=])
  # The result is cached under a name that changes with the headers' contents, so upgrading
  # hnswlib in place re-runs the check.
  set(contents "${include_dir}")
  foreach(file hnswlib.h hnswalg.h visited_list_pool.h)
    if(EXISTS "${include_dir}/hnswlib/${file}")
      file(READ "${include_dir}/hnswlib/${file}" text)
      string(APPEND contents "${text}")
    endif()
  endforeach()
  string(MD5 hash "${contents}${source}")
  set(result "VECPERF_HNSWLIB_LAYOUT_${hash}")

  set(CMAKE_REQUIRED_INCLUDES "${include_dir}")
  set(CMAKE_REQUIRED_QUIET ON)
  set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
  check_cxx_source_compiles("${source}" ${result})
  if(NOT ${result})
    # Compiled again for the compiler's words: which member is missing or has another type.
    try_compile(ignored SOURCE_FROM_VAR hnswlib_layout.cc source
                CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${include_dir}"
                OUTPUT_VARIABLE output)
    # One error per line, without the scratch directory (";" would split CMake's list).
    string(REPLACE ";" "," output "${output}")
    string(REGEX MATCHALL "[^\n]*error:[^\n]*" errors "${output}")
    list(REMOVE_DUPLICATES errors)
    list(TRANSFORM errors REPLACE "^[^ ]*/hnswlib_layout.cc:" "hnswlib_layout.cc:")
    list(SUBLIST errors 0 12 errors)
    list(JOIN errors "\n  " errors)
    message(FATAL_ERROR "vecperf: the hnswlib headers in ${include_dir} do not have the "
                        "HierarchicalNSW layout vecperf knows (hnswlib 0.6.2, Debian 12's "
                        "libhnswlib-dev). src/index/hnsw_index.cc reads and writes the graph's "
                        "fields directly (node memory, link lists, locks, visited lists), so "
                        "another layout would build an index that corrupts memory. The compiler "
                        "said:\n  ${errors}\nInstall hnswlib 0.6.2 or point HNSWLIB_INCLUDE_DIR "
                        "at its headers.")
  endif()
  message(STATUS "vecperf: hnswlib in ${include_dir} has the 0.6.2 layout")
endfunction()
