#!/usr/bin/env bash
# The release's iAFF-ResNet-50 ImageNet run (top-1 error 20.22 in the release). Options: see train_release_imagenet.sh.
exec "$(dirname "$0")/train_release_imagenet.sh" resnet ResGlobLocaforGlobLocaCha iaff_resnet50 "$@"
