# orderer/: `stele-orderer`. Everything but main.c is the orderer's role code (intake, block
# cutter, consensus plug-ins, chain, Broadcast/Deliver); it is a static library so that unit
# tests and fuzz targets can link it too.
file(GLOB STELE_ORDERER_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/orderer/*.c
     ${CMAKE_SOURCE_DIR}/orderer/consensus/*.c)
list(REMOVE_ITEM STELE_ORDERER_SRCS ${CMAKE_SOURCE_DIR}/orderer/main.c)
add_library(stele_orderer STATIC ${STELE_ORDERER_SRCS})
target_include_directories(stele_orderer PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(stele_orderer PUBLIC stele_lib)
add_executable(stele-orderer ${CMAKE_SOURCE_DIR}/orderer/main.c)
target_link_libraries(stele-orderer PRIVATE stele_orderer)
install(TARGETS stele-orderer RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
list(APPEND STELE_PROGRAM_LIBS stele_orderer)
