/* model_access.c — loom/model.h's accessors: what code outside src/model may read of a built model
 * (its graph, task, outputs and towers, the sizes its inputs take), so the layout in model_internal.h
 * can change without touching the trainer, inference, apps or benchmarks. */
#include <assert.h>

#include "loom/model.h"
#include "model_internal.h"

loom_graph *loom_model_graph(const loom_model *m) { return m->g; }
loom_task_kind loom_model_task(const loom_model *m) { return m->task; }
int loom_model_n_classes(const loom_model *m) { return m->n_classes; }
int loom_model_capacity(const loom_model *m) { return m->cap; }
int loom_model_items_per_row(const loom_model *m) { return m->G; }
loom_tensor *loom_model_loss(const loom_model *m) { return m->loss; }
loom_tensor *loom_model_logits(const loom_model *m) { return m->logits; }
loom_tensor *loom_model_user_vec(const loom_model *m) { return m->user_vec; }
loom_tensor *loom_model_item_vec(const loom_model *m) { return m->item_vec; }
bool loom_model_reads_query(const loom_model *m) { return m->reads_query; }
int loom_model_n_towers(const loom_model *m) { return m->n_towers; }
const char *loom_model_tower_name(const loom_model *m, int i) {
  assert(i >= 0 && i < m->n_towers);
  return m->towers[i];
}
loom_tensor *loom_model_tower_out(const loom_model *m, int i) {
  assert(i >= 0 && i < LOOM_MODEL_MAX_TOWERS);
  return m->tower_out[i];
}
loom_tensor *loom_model_tower_in(const loom_model *m, int i) {
  assert(i >= 0 && i < LOOM_MODEL_MAX_TOWERS);
  return m->tower_in[i];
}
int loom_model_tower_dim(const loom_model *m, int i) {
  assert(i >= 0 && i < LOOM_MODEL_MAX_TOWERS);
  return m->tower_dim[i];
}
size_t loom_model_image_floats(const loom_model *m) { return (size_t)m->C * (size_t)m->H * (size_t)m->W; }
const float *loom_model_bound_images(const loom_model *m) { return m->images; }
int loom_model_shared_text_len(const loom_model *m) { return m->share_T; }

#define INPUT(name) \
  loom_tensor *loom_model_input_##name(const loom_model *m) { return m->name; }
INPUT(tokens)
INPUT(lengths)
INPUT(text_inv_len)
INPUT(text_mask)
INPUT(query)
INPUT(user)
INPUT(item)
INPUT(image)
INPUT(numeric)
INPUT(category)

int loom_model_feature_inputs(const loom_model *m, loom_tensor **out, int cap) {
  loom_tensor *all[] = {m->tokens, m->lengths, m->text_inv_len, m->text_mask, m->query, m->query_len,
                        m->query_inv_len, m->query_mask, m->image, m->numeric, m->user, m->item, m->category,
                        m->hist, m->hist_aux, m->hist_valid};
  _Static_assert(sizeof all / sizeof *all == LOOM_MODEL_MAX_INPUTS, "LOOM_MODEL_MAX_INPUTS counts them");
  int n = 0;
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (all[i] && n < cap) out[n++] = all[i];
  return n;
}
int loom_model_history_len(const loom_model *m) { return m->Lh; }
bool loom_model_history_text(const loom_model *m) { return m->hist_text; }

const char *loom_model_head_name(const loom_model *m, int i) { return i >= 0 && i < m->n_heads ? m->heads[i].name : NULL; }
bool loom_model_head_binary(const loom_model *m, int i) { return i >= 0 && i < m->n_heads && m->heads[i].binary; }
