# Installs the build into a scratch prefix, then configures, builds and runs tests/package
# against it. Invoked by ctest with BUILD_DIR, SOURCE_DIR and WORK_DIR set.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# The program prints the __cplusplus it was compiled with: "cplusplus=201703" for C++17.
function(expect_standard std)
  if(std EQUAL 17)
    set(value 201703)
  else()
    set(value 202002)
  endif()
  if(NOT last_output MATCHES "cplusplus=${value} ")
    message(FATAL_ERROR "expected a C++${std} build (cplusplus=${value}), got: ${last_output}")
  endif()
endfunction()

run("install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
# Consumers may use C++17 or later: the outside project is configured once per standard.
foreach(std 17 20)
  set(build "${WORK_DIR}/build-cxx${std}")
  run("configure outside project (C++${std})" ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${build}"
      -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_CXX_STANDARD=${std})
  run("build outside project (C++${std})" ${CMAKE_COMMAND} --build "${build}")
  run("run outside project (C++${std})" "${build}/package_check" "${WORK_DIR}/index${std}.vpi")
  message(STATUS "${last_output}")
  expect_standard(${std})
endforeach()

# The same program built by hand with the flags of the installed vecperf.pc, as a Makefile or
# Meson project would. CXX_COMPILER is the compiler of the main build.
file(GLOB_RECURSE pc_files "${prefix}/*/vecperf.pc")
list(LENGTH pc_files pc_count)
if(NOT pc_count EQUAL 1)
  message(FATAL_ERROR "expected one installed vecperf.pc under ${prefix}, found: ${pc_files}")
endif()
get_filename_component(pc_dir "${pc_files}" DIRECTORY)
find_program(PKG_CONFIG pkg-config REQUIRED)
run("pkg-config" ${CMAKE_COMMAND} -E env "PKG_CONFIG_PATH=${pc_dir}"
    ${PKG_CONFIG} --cflags --libs vecperf)
string(STRIP "${last_output}" pc_flags)
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
run("build with pkg-config" ${CXX_COMPILER} -std=c++17 "${SOURCE_DIR}/main.cc" ${pc_flags}
    -o "${WORK_DIR}/package_check_pc")
run("run pkg-config build" "${WORK_DIR}/package_check_pc" "${WORK_DIR}/index_pc.vpi")
message(STATUS "${last_output}")
expect_standard(17)
file(REMOVE_RECURSE "${WORK_DIR}")
