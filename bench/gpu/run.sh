#!/usr/bin/env bash
# The GPU section of `npm run bench` (issue 7), run on a lent GPU machine that has CUDA, PyTorch and
# transformers but no Node.js, no npm registry and no internet. Prepared on a CPU machine by
# bench/gpu/prepare.sh into .gpu/ (a Node.js binary, the two benchmark programs bundled with
# esbuild, onnxruntime-node's linux-x64 files, sharp, the tiny model); writes JSON results into
# $OUT (or ./gpu-results); bench/gpu/results-h200.json holds one run, with the summary that
# `npm run bench -- --gpu-results bench/gpu/results-h200.json` puts into docs/benchmarks.md.
set -u
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT" /tmp/gpu && cd "$(dirname "$0")/../.."
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/run.log"; }

log "probe"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  python3 -c 'import torch, transformers, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
  python3 -c 'import onnxruntime as o; print("python onnxruntime", o.__version__, o.get_available_providers())' 2>&1
  echo "node on the image: $(command -v node || echo none)"; echo "vllm: $(python3 -c 'import vllm; print(vllm.__version__)' 2>&1 | tail -1)"
  [ -n "${SKIP_FIND:-}" ] || echo "CUDA provider libraries of onnxruntime on the image:"; [ -n "${SKIP_FIND:-}" ] || find / -xdev \( -name 'libonnxruntime_providers_cuda.so' -o -name 'libonnxruntime_providers_shared.so' \) 2>/dev/null | head
  nproc; grep -m1 'model name' /proc/cpuinfo
} > "$OUT/probe.txt" 2>&1
cat "$OUT/probe.txt"

log "unpack"
python3 - <<'PY'
import lzma, shutil, tarfile
with lzma.open('.gpu/node.xz') as src, open('/tmp/gpu/node', 'wb') as dst: shutil.copyfileobj(src, dst)
tarfile.open(".gpu/nm.tar.gz", mode="r:gz").extractall("/tmp/gpu")
import gzip
for name in ('overhead.js', 'embedded-cuda.js'):
    with gzip.open(f'.gpu/{name}.gz') as src, open(f'/tmp/gpu/{name}', 'wb') as dst: shutil.copyfileobj(src, dst)
PY
chmod +x /tmp/gpu/node; export PATH=/tmp/gpu:$PATH; node --version | tee -a "$OUT/run.log"

log "server: Llama-3.2-1B-shaped model, random weights, bf16"
python3 bench/gpu/server.py --port 8000 --model-dir /tmp/gpu/llama-1b-shape > "$OUT/server.log" 2>&1 &
SERVER=$!
for i in $(seq 1 180); do grep -q listening "$OUT/server.log" && break; kill -0 $SERVER 2>/dev/null || break; sleep 1; done
cat "$OUT/server.log"
log "overhead: direct vs client SDK -> worker agent -> server"
(cd /tmp/gpu && timeout ${OVERHEAD_TIMEOUT:-300} node overhead.js --backend-url http://127.0.0.1:8000/v1 --model-name llama-1b-shape-random \
  --model-dir /tmp/gpu/llama-1b-shape --rounds ${ROUNDS:-10} --max-tokens ${MAX_TOKENS:-64} --concurrency 4 --saturation-requests ${SAT_REQUESTS:-12} \
  --out "$OUT/overhead.json") 2>&1 | tee "$OUT/overhead.log" | tail -60
kill $SERVER 2>/dev/null

log "embedded engine on CUDA"
BIN=/tmp/gpu/node_modules/onnxruntime-node/bin/napi-v6/linux/x64
for lib in libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so; do
  f=$(find / -xdev -name "$lib" 2>/dev/null | head -1); [ -n "$f" ] && cp "$f" "$BIN/" && echo "using $f" | tee -a "$OUT/run.log"
done
(cd /tmp/gpu && timeout 180 node embedded-cuda.js /tmp/gpu/models/tiny "$OUT/embedded.json") 2>&1 | tail -30
log "done"
