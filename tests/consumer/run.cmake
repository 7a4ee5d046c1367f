# Installs the Tessera build in BINARY_DIR into a scratch prefix, builds the consumer project
# beside this script against it with find_package(Tessera), and runs it.
#   cmake -DSOURCE_DIR=<tessera source> -DBINARY_DIR=<tessera build> -P run.cmake
# Everything happens under ${BINARY_DIR}/consumer-test, which is deleted first.
cmake_minimum_required(VERSION 3.22)

foreach(var SOURCE_DIR BINARY_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run.cmake: -D${var}=... is required")
  endif()
endforeach()

set(work "${BINARY_DIR}/consumer-test")
set(prefix "${work}/prefix")
set(build "${work}/build")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")

# Runs a command; on failure stops with its output.
function(run_step what)
  execute_process(COMMAND ${ARGN}
                  RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer test: ${what} failed (${rc}):\n${ARGN}\n${out}")
  endif()
  message(STATUS "consumer test: ${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# Build like the tree under test: same compiler, and the sanitizers when it uses them (a
# sanitized libtessera cannot be loaded by an uninstrumented program).
set(compiler "")
set(sanitize OFF)
set(python OFF)
set(python_executable "")
if(EXISTS "${BINARY_DIR}/CMakeCache.txt")
  file(STRINGS "${BINARY_DIR}/CMakeCache.txt" cache_lines
       REGEX "^(CMAKE_CXX_COMPILER|TESSERA_SANITIZE|CMAKE_BUILD_TYPE|TESSERA_BUILD_PYTHON|Python3_EXECUTABLE):")
  foreach(line IN LISTS cache_lines)
    if(line MATCHES "^CMAKE_CXX_COMPILER:[A-Z]+=(.+)$")
      set(compiler "${CMAKE_MATCH_1}")
    elseif(line MATCHES "^TESSERA_SANITIZE:[A-Z]+=(ON|TRUE|1|YES)$")
      set(sanitize ON)
    elseif(line MATCHES "^TESSERA_BUILD_PYTHON:[A-Z]+=(ON|TRUE|1|YES)$")
      set(python ON)
    elseif(line MATCHES "^Python3_EXECUTABLE:[A-Z]+=(.+)$")
      set(python_executable "${CMAKE_MATCH_1}")
    endif()
  endforeach()
endif()
set(configure_args -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
if(compiler)
  list(APPEND configure_args -DCMAKE_CXX_COMPILER=${compiler})
endif()
if(sanitize)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
endif()

run_step("install" ${CMAKE_COMMAND} --install "${BINARY_DIR}" --prefix "${prefix}")

# The installed tree holds what it promises.
foreach(expected include/tessera/tessera.h include/tessera/container.h include/tessera/status.h
                 include/tessera/types.h include/tessera/iterator.h include/tessera/io.h
                 include/tessera/envi.h bin/tessera)
  if(NOT EXISTS "${prefix}/${expected}")
    message(FATAL_ERROR "consumer test: ${expected} is not installed under ${prefix}")
  endif()
endforeach()
file(GLOB_RECURSE config_files "${prefix}/*/TesseraConfig.cmake")
file(GLOB_RECURSE libraries "${prefix}/*/libtessera.so*")
file(GLOB_RECURSE io_libraries "${prefix}/*/libtessera-io.so*")
if(NOT config_files OR NOT libraries OR NOT io_libraries)
  message(FATAL_ERROR
    "consumer test: TesseraConfig.cmake, libtessera.so or libtessera-io.so missing under ${prefix}")
endif()
list(APPEND libraries ${io_libraries})
set(library_dirs "")
foreach(lib IN LISTS libraries)
  get_filename_component(dir "${lib}" DIRECTORY)
  list(APPEND library_dirs "${dir}")
endforeach()
list(REMOVE_DUPLICATES library_dirs)
string(REPLACE ";" ":" library_path "${library_dirs}")

run_step("configure" ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/consumer" -B "${build}" ${configure_args})
run_step("build" ${CMAKE_COMMAND} --build "${build}")
if(DEFINED ENV{LD_LIBRARY_PATH} AND NOT "$ENV{LD_LIBRARY_PATH}" STREQUAL "")
  set(library_path "${library_path}:$ENV{LD_LIBRARY_PATH}")
endif()
run_step("run" ${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${library_path}" "${build}/app")
message(STATUS "${step_output}")

# The Python package, when built: installed into dist-packages under the prefix, it imports
# from there (its extension finding libtessera through its RPATH) and reads what it writes.
if(python AND python_executable)
  file(GLOB_RECURSE modules "${prefix}/_tessera*.so")
  if(NOT modules)
    message(FATAL_ERROR "consumer test: the tessera Python package is not installed under ${prefix}")
  endif()
  list(GET modules 0 module)
  get_filename_component(package_dir "${module}" DIRECTORY)
  get_filename_component(site_dir "${package_dir}" DIRECTORY)
  run_step("python import" ${CMAKE_COMMAND} -E env "PYTHONPATH=${site_dir}" ${python_executable} -c
           "import numpy, tessera, os; p = os.path.join('${work}', 'py.tsr'); c = tessera.open(p, 'w'); img = c.create_image('i', numpy.uint8, 1, tile_size=16); t = c.transaction(); t.__enter__(); img[0:2, 0:2] = 3; t.__exit__(None, None, None); assert int(img[1, 1, 0]) == 3; c.close(); print('tessera', tessera.__version__, 'from', tessera.__file__)")
  message(STATUS "${step_output}")
endif()
