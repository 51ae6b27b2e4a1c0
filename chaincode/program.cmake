# chaincode/: the chaincode API. libstele-chaincode (a static, position-independent library)
# implements stele/chaincode.h over a stub (shim/stub.h); every chaincode .so links it, and so
# do the peer's chaincode host and the test harness. `make install` installs the header, the
# library and stele-chaincode.pc.
file(GLOB STELE_CC_SHIM_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/chaincode/shim/*.c)
add_library(stele_chaincode STATIC ${STELE_CC_SHIM_SRCS})
set_target_properties(stele_chaincode PROPERTIES OUTPUT_NAME stele-chaincode C_VISIBILITY_PRESET hidden
                      POSITION_INDEPENDENT_CODE ON)
target_include_directories(stele_chaincode PUBLIC ${CMAKE_SOURCE_DIR}/chaincode/include
                           ${CMAKE_SOURCE_DIR}/chaincode/shim)
install(TARGETS stele_chaincode ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/chaincode/include/stele/chaincode.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/stele)
# The .pc files locate the prefix from their own directory (${pcfiledir}), so an installed tree
# moved elsewhere, staged with DESTDIR or installed with `cmake --install --prefix` still works.
file(RELATIVE_PATH STELE_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" STELE_PC_TO_PREFIX "${STELE_PC_TO_PREFIX}")
configure_file(${CMAKE_SOURCE_DIR}/chaincode/stele-chaincode.pc.in
               ${CMAKE_BINARY_DIR}/stele-chaincode.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/stele-chaincode.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
list(APPEND STELE_PROGRAM_LIBS stele_chaincode)

# libstele-chaincode-harness: the test harness (stele/chaincode_harness.h), which runs a
# chaincode in-process against an in-memory state. Chaincode authors link it into their unit
# tests (stele-chaincode-harness.pc); so do Stele's own tests.
file(GLOB STELE_CC_HARNESS_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/chaincode/harness/*.c)
add_library(stele_chaincode_harness STATIC ${STELE_CC_HARNESS_SRCS})
set_target_properties(stele_chaincode_harness PROPERTIES OUTPUT_NAME stele-chaincode-harness
                      POSITION_INDEPENDENT_CODE ON)
target_link_libraries(stele_chaincode_harness PUBLIC stele_chaincode)
install(TARGETS stele_chaincode_harness ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/chaincode/include/stele/chaincode_harness.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/stele)
configure_file(${CMAKE_SOURCE_DIR}/chaincode/harness/stele-chaincode-harness.pc.in
               ${CMAKE_BINARY_DIR}/stele-chaincode-harness.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/stele-chaincode-harness.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
list(APPEND STELE_PROGRAM_LIBS stele_chaincode_harness)

# The sample chaincode, built as a chaincode author builds one: a module exporting only the
# descriptor `stele_chaincode` (hidden visibility for its own code, and the symbols of the
# static libstele-chaincode kept local with --exclude-libs). Output: chaincode/asset.so in the
# build tree, which test_cc_asset dlopen()s.
add_library(cc_asset MODULE ${CMAKE_SOURCE_DIR}/chaincode/samples/asset/asset.c)
set_target_properties(cc_asset PROPERTIES OUTPUT_NAME asset PREFIX "" C_VISIBILITY_PRESET hidden
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/chaincode)
target_link_libraries(cc_asset PRIVATE stele_chaincode)
target_link_options(cc_asset PRIVATE -Wl,--exclude-libs,ALL)
# test_cc_asset loads the module at run time: build it with the test (the test targets are
# made after this file is read, hence the deferred call).
function(stele_cc_asset_test_depends)
  if(TARGET test_cc_asset)
    add_dependencies(test_cc_asset cc_asset)
  endif()
endfunction()
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.19)
  cmake_language(DEFER CALL stele_cc_asset_test_depends)
endif()
