# tests/chaincode/: chaincodes the runtime's tests load (test_ccrt), each tests/chaincode/NAME.c
# built as a chaincode author builds one — a module exporting only `stele_chaincode`, with
# libstele-chaincode linked in and kept local — to tests/chaincode/NAME.so in the build tree.
# Some are broken on purpose (no descriptor, another ABI, constructors that misbehave).
file(GLOB STELE_TEST_CHAINCODES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/chaincode/*.c)
foreach(src ${STELE_TEST_CHAINCODES})
  get_filename_component(n ${src} NAME_WE)
  add_library(testcc_${n} MODULE ${src})
  set_target_properties(testcc_${n} PROPERTIES OUTPUT_NAME ${n} PREFIX "" C_VISIBILITY_PRESET
                        hidden LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/chaincode)
  target_link_libraries(testcc_${n} PRIVATE stele_chaincode)
  target_link_options(testcc_${n} PRIVATE -Wl,--exclude-libs,ALL)
  # test_ccrt runs them in hosts started from stele-peer: build both with it
  if(TARGET test_ccrt)
    add_dependencies(test_ccrt testcc_${n})
  endif()
  if(TARGET test_ccrt_sandbox)
    add_dependencies(test_ccrt_sandbox testcc_${n})
  endif()
endforeach()
if(TARGET test_ccrt)
  add_dependencies(test_ccrt stele-peer)
endif()
if(TARGET test_ccrt_sandbox)
  add_dependencies(test_ccrt_sandbox stele-peer)
endif()
# The peer fixture's genesis block commits chaincode "cc" (tests/support/peer_fixture.c), and a
# peer runs a package only under the name its descriptor gives: kv.c and endorse_probe.c are
# built a second time under that name, as tests/chaincode/NAME_cc.so.
foreach(n kv endorse_probe)
  add_library(testcc_${n}_cc MODULE ${CMAKE_SOURCE_DIR}/tests/chaincode/${n}.c)
  target_compile_definitions(testcc_${n}_cc PRIVATE TESTCC_NAME="cc")
  set_target_properties(testcc_${n}_cc PROPERTIES OUTPUT_NAME ${n}_cc PREFIX "" C_VISIBILITY_PRESET
                        hidden LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/chaincode)
  target_link_libraries(testcc_${n}_cc PRIVATE stele_chaincode)
  target_link_options(testcc_${n}_cc PRIVATE -Wl,--exclude-libs,ALL)
endforeach()
# And kv once more as "_kv": a name the runtime refuses (system chaincodes start with '_').
add_library(testcc_kv_sys MODULE ${CMAKE_SOURCE_DIR}/tests/chaincode/kv.c)
target_compile_definitions(testcc_kv_sys PRIVATE TESTCC_NAME="_kv")
set_target_properties(testcc_kv_sys PROPERTIES OUTPUT_NAME kv_sys PREFIX "" C_VISIBILITY_PRESET
                      hidden LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/chaincode)
target_link_libraries(testcc_kv_sys PRIVATE stele_chaincode)
target_link_options(testcc_kv_sys PRIVATE -Wl,--exclude-libs,ALL)
if(TARGET test_ccrt)
  add_dependencies(test_ccrt testcc_kv_sys)
endif()
# test_endorser and test_gateway (tests/faults) run them in a network of real processes
if(TARGET test_endorser)
  add_dependencies(test_endorser testcc_endorse_probe_cc stele-peer stele-orderer)
endif()
if(TARGET test_gateway)
  add_dependencies(test_gateway testcc_kv_cc stele-peer stele-orderer)
endif()
if(TARGET test_events_query)
  add_dependencies(test_events_query testcc_kv_cc stele-peer stele-orderer)
endif()
if(TARGET test_disk_faults)
  add_dependencies(test_disk_faults testcc_kv_cc stele-peer stele-orderer)
endif()
