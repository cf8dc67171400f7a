B=/tmp/bp; mkdir -p $B
nvcc -O3 -std=c++17 -arch=sm_90a -lineinfo -Icsrc -Icsrc/include tests/gpu/decode_probe.cu -o $B/dp > $OUT/build.log 2>&1 || { tail $OUT/build.log; exit 1; }
cuobjdump -sass $B/dp > $OUT/dp.sass 2>&1
NCU=/usr/local/cuda/bin/ncu
k=decode_m1_kernelILi0ELi4ELb1ELi4ELi2
timeout 200 $NCU --kernel-name-base mangled --kernel-name regex:$k --launch-skip 3 --launch-count 1 --section WarpStateStats --section InstructionStats --section ComputeWorkloadAnalysis --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio,smsp__inst_executed_pipe_.*sum,smsp__inst_executed.sum,sm__pipe_.*cycles_active.avg.pct_of_peak_sustained_active --print-details all $B/dp ncu > $OUT/ncu.txt 2>&1
echo rc=$?
grep -E "stalled|pipe_" $OUT/ncu.txt | awk '$NF+0 > 0.05' | sort -k3 -g -r | head -50
