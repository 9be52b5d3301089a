# cmake --install: the library, its public headers, the bnfold CLI, a CMake
# package (find_package(bnfold) -> bnfold::bnfold) and a pkg-config file.
include(CMakePackageConfigHelpers)

# The public headers are exactly api/bnfold/ (C++ by layer, the C API in
# bnfold.h), installed as <bnfold/...>; nothing else of the sources is.
install(DIRECTORY api/bnfold/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bnfold FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/bnfold/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bnfold)

install(TARGETS bnfold EXPORT bnfoldTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS bnfold_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT bnfoldTargets NAMESPACE bnfold:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bnfold)

if(BUILD_SHARED_LIBS)
  set(BNFOLD_STATIC_BUILD OFF)
else()
  set(BNFOLD_STATIC_BUILD ON)
endif()
configure_package_config_file(tools/bnfoldConfig.cmake.in ${PROJECT_BINARY_DIR}/bnfoldConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bnfold)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/bnfoldConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/bnfoldConfig.cmake ${PROJECT_BINARY_DIR}/bnfoldConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bnfold)

if(BUILD_SHARED_LIBS)
  set(BNFOLD_PC_PRIVATE "")
else()
  set(BNFOLD_PC_PRIVATE "-lonnx -lonnx_proto -lprotobuf -ldnnl -lfmt -lz -lstb -lcpp-httplib -fopenmp")
endif()
if(BNFOLD_SANITIZER_LINK)
  string(APPEND BNFOLD_PC_PRIVATE " ${BNFOLD_SANITIZER_LINK}")
endif()
# The .pc file finds the prefix relative to itself (any --prefix works).
file(RELATIVE_PATH BNFOLD_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(tools/bnfold.pc.in ${PROJECT_BINARY_DIR}/bnfold.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/bnfold.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
