# x86-64 kernels: each backend's sources are compiled with that backend's ISA flags only.
# Included from the top-level CMakeLists.txt (same scope) on x86-64 targets.
set(_x86 ${PROJECT_SOURCE_DIR}/csrc/x86_amx)
file(GLOB QMM_AVX2_SOURCES CONFIGURE_DEPENDS ${_x86}/avx2*.cpp)
file(GLOB QMM_AVX512_SOURCES CONFIGURE_DEPENDS ${_x86}/avx512*.cpp)
file(GLOB QMM_AMX_SOURCES CONFIGURE_DEPENDS ${_x86}/amx*.cpp)
# <backend>_entry.cpp holds a backend's table entry, available() and supports(): code that runs
# before the CPU is known to have the ISA, so it is compiled for the baseline.
file(GLOB QMM_X86_ENTRY_SOURCES CONFIGURE_DEPENDS ${_x86}/*_entry.cpp)
foreach(_list QMM_AVX2_SOURCES QMM_AVX512_SOURCES QMM_AMX_SOURCES)
  list(FILTER ${_list} EXCLUDE REGEX "_entry\\.cpp$")
endforeach()
set(QMM_AVX2_FLAGS -mavx2 -mfma -mf16c)
set(QMM_AVX512_FLAGS -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq
    -mavx512vnni -mavx512bf16)
set(QMM_AMX_FLAGS ${QMM_AVX512_FLAGS} -mamx-tile -mamx-int8 -mamx-bf16)
if(QMM_X86_ENTRY_SOURCES)
  target_sources(qmatmul PRIVATE ${QMM_X86_ENTRY_SOURCES})
endif()
if(QMM_AVX2_SOURCES)
  qmm_add_isa_objects(avx2 FLAGS ${QMM_AVX2_FLAGS} SOURCES ${QMM_AVX2_SOURCES})
endif()
if(QMM_AVX512_SOURCES)
  qmm_add_isa_objects(avx512 FLAGS ${QMM_AVX512_FLAGS} SOURCES ${QMM_AVX512_SOURCES})
endif()
if(QMM_AMX_SOURCES)
  qmm_add_isa_objects(amx FLAGS ${QMM_AMX_FLAGS} SOURCES ${QMM_AMX_SOURCES})
endif()
