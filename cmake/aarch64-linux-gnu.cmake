# aarch64-linux-gnu.cmake - CMake toolchain file for 64-bit Arm Linux, with Debian's cross
# compiler (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross):
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DCALGAE_CROSS_MINIMAL=ON
# Binaries run on this machine under qemu-user (the emulator below is also what CMake uses for
# add_test and try_run).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CALGAE_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${CALGAE_CROSS_TRIPLE}-gcc)

# Headers and libraries come from the cross sysroot only, never from the build machine's
# /usr (an x86-64 library found there would link-fail or, worse, be found and not used);
# programs (the compiler, qemu) come from the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${CALGAE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The same for pkg-config: only aarch64 .pc files, from Debian's multiarch :arm64 packages
# (libinih-dev:arm64 for calgae.ini); the cross linker searches /usr/lib/aarch64-linux-gnu.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${CALGAE_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")

# LD_LIBRARY_PATH: the guest's libc must be the cross one that matches the cross ld.so, even
# where Debian's multiarch libc6:arm64 (/usr/lib/aarch64-linux-gnu) is installed too, as
# libinih-dev:arm64 makes it: mixing the two versions hangs in the first pthread_create.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/${CALGAE_CROSS_TRIPLE}
    -E LD_LIBRARY_PATH=/usr/${CALGAE_CROSS_TRIPLE}/lib)
