#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored) for bench/gpu/run.sh on a GPU machine that has no Node.js and no
# registry: this machine's Node.js binary, the two benchmark programs bundled with esbuild, the
# native packages they load at run time (onnxruntime-node for linux-x64 only, sharp) and the tiny
# model. Compressed so that the whole working tree stays under the device tool's 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
[ -d models/tiny ] || npm run model:tiny
npx esbuild bench/gpu/overhead.ts --bundle --platform=node --target=node20 --outfile=.gpu/overhead.js \
  --external:@huggingface/transformers --external:onnxruntime-node --log-level=warning
npx esbuild bench/gpu/embedded-cuda.ts --bundle --platform=node --target=node20 --outfile=.gpu/embedded-cuda.js \
  --external:onnxruntime-node --external:sharp --log-level=warning
gzip -9 -f .gpu/overhead.js .gpu/embedded-cuda.js
xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
tar -cf - node_modules/onnxruntime-node/package.json node_modules/onnxruntime-node/dist node_modules/onnxruntime-node/lib \
  node_modules/onnxruntime-node/bin/napi-v6/linux/x64 node_modules/onnxruntime-common node_modules/sharp \
  node_modules/@img/colour node_modules/detect-libc node_modules/semver node_modules/@img/sharp-linux-x64 node_modules/@img/sharp-libvips-linux-x64 models/tiny \
  | gzip -6 > .gpu/nm.tar.gz
du -sh .gpu
