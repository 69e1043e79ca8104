#!/usr/bin/env bash
# The release's iAFF-ResNeXt-50-32x4d ImageNet run (top-1 error 19.78 in the release).
# Recipe: afflib/core/recipes/imagenet_iaff_resnext50_32x4d.json; options: see train_release_imagenet.sh.
exec "$(dirname "$0")/train_release_imagenet.sh" imagenet_iaff_resnext50_32x4d iaff_resnext50 "$@"
