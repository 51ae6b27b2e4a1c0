# tools/: the operator's and the benchmark's programs, one subfolder each.
stele_program(stele-bench tools/bench)
stele_program(stele tools/stele)
stele_program(stele-network tools/network)
