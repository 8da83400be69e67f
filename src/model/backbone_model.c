/* backbone_model.c — a torchvision backbone as loom's image tower: the [image] backbone keys, the
 * ImageNet input defaults they bring to [data], the tower (src/model/backbone.c) and, for a new run, its
 * weights file read, hashed and recorded in the config. A resumed run or loom-infer gets the weights from
 * the checkpoint (they are parameters like any other), so the file is needed once. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "loom/backbone.h"
#include "loom/model_spec.h"

#define PREFIX "image.backbone."

int loom_model_backbone_config(loom_config *c, loom_error *err) {
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  const loom_backbone_arch a = s.image.backbone;
  if (a == LOOM_BACKBONE_NONE || !s.image.enabled) return 0;
  const char *name = loom_backbone_name(a);
  if (s.image.encoder == LOOM_IMAGE_ROWS)
    return loom_errorf(err, "[image] backbone = %s replaces the image encoder, but encoder = rows — remove "
                            "image.encoder (or set it to conv) or set image.backbone = none", name);
  static const char *const keys[][2] = {{"channels", "3"}, {"image_size", "224x224"},
                                        {"image_mean", "0.485,0.456,0.406"}, {"image_std", "0.229,0.224,0.225"}};
  for (int i = 0; i < 4; i++)
    if (!loom_config_owned_is_set(c, "data", keys[i][0]) &&
        loom_config_set(c, "data", keys[i][0], keys[i][1], "image.backbone (ImageNet default)", err) < 0)
      return -1;
  return 0;
}

loom_tensor *loom_model_backbone_tower(loom_graph *g, const loom_image_spec *im, loom_tensor *x) {
  const bool freeze = im->freeze;
  loom_tensor *y = loom_backbone_build(g, im->backbone, PREFIX, freeze, x); // (N, 512)
  if (freeze) loom_backbone_freeze(g, PREFIX);
  return y;
}

int loom_model_backbone_load(loom_graph *g, loom_config *c, char *note, size_t note_size, loom_error *err) {
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  const loom_backbone_arch a = s.image.backbone;
  if (a == LOOM_BACKBONE_NONE || !s.image.enabled) return 0;
  const char *file = s.image.weights;
  if (!file[0])
    return loom_errorf(err, "[image] backbone = %s needs its weights: set image.weights = FILE, a safetensors file "
                            "of torchvision's %s state_dict (no pretrained weights ship with loom: export them where "
                            "torchvision can download, e.g. safetensors.torch.save_file(torchvision.models.%s("
                            "weights=\"DEFAULT\").state_dict(), FILE))", loom_backbone_name(a), loom_backbone_name(a),
                       loom_backbone_name(a));
  if (file[0] != '/') {
    char cwd[2048], abs[4096];
    if (!getcwd(cwd, sizeof cwd) || (size_t)snprintf(abs, sizeof abs, "%s/%s", cwd, file) >= sizeof abs)
      return loom_errorf(err, "image.weights: cannot resolve the relative path '%s'", file);
    if (loom_config_set(c, "image", "weights", abs, "image.weights", err) < 0) return -1;
    loom_model_spec_read(c, &s); /* the set replaced the string s.image.weights pointed at */
    file = s.image.weights;
  }
  if (access(file, R_OK) < 0)
    return loom_errorf(err, "image.weights = %s: the file cannot be read — give the path of a safetensors file "
                            "with torchvision's %s state_dict", file, loom_backbone_name(a));
  const bool freeze = s.image.freeze;
  char hex[65];
  if (loom_backbone_load(g, a, PREFIX, freeze, file, hex, err) < 0) return loom_error_wrap(err, "image.weights");
  const char *want = s.image.weights_sha256;
  if (want[0] && strcasecmp(want, hex) != 0)
    return loom_errorf(err, "image.weights_sha256 = %s but %s has SHA-256 %s — it is not the file the config names; "
                            "fix image.weights or image.weights_sha256", want, file, hex);
  if (note) snprintf(note, note_size, "image backbone %s from %s (SHA-256 %s), %s\n", loom_backbone_name(a), file, hex,
                     freeze ? "frozen, BatchNorm folded into the convs" : "trained (BatchNorm2d in train mode)");
  return loom_config_set(c, "image", "weights_sha256", hex, "loom-train", err);
}
