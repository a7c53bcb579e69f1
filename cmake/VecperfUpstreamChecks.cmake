# Configure-time check that FAISS is a version whose internals vecperf knows.
#
# Why: one file reaches below FAISS's API, and the library's version shows in nothing the
# compiler or the linker checks.
#  - src/index/faiss_blob.cc validates and rewrites the bytes of FAISS's serialized IVF indexes
#    (faiss/impl/index_write.cpp as of FAISS 1.7.3) before FAISS reads them. FAISS 1.7.x keeps
#    that layout; another release may change it without changing an API, so the library would
#    build and then reject or misread every IVF index.
# (The HNSW graph is vecperf's own, src/index/hnsw/; hnswlib is only the benchmark peer and a
# test oracle, used through its API.)
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
