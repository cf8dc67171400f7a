# The cuda backend: included by the top-level CMakeLists.txt (after the qmatmul target exists)
# when QMM_CUDA is AUTO/ON and nvcc is found. Kernels are compiled for QMM_CUDA_ARCHITECTURES
# (default "80;90a": sm_80 SASS + PTX, sm_90a SASS) and the CUDA runtime is linked statically
# so libqmatmul.so runs wherever the driver is present (and reports "unavailable" where not).
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

add_library(qmm_cuda OBJECT
  ${PROJECT_SOURCE_DIR}/csrc/cuda/cuda_backend.cu
  ${PROJECT_SOURCE_DIR}/csrc/cuda/cuda_gemv.cu
  ${PROJECT_SOURCE_DIR}/csrc/cuda/cuda_gemm.cu
  ${PROJECT_SOURCE_DIR}/csrc/cuda/cuda_gemm_sm90.cu
  ${PROJECT_SOURCE_DIR}/csrc/cuda/cuda_generic.cu
)
set_target_properties(qmm_cuda PROPERTIES
  CUDA_ARCHITECTURES "${QMM_CUDA_ARCHITECTURES}"
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON
  POSITION_INDEPENDENT_CODE ON
  CUDA_VISIBILITY_PRESET hidden
  CUDA_RUNTIME_LIBRARY Static)
target_include_directories(qmm_cuda PRIVATE ${PROJECT_SOURCE_DIR}/csrc/include ${PROJECT_SOURCE_DIR}/csrc)
target_compile_options(qmm_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>)
if(QMM_CUDA_PTXAS_VERBOSE)
  target_compile_options(qmm_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xptxas=-v>)
endif()
target_sources(qmatmul PRIVATE $<TARGET_OBJECTS:qmm_cuda>)
target_compile_definitions(qmatmul PRIVATE QMM_WITH_CUDA=1)
target_link_libraries(qmatmul PRIVATE CUDA::cudart_static)
