# Installation: `cmake --install build --prefix P` lays aevb out like an HPC
# package (README, "Installing on a cluster"):
#   P/bin/                      aevb-train, aevb-eval, aevb-data
#   P/include/aevb/<layer>/     the public headers
#   P/lib/libaevb_<layer>.a     the static libraries, and in P/lib/cmake/aevb/ the
#                               CMake package: find_package(aevb) -> aevb::core, ...
#   P/share/aevb/jobs/          the SLURM job scripts (their AEVB_BIN defaults to P/bin)
#   P/share/doc/aevb/           README.md and docs/*.md
#   P/share/modulefiles/aevb/   <version>.lua (Lmod) and <version> (Environment Modules)
# (lib is lib/<multiarch> for a /usr prefix on Debian: GNUInstallDirs.)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(AEVB_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/aevb" CACHE STRING
    "Where the CMake package files go (relative to the prefix)")
set(AEVB_INSTALL_MODULEDIR "${CMAKE_INSTALL_DATADIR}/modulefiles" CACHE STRING
    "Where the modulefiles go (relative to the prefix): module use <prefix>/<this>")
set(AEVB_MODULE_DEPENDS "" CACHE STRING
    "Modules the aevb modulefile loads first (;-list), e.g. gcc/12;openmpi/4.1;hdf5/1.14;onednn/2.7")
set(AEVB_INSTALL_JOBSDIR "${CMAKE_INSTALL_DATADIR}/aevb/jobs")

# ---- one name per layer: aevb::<layer>, in-tree (ALIAS) and installed (EXPORT_NAME) ----
# A superbuild that add_subdirectory()s aevb and a project that find_package()s
# an installed aevb link the same names: aevb::base, aevb::core, aevb::io,
# aevb::dist, aevb::cli, aevb::train, aevb::eval, aevb::convert.
set(AEVB_LIBRARIES aevb_base aevb_core aevb_io aevb_dist aevb_cli aevb_train aevb_eval aevb_infer aevb_convert)
foreach(lib IN LISTS AEVB_LIBRARIES)
  string(REGEX REPLACE "^aevb_" "" layer "${lib}")
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${layer})
  add_library(aevb::${layer} ALIAS ${lib})
endforeach()

