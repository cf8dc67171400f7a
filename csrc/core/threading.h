// The library-wide CPU thread count.
#pragma once

namespace qmm {

// requested > 0: that many; else the library setting, else OpenMP's default.
int resolve_threads(int requested);
void set_num_threads(int n);
int get_num_threads();

}  // namespace qmm
