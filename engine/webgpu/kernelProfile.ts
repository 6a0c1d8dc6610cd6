/**
 * Time per kernel of the forward program, without timestamp queries (which
 * adapters quantize or lack): each dispatch of layer 0 and of the tail is
 * recorded many times in one pass and timed by the wall clock, minus an
 * empty submission's round trip. Inputs are whatever the buffers hold;
 * only the time matters.
 */
import { recordSteps, type ForwardProgram, type ProgramStep } from "./forwardProgram";

export interface KernelTime {
  label: string;
  /** Microseconds per dispatch. */
  us: number;
  /** Dispatches of this kind in one forward pass. */
  perToken: number;
}

export async function profileKernels(device: GPUDevice, program: ForwardProgram, nLayers: number, rows: number, pos0: number, repeats = 50): Promise<KernelTime[]> {
  const run = async (steps: ProgramStep[], times: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let r = 0; r < times; r++) recordSteps(pass, steps, rows, pos0);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  const empty = Math.min(await run([], 0), await run([], 0), await run([], 0));
  const out: KernelTime[] = [];
  const timeOf = async (s: ProgramStep, perToken: number) => {
    await run([s], 2);
    const ms = Math.min(await run([s], repeats), await run([s], repeats)) - empty;
    out.push({ label: s.label.replace(/^blk\.0\./, ""), us: (ms * 1000) / repeats, perToken });
  };
  // The whole program in order, as a forward pass records it: the sum above plus the gaps between dependent kernels.
  const all = [...program.head, ...program.layers.flat(), ...program.tail];
  await run(all, 1);
  const wholeMs = Math.min(await run(all, 10), await run(all, 10)) - empty;
  out.push({ label: "(whole pass, in order)", us: (wholeMs * 1000) / 10, perToken: 0 });
  for (const s of program.head) await timeOf(s, 1);
  for (const s of program.layers[0]) await timeOf(s, nLayers);
  for (const s of program.tail) await timeOf(s, 1);
  return out;
}
