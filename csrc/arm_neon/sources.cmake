# aarch64 kernels. Included from the top-level CMakeLists.txt (same scope) on aarch64 targets.
# Each kernel TU gets exactly the -march its instructions need; neon_entry.cpp (table entries,
# available(), supports(), packing, the driver) is compiled for the baseline, like the rest of
# the library, because it runs before the CPU's features are known.
#   neon       : neon_float.cpp, neon_int8_smull.cpp, neon_quant.cpp     -march=armv8-a
#   neon_dotprod: neon_dotprod.cpp (SDOT path of the `neon` backend)     -march=armv8.2-a+dotprod
#   neon_i8mm  : neon_i8mm.cpp (SMMLA)                                   -march=armv8.2-a+i8mm
# A compiler that lacks dotprod or i8mm support simply builds without those paths.
include(CheckCXXCompilerFlag)
set(_arm ${PROJECT_SOURCE_DIR}/csrc/arm_neon)
check_cxx_compiler_flag(-march=armv8-a QMM_CXX_HAS_ARMV8A)
check_cxx_compiler_flag(-march=armv8.2-a+dotprod QMM_CXX_HAS_DOTPROD)
check_cxx_compiler_flag(-march=armv8.2-a+i8mm QMM_CXX_HAS_I8MM)
if(QMM_CXX_HAS_ARMV8A)
  set(_arm_base_flags -march=armv8-a)
else()
  set(_arm_base_flags)
endif()
target_sources(qmatmul PRIVATE ${_arm}/neon_entry.cpp)
qmm_add_isa_objects(neon FLAGS ${_arm_base_flags}
  SOURCES ${_arm}/neon_float.cpp ${_arm}/neon_int8_smull.cpp ${_arm}/neon_quant.cpp)
if(QMM_CXX_HAS_DOTPROD)
  qmm_add_isa_objects(neon_dotprod FLAGS -march=armv8.2-a+dotprod SOURCES ${_arm}/neon_dotprod.cpp)
endif()
if(QMM_CXX_HAS_I8MM)
  qmm_add_isa_objects(neon_i8mm FLAGS -march=armv8.2-a+i8mm SOURCES ${_arm}/neon_i8mm.cpp)
endif()
message(STATUS "qmatmul: Arm kernels neon (dotprod: ${QMM_CXX_HAS_DOTPROD}, i8mm: ${QMM_CXX_HAS_I8MM})")
