#!/usr/bin/env bash
# The WebGPU backend on a GPU machine through Vulkan (Dawn): correctness checks and the bench on the
# TinyLlama-shaped model, with no npm there. Carried from the development machine (see BENCHMARKS.md):
#   .carry/webgpu/node.xz       this machine's node binary, xz-compressed
#   .carry/webgpu/dawn.node.xz  node_modules/webgpu/dist/linux-x64/dawn.node, xz-compressed
#   .carry/cuda-testdata        stories260K files and llama.cpp's reference logits
#   .gl                         the Vulkan loader's .deb (libvulkan1), when the machine lacks it
#   dist, native/build/Release/ghostline.node   the bundles (plus dist/webgpuDeviceChecks.js) and the addon
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/webgpu-checks-out}
mkdir -p "$out"
if ! ldconfig -p | grep -q libvulkan.so.1 || ! ldconfig -p | grep -q libGLdispatch; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[[ -f $icd ]] && export VK_DRIVER_FILES=$icd __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
ls /usr/local/nvidia/share/vulkan/icd.d /etc/vulkan/icd.d /usr/share/vulkan/icd.d 2>&1 | head -5
node=/tmp/ghostline-node
xz -dc .carry/webgpu/node.xz >"$node" && chmod +x "$node"
mkdir -p node_modules/webgpu/dist/linux-x64
xz -dc .carry/webgpu/dawn.node.xz >node_modules/webgpu/dist/linux-x64/dawn.node
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

status=0
echo "== checks"
"$node" dist/webgpuDeviceChecks.js .carry/cuda-testdata/models 2>&1 | grep -v "artificially reduced" | tee "$out/checks.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
echo "== bench (TinyLlama-shaped Q8_0)"
"$node" dist/cli.js bench --synthetic tinyllama --backend webgpu --no-llama-cpp --repeats 3 2>&1 | grep -v "artificially reduced" | tee "$out/bench.txt"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
exit $status
