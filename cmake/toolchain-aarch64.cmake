# Cross-compiling for Linux/aarch64 with the Debian/Ubuntu GNU cross toolchain
# (apt-get install g++-aarch64-linux-gnu). Run the results with
# qemu-aarch64 -L /usr/aarch64-linux-gnu (see .ci/arm.sh).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(QMM_AARCH64_PREFIX aarch64-linux-gnu CACHE STRING "Cross toolchain prefix")
set(CMAKE_C_COMPILER ${QMM_AARCH64_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${QMM_AARCH64_PREFIX}-g++)
set(CMAKE_FIND_ROOT_PATH /usr/${QMM_AARCH64_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/${QMM_AARCH64_PREFIX})
