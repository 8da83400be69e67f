// index_ivf.cpp — the IVF kind of loom/index.h over FAISS (Debian libfaiss-dev ships the C++ library
// only, no libfaiss_c): a C API (index_ann.h) around faiss::IndexIVFFlat with a flat coarse quantizer.
// IndexIVFFlat scans L2 and inner product only (no L1). k-means is seeded and trained on a fixed-size
// sample FAISS draws with that seed; its centroid sums run per centroid, so thread counts do not change it.
#include "index_ann.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <new>
#include <vector>

struct loom_ann_ivf {
  std::unique_ptr<faiss::IndexFlat> quantizer;
  std::unique_ptr<faiss::IndexIVFFlat> ivf;
};

extern "C" loom_ann_ivf *loom_ann_ivf_build(const float *rows, int64_t n, int d, int ip, int nlist, int nprobe,
                                            uint64_t seed, char *msg, size_t cap) {
  loom_ann_ivf *v = nullptr;
  try {
    v = new loom_ann_ivf;
    faiss::MetricType mt = ip ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
    v->quantizer.reset(new faiss::IndexFlat(d, mt));
    v->ivf.reset(new faiss::IndexIVFFlat(v->quantizer.get(), (size_t)d, (size_t)nlist, mt));
    v->ivf->cp.seed = (int)(seed & 0x7fffffff);
    v->ivf->cp.max_points_per_centroid = 64; // the training sample: 64 rows per cell
    v->ivf->cp.min_points_per_centroid = 1;
    v->ivf->cp.verbose = false;
    v->ivf->verbose = false;
    v->ivf->train((faiss::Index::idx_t)n, rows);
    v->ivf->add((faiss::Index::idx_t)n, rows);
    v->ivf->nprobe = (size_t)nprobe;
    return v;
  } catch (const std::bad_alloc &) {
    snprintf(msg, cap, "ivf: out of memory for %lld rows in %d cells", (long long)n, nlist);
  } catch (const std::exception &e) {
    snprintf(msg, cap, "ivf: %s", e.what());
  }
  delete v;
  return nullptr;
}

extern "C" int loom_ann_ivf_search(const loom_ann_ivf *v, const float *q, int k, int64_t *rows) {
  try {
    std::vector<float> dist((size_t)k);
    std::vector<faiss::Index::idx_t> lab((size_t)k);
    v->ivf->search(1, q, (faiss::Index::idx_t)k, dist.data(), lab.data());
    int m = 0;
    for (int i = 0; i < k; i++)
      if (lab[(size_t)i] >= 0) rows[m++] = (int64_t)lab[(size_t)i];
    return m;
  } catch (const std::exception &) {
    return -1;
  }
}

extern "C" void loom_ann_ivf_free(loom_ann_ivf *v) { delete v; }

extern "C" void loom_ann_ivf_set_nprobe(loom_ann_ivf *v, int nprobe) { v->ivf->nprobe = (size_t)nprobe; }
