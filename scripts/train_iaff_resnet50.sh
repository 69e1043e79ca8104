#!/usr/bin/env bash
# The release's iAFF-ResNet-50 ImageNet run (top-1 error 20.22 in the release).
# Recipe: afflib/core/recipes/imagenet_iaff_resnet50.json; options: see train_release_imagenet.sh.
exec "$(dirname "$0")/train_release_imagenet.sh" imagenet_iaff_resnet50 iaff_resnet50 "$@"
