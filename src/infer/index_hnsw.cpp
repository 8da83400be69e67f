// index_hnsw.cpp — the HNSW kind of loom/index.h over hnswlib (Debian libhnswlib-dev, header-only):
// a C API (index_ann.h) around hnswlib::HierarchicalNSW. The only C++ in loom besides index_ivf.cpp.
// hnswlib's spaces: InnerProductSpace (distance 1 − q·r) and L2Space (squared L2); it has no L1.
#include "index_ann.h"

#include <hnswlib/hnswlib.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <new>

struct loom_ann_hnsw {
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> g;
};

extern "C" loom_ann_hnsw *loom_ann_hnsw_build(const float *rows, int64_t n, int d, int ip, int M, int ef_construction,
                                              int ef_search, uint64_t seed, char *msg, size_t cap) {
  loom_ann_hnsw *h = nullptr;
  try {
    h = new loom_ann_hnsw;
    if (ip) h->space.reset(new hnswlib::InnerProductSpace((size_t)d));
    else h->space.reset(new hnswlib::L2Space((size_t)d));
    h->g.reset(new hnswlib::HierarchicalNSW<float>(h->space.get(), (size_t)(n > 0 ? n : 1), (size_t)M,
                                                   (size_t)ef_construction, (size_t)seed));
    for (int64_t i = 0; i < n; i++) h->g->addPoint(rows + i * d, (hnswlib::labeltype)i);
    h->g->setEf((size_t)ef_search);
    return h;
  } catch (const std::bad_alloc &) {
    snprintf(msg, cap, "hnsw: out of memory for a graph of %lld rows (M = %d)", (long long)n, M);
  } catch (const std::exception &e) {
    snprintf(msg, cap, "hnsw: %s", e.what());
  }
  delete h;
  return nullptr;
}

extern "C" int loom_ann_hnsw_search(const loom_ann_hnsw *h, const float *q, int k, int64_t *rows) {
  try {
    if (h->g->cur_element_count == 0) return 0;
    auto top = h->g->searchKnn(q, (size_t)k); // a max-heap on distance: worst first
    int m = (int)top.size();
    for (int i = m - 1; i >= 0; i--) rows[i] = (int64_t)top.top().second, top.pop();
    return m;
  } catch (const std::exception &) {
    return -1;
  }
}

extern "C" void loom_ann_hnsw_free(loom_ann_hnsw *h) { delete h; }

extern "C" void loom_ann_hnsw_set_ef(loom_ann_hnsw *h, int ef_search) { h->g->setEf((size_t)ef_search); }
