# peer/: `stele-peer`. Everything but main.c is the peer's role code (ledger, intake, query,
# events); it is a static library so that unit tests and fuzz targets can link it too.
file(GLOB STELE_PEER_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/peer/*.c)
list(REMOVE_ITEM STELE_PEER_SRCS ${CMAKE_SOURCE_DIR}/peer/main.c)
add_library(stele_peer STATIC ${STELE_PEER_SRCS})
target_include_directories(stele_peer PUBLIC ${CMAKE_SOURCE_DIR})
# The chaincode runtime (ccrt*.c, cchost*.c) runs chaincodes through libstele-chaincode's stub
# and sandboxes its host processes with libseccomp.
target_link_libraries(stele_peer PUBLIC stele_lib stele_chaincode PkgConfig::SECCOMP
                      ${CMAKE_DL_LIBS})
add_executable(stele-peer ${CMAKE_SOURCE_DIR}/peer/main.c)
target_link_libraries(stele-peer PRIVATE stele_peer)
install(TARGETS stele-peer RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
list(APPEND STELE_PROGRAM_LIBS stele_peer)
