#!/usr/bin/env bash
# The release's iAFF-ResNeXt-50-32x4d ImageNet run (top-1 error 19.78 in the release). Options: see train_release_imagenet.sh.
exec "$(dirname "$0")/train_release_imagenet.sh" resnext ResGlobLocaforGlobLocaCha iaff_resnext50 "$@"
