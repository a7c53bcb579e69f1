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
file(REMOVE_RECURSE "${WORK_DIR}")
