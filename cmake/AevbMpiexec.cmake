# Which MPI family MPIEXEC_EXECUTABLE (from FindMPI) belongs to, and the flags
# the tests add to `${MPIEXEC_EXECUTABLE} -np P` for it:
#   AEVB_MPI_FLAVOUR          openmpi | mpich (MPICH, Intel MPI, Cray MPICH: hydra) | unknown
#   AEVB_MPIEXEC_TEST_FLAGS   Open MPI: --oversubscribe (P may exceed the cores) and
#                             --allow-run-as-root (CI runs as root); MPICH's hydra
#                             mpiexec knows neither flag and needs neither.
include_guard(GLOBAL)

set(AEVB_MPI_FLAVOUR unknown)
if(MPIEXEC_EXECUTABLE)
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version TIMEOUT 30
    OUTPUT_VARIABLE _aevb_mpiexec_version ERROR_VARIABLE _aevb_mpiexec_version RESULT_VARIABLE _aevb_rc)
  if(_aevb_mpiexec_version MATCHES "Open MPI|OpenRTE|Open RTE")
    set(AEVB_MPI_FLAVOUR openmpi)
  elseif(_aevb_mpiexec_version MATCHES "HYDRA|MPICH|Intel\\(R\\) MPI")
    set(AEVB_MPI_FLAVOUR mpich)
  endif()
endif()
if(AEVB_MPI_FLAVOUR STREQUAL "openmpi")
  set(AEVB_MPIEXEC_TEST_FLAGS --oversubscribe --allow-run-as-root)
else()
  set(AEVB_MPIEXEC_TEST_FLAGS "")
endif()
list(JOIN AEVB_MPIEXEC_TEST_FLAGS " " AEVB_MPIEXEC_TEST_FLAGS)
# Cache entries, visible in every directory (this file runs once per configure).
set(AEVB_MPI_FLAVOUR "${AEVB_MPI_FLAVOUR}" CACHE INTERNAL "MPI family of MPIEXEC_EXECUTABLE")
set(AEVB_MPIEXEC_TEST_FLAGS "${AEVB_MPIEXEC_TEST_FLAGS}" CACHE INTERNAL "mpiexec flags of the MPI tests")
message(STATUS "MPI launcher: ${MPIEXEC_EXECUTABLE} (${AEVB_MPI_FLAVOUR}); tests add: ${AEVB_MPIEXEC_TEST_FLAGS}")
