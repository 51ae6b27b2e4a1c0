# chaincode/: the chaincode API. libstele-chaincode (a static, position-independent library)
# implements stele/chaincode.h over a stub (shim/stub.h); every chaincode .so links it, and so
# do the peer's chaincode host and the test harness. `make install` installs the header, the
# library and stele-chaincode.pc.
file(GLOB STELE_CC_SHIM_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/chaincode/shim/*.c)
add_library(stele_chaincode STATIC ${STELE_CC_SHIM_SRCS})
set_target_properties(stele_chaincode PROPERTIES OUTPUT_NAME stele-chaincode
                      POSITION_INDEPENDENT_CODE ON)
target_include_directories(stele_chaincode PUBLIC ${CMAKE_SOURCE_DIR}/chaincode/include
                           ${CMAKE_SOURCE_DIR}/chaincode/shim)
install(TARGETS stele_chaincode ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/chaincode/include/stele/chaincode.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/stele)
configure_file(${CMAKE_SOURCE_DIR}/chaincode/stele-chaincode.pc.in
               ${CMAKE_BINARY_DIR}/stele-chaincode.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/stele-chaincode.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
list(APPEND STELE_PROGRAM_LIBS stele_chaincode)
