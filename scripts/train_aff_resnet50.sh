#!/usr/bin/env bash
# The release's AFF-ResNet-50 ImageNet run (top-1 error 20.28 in the release). Options: see train_release_imagenet.sh.
exec "$(dirname "$0")/train_release_imagenet.sh" resnet ASKCFuse aff_resnet50 "$@"
