#!/usr/bin/env bash
# The release's AFF-ResNeXt-50-32x4d ImageNet run (top-1 error 20.28 in its log). Options: see train_release_imagenet.sh.
exec "$(dirname "$0")/train_release_imagenet.sh" resnext ASKCFuse aff_resnext50 "$@"
