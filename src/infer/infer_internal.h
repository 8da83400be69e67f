/* infer_internal.h — what the session's other files (onnx_export.c) see of a loom_infer beyond
 * loom/infer.h: its model to recompile for other outputs, its run config and its preprocessing. */
#ifndef LOOM_INFER_INTERNAL_H
#define LOOM_INFER_INTERNAL_H

#include "loom/config.h"
#include "loom/data.h"
#include "loom/infer.h"

loom_model *loom_infer_model_rw(loom_infer *s);
const loom_config *loom_infer_config(const loom_infer *s);
const loom_prep *loom_infer_prep(const loom_infer *s);

#endif