# ---- programs ----
# With compilers, MPI, HDF5 and oneDNN from site modules, their library folders
# go into the installed programs' RUNPATH, so that they run without those modules
# loaded (Debian's system folders are implicit and never added).
set(AEVB_PROGRAMS aevb-train aevb-eval aevb-infer aevb-data)
set_target_properties(${AEVB_PROGRAMS} PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)
install(TARGETS ${AEVB_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# ---- libraries, headers, CMake package ----
# The include folder comes with aevb::base ($<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>,
# src/CMakeLists.txt).
install(TARGETS ${AEVB_LIBRARIES} EXPORT aevbTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/aevb DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(EXPORT aevbTargets NAMESPACE aevb:: FILE aevbTargets.cmake DESTINATION ${AEVB_INSTALL_CMAKEDIR})

# What aevbConfig.cmake records of this build: the MPI compiler wrapper (a hint
# for the consumer's FindMPI: Open MPI and MPICH are not ABI compatible) and the
# folders of the CONFIG-mode dependencies (hints; the consumer's settings win).
set(AEVB_CONFIG_MPI_C_COMPILER "")
if(MPI_C_COMPILER AND IS_ABSOLUTE "${MPI_C_COMPILER}")
  # Followed through links named *mpi* (Debian: /usr/bin/mpicc -> /etc/alternatives/mpi
  # -> /usr/bin/mpicc.openmpi, which MPICH cannot take over), not further (Open
  # MPI's mpicc.openmpi -> opal_wrapper, which needs its name).
  set(AEVB_CONFIG_MPI_C_COMPILER "${MPI_C_COMPILER}")
  foreach(_i RANGE 8)
    if(NOT IS_SYMLINK "${AEVB_CONFIG_MPI_C_COMPILER}")
      break()
    endif()
    file(READ_SYMLINK "${AEVB_CONFIG_MPI_C_COMPILER}" _target)
    if(NOT IS_ABSOLUTE "${_target}")
      get_filename_component(_dir "${AEVB_CONFIG_MPI_C_COMPILER}" DIRECTORY)
      set(_target "${_dir}/${_target}")
    endif()
    get_filename_component(_name "${_target}" NAME)
    if(NOT _name MATCHES "[Mm][Pp][Ii]")
      break()
    endif()
    set(AEVB_CONFIG_MPI_C_COMPILER "${_target}")
  endforeach()
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/aevbConfig.cmake.in
  ${PROJECT_BINARY_DIR}/aevbConfig.cmake INSTALL_DESTINATION ${AEVB_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/aevbConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/aevbConfig.cmake ${PROJECT_BINARY_DIR}/aevbConfigVersion.cmake
  DESTINATION ${AEVB_INSTALL_CMAKEDIR})

# ---- job scripts (the *.sbatch stay executable; launch.sh is sourced) and docs ----
install(DIRECTORY ${PROJECT_SOURCE_DIR}/jobs/ DESTINATION ${AEVB_INSTALL_JOBSDIR} USE_SOURCE_PERMISSIONS
  PATTERN "*.sbatch" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                 WORLD_READ WORLD_EXECUTE)
# docs/ keeps its name so that the README's links (docs/data-format.md) still work.
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs FILES_MATCHING PATTERN "*.md")

# ---- modulefiles ----
# Two steps, so that the root in the modulefile is the prefix actually installed
# to (`cmake --install --prefix P` may differ from the configured one):
#   configure time: cmake/aevb-modulefile.{lua,tcl}.in -> <build>/modulefiles-in/
#     with everything but the root (@AEVB_MODULE_ROOT@ is kept for step 2), and a
#     preview for CMAKE_INSTALL_PREFIX in <build>/modulefiles/aevb/;
#   install time: the root filled in with the install prefix (DESTDIR excluded).
include(${CMAKE_CURRENT_LIST_DIR}/AevbMpiexec.cmake)  # AEVB_MPI_FLAVOUR, for the help text
set(AEVB_MODULE_DEPENDS_LUA "")
set(AEVB_MODULE_DEPENDS_TCL "")
foreach(m IN LISTS AEVB_MODULE_DEPENDS)
  string(APPEND AEVB_MODULE_DEPENDS_LUA "depends_on(\"${m}\")\n")
  string(APPEND AEVB_MODULE_DEPENDS_TCL "if {![is-loaded ${m}]} { module load ${m} }\n")
endforeach()
set(AEVB_MODULE_BUILT_WITH "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}, MPI: ${AEVB_MPI_FLAVOUR} (${MPIEXEC_EXECUTABLE}), HDF5 ${HDF5_VERSION}, oneDNN ${dnnl_VERSION}")
set(AEVB_MODULE_ROOT "@AEVB_MODULE_ROOT@")  # kept for the install step
if(IS_ABSOLUTE "${AEVB_INSTALL_MODULEDIR}")
  set(AEVB_MODULE_USE_DIR "${AEVB_INSTALL_MODULEDIR}")
else()
  set(AEVB_MODULE_USE_DIR "${AEVB_MODULE_ROOT}/${AEVB_INSTALL_MODULEDIR}")
endif()
set(_aevb_stage ${PROJECT_BINARY_DIR}/modulefiles-in)
set(_aevb_modfiles ${PROJECT_VERSION}.lua ${PROJECT_VERSION})
configure_file(${CMAKE_CURRENT_LIST_DIR}/aevb-modulefile.lua.in ${_aevb_stage}/${PROJECT_VERSION}.lua.in @ONLY)
configure_file(${CMAKE_CURRENT_LIST_DIR}/aevb-modulefile.tcl.in ${_aevb_stage}/${PROJECT_VERSION}.in @ONLY)
set(AEVB_MODULE_ROOT "${CMAKE_INSTALL_PREFIX}")
foreach(f IN LISTS _aevb_modfiles)
  configure_file(${_aevb_stage}/${f}.in ${PROJECT_BINARY_DIR}/modulefiles/aevb/${f} @ONLY)
endforeach()
if(IS_ABSOLUTE "${AEVB_INSTALL_MODULEDIR}")
  set(_aevb_moddest "${AEVB_INSTALL_MODULEDIR}/aevb")
else()
  set(_aevb_moddest "\${CMAKE_INSTALL_PREFIX}/${AEVB_INSTALL_MODULEDIR}/aevb")
endif()
install(CODE "
  set(AEVB_MODULE_ROOT \"\${CMAKE_INSTALL_PREFIX}\")
  foreach(f ${_aevb_modfiles})
    set(dest \"\$ENV{DESTDIR}${_aevb_moddest}/\${f}\")
    message(STATUS \"Installing: \${dest}\")
    configure_file(\"${_aevb_stage}/\${f}.in\" \"\${dest}\" @ONLY)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${dest}\")
  endforeach()
")
