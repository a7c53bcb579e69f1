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

run("install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
run("configure outside project" ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build"
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
run("build outside project" ${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("run outside project" "${WORK_DIR}/build/package_check" "${WORK_DIR}/index.vpi")
message(STATUS "${last_output}")

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
run("build with pkg-config" ${CXX_COMPILER} -std=c++20 "${SOURCE_DIR}/main.cc" ${pc_flags}
    -o "${WORK_DIR}/package_check_pc")
run("run pkg-config build" "${WORK_DIR}/package_check_pc" "${WORK_DIR}/index_pc.vpi")
message(STATUS "${last_output}")
file(REMOVE_RECURSE "${WORK_DIR}")
