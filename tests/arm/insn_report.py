#!/usr/bin/env python3
"""Map the QEMU plugin's per-address execution counts to libqmatmul's functions.

    insn_report.py COUNTS LIB LIB_BASE MACS [--nm aarch64-linux-gnu-nm]

Prints, as JSON: instructions executed per function of the library (and in total), each
function's hottest loop body (the instructions with the function's highest execution count,
i.e. the innermost loop), its length, its mnemonic mix and how often it ran, and the totals
per multiply-accumulate (MACS = M*N*K, the useful work).
"""
import bisect
import collections
import json
import re
import subprocess
import sys


# Multiply-accumulates done by one instruction (128-bit forms, as the kernels use them).
MACS_PER_INSN = {"smmla": 32, "sdot": 16, "smull": 8, "smull2": 8, "smlal": 8, "smlal2": 8,
                 "fmla": 4}


def symbols(lib, nm):
    out = subprocess.run([nm, "-C", "-S", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2].lower() in ("t", "w"):
            syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    syms.sort()
    return syms


def objdump_mnemonics(lib, objdump):
    """offset -> mnemonic from objdump (QEMU 7's disassembler prints i8mm ops as .byte)."""
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", lib], check=True,
                         capture_output=True, text=True).stdout
    names = {}
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(\S+)", line)
        if m:
            names[int(m.group(1), 16)] = m.group(2)
    return names


def main():
    args = sys.argv[1:]
    nm = "aarch64-linux-gnu-nm"
    if "--nm" in args:
        i = args.index("--nm")
        nm = args[i + 1]
        del args[i:i + 2]
    counts_path, lib, base, macs = args[0], args[1], int(args[2], 16), int(args[3])
    syms = symbols(lib, nm)
    names = objdump_mnemonics(lib, nm.replace("-nm", "-objdump") if nm.endswith("-nm") else "objdump")
    starts = [s[0] for s in syms]
    per_addr = collections.Counter()
    disas = {}
    total_all = 0
    with open(counts_path) as f:
        for line in f:
            a, c, d = line.rstrip("\n").split(" ", 2)
            a, c = int(a, 16), int(c)
            total_all += c
            off = a - base
            if off < 0:
                continue
            per_addr[off] += c
            disas[off] = d
    funcs = collections.defaultdict(dict)
    for off, c in per_addr.items():
        i = bisect.bisect_right(starts, off) - 1
        if i < 0 or off >= syms[i][0] + max(syms[i][1], 1):
            continue
        funcs[syms[i][2]][off] = c
    report = {"macs": macs, "insns_all_process": total_all, "functions": []}
    lib_total = 0
    for name, addrs in funcs.items():
        tot = sum(addrs.values())
        lib_total += tot
        hot = max(addrs.values())
        body = sorted(o for o, c in addrs.items() if c == hot)
        mix = collections.Counter(names.get(o, disas[o].split()[0]) for o in body)
        body_macs = sum(MACS_PER_INSN.get(names.get(o, ""), 0) for o in body)
        report["functions"].append({
            "function": name, "insns": tot, "insns_per_mac": tot / macs,
            "hot_loop_len": len(body), "hot_loop_iterations": hot,
            "hot_loop_insns": hot * len(body), "hot_loop_mix": dict(mix.most_common()),
            "hot_loop_macs": body_macs,
            "hot_loop_insns_per_mac": len(body) / body_macs if body_macs else None})
    report["functions"].sort(key=lambda r: -r["insns"])
    report["insns_library"] = lib_total
    pack = sum(f["insns"] for f in report["functions"]
               if "pack_panel" in f["function"] or "neon_pack" in f["function"])
    report["insns_library_excluding_pack"] = lib_total - pack
    report["insns_library_excluding_pack_per_mac"] = (lib_total - pack) / macs
    report["insns_library_per_mac"] = lib_total / macs
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
