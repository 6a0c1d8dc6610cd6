/**
 * Whether this machine has a WebGPU adapter through Dawn (here: Mesa's
 * llvmpipe). CI sets GHOSTLINE_REQUIRE_WEBGPU=1: the suites then run even
 * without one, and fail with the reason, instead of being skipped.
 */
import { GpuDevice } from "../../engine/webgpu/gpuDevice";

export const webgpuRequired = process.env.GHOSTLINE_REQUIRE_WEBGPU === "1";

let probe: Promise<string> | undefined;

/** Empty when an adapter is usable; otherwise why not. */
export function webgpuUnavailable(): Promise<string> {
  probe ??= GpuDevice.open({ allowSoftware: true })
    .then((d) => {
      d.device.destroy();
      return "";
    })
    .catch((e: Error) => e.message);
  return probe;
}

/** True when the WebGPU suites should be skipped: no adapter, and none required. */
export async function skipWebgpu(): Promise<boolean> {
  return !webgpuRequired && (await webgpuUnavailable()) !== "";
}
