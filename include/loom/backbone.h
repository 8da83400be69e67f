/* loom/backbone.h — torchvision's ResNet-18/34 and VGG-11/16 feature extractors as loom graph builders,
 * with weights read from a safetensors file holding torchvision's state_dict names (conv1.weight,
 * layer1.0.bn1.running_mean, features.0.weight, ...). The feature is 512-d for all four:
 *   resnet: the output of avgpool (AdaptiveAvgPool2d(1)) flattened, i.e. the input of fc;
 *   vgg:    the spatial mean of features(x) (the last max pool's output), which at 224x224 (7x7 maps) is
 *           the mean of torchvision's avgpool output over its 7x7 positions; the classifier is not used.
 * Frozen backbones fold each eval-mode BatchNorm into the preceding conv at load (y = conv(x; w a) + b'
 * with a = gamma / sqrt(var + eps), b' = beta - mean a); trainable ones keep Conv2d + BatchNorm2d with
 * torchvision's names and behave as torchvision in train() / eval(). The input is (B, 3, H, W) already
 * normalised (the data pipeline's image_mean / image_std). */
#ifndef LOOM_BACKBONE_H
#define LOOM_BACKBONE_H

#include <stdbool.h>

#include "loom/error.h"
#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LOOM_BACKBONE_NONE = 0, LOOM_BACKBONE_RESNET18, LOOM_BACKBONE_RESNET34, LOOM_BACKBONE_VGG11,
               LOOM_BACKBONE_VGG16 } loom_backbone_arch;

/* "none" | "resnet18" | "resnet34" | "vgg11" | "vgg16" -> *out; -1 for anything else. */
int loom_backbone_parse(const char *name, loom_backbone_arch *out);
const char *loom_backbone_name(loom_backbone_arch a);
/* Width of the pooled feature (512 for all four). */
int loom_backbone_dim(loom_backbone_arch a);

/* Builds the tower on x (B, 3, H, W) -> (B, 512). Parameters are named prefix + torchvision's name
 * (fused: prefix + conv name + ".weight" / ".bias", no BatchNorm tensors). */
loom_tensor *loom_backbone_build(loom_graph *g, loom_backbone_arch a, const char *prefix, bool fused, loom_tensor *x);

/* Reads path (a torchvision state_dict as safetensors, F32) into the tower built with the same
 * (a, prefix, fused). Every tensor the architecture needs must be there with its exact shape;
 * num_batches_tracked (any integer or float dtype, scalar or (1)) may be absent; the classifier
 * (resnet fc.*, vgg classifier.*) is ignored. Any other tensor, a missing one or a wrong shape or dtype
 * fails with a message naming them all; nothing is copied then. sha256_hex (65 bytes, may be NULL)
 * gets the file's SHA-256. */
int loom_backbone_load(loom_graph *g, loom_backbone_arch a, const char *prefix, bool fused, const char *path,
                       char *sha256_hex, loom_error *err);

/* Every parameter whose name starts with prefix becomes frozen (loom_param_set_trainable). */
void loom_backbone_freeze(loom_graph *g, const char *prefix);

/* The state_dict tensors the architecture reads, in torchvision's order: i-th name and shape (ndim
 * <= 4; num_batches_tracked has ndim 0). Returns the count; name/shape ignored when i is out of range. */
int loom_backbone_tensor(loom_backbone_arch a, int i, char *name, int name_size, int *ndim, int shape[4]);

#ifdef __cplusplus
}
#endif
#endif

/* ---- in a loom model: [image] backbone, weights, weights_sha256, freeze (src/model/backbone_model.c) ---- */
#include "loom/config.h"

/* image.backbone != none: [data] channels, image_size, image_mean and image_std not set in the config get
 * torchvision's ImageNet values (3, 224x224, 0.485,0.456,0.406, 0.229,0.224,0.225); image.encoder = rows
 * fails (the backbone replaces the encoder). Call
 * after the config is loaded, before the [data] schema is used. */
int loom_model_backbone_config(loom_config *c, loom_error *err);
/* The tower im->backbone on images x (N, 3, H, W) -> (N, 512) under "image.backbone." (BN folded when
 * im->freeze), frozen when im->freeze ([image] of loom/model_spec.h). */
struct loom_image_spec;
loom_tensor *loom_model_backbone_tower(loom_graph *g, const struct loom_image_spec *im, loom_tensor *x);
/* A new run: image.weights (made absolute) read into g's tower, its SHA-256 checked against
 * image.weights_sha256 when set by hand and recorded there (so every checkpoint's config names the file);
 * the checkpoint then holds the weights themselves. *note gets a line for the log. */
int loom_model_backbone_load(loom_graph *g, loom_config *c, char *note, size_t note_size, loom_error *err);
