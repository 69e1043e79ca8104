#!/usr/bin/env bash
# The release's AFF-ResNeXt-50-32x4d ImageNet run (top-1 error 20.28 in its log).
# Recipe: afflib/core/recipes/imagenet_aff_resnext50_32x4d.json; options: see train_release_imagenet.sh.
exec "$(dirname "$0")/train_release_imagenet.sh" imagenet_aff_resnext50_32x4d aff_resnext50 "$@"
