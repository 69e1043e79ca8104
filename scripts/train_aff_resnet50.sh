#!/usr/bin/env bash
# The release's AFF-ResNet-50 ImageNet run (top-1 error 20.28 in the release).
# Recipe: afflib/core/recipes/imagenet_aff_resnet50.json; options: see train_release_imagenet.sh.
exec "$(dirname "$0")/train_release_imagenet.sh" imagenet_aff_resnet50 aff_resnet50 "$@"
