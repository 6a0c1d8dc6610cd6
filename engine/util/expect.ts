/** Argument checks with exact messages, so the native side can assume valid input. */

function describe(value: unknown): string {
  return `'${String(value)}' of type ${value === null ? "null" : typeof value}`;
}

export function expectInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Expected integer between ${min} and ${max} for ${name} but received ${describe(value)}`);
  }
  return value;
}

export function expectString(name: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`Expected a non-empty string for ${name} but received ${describe(value)}`);
  }
  return value;
}

/** A list of token ids, each an integer in [0, nVocab). */
export function expectTokens(name: string, value: unknown, nVocab: number): Int32Array {
  const list = value instanceof Int32Array ? Array.from(value) : value;
  if (!Array.isArray(list)) throw new TypeError(`Expected an array of token ids for ${name} but received ${describe(value)}`);
  const out = new Int32Array(list.length);
  list.forEach((id, i) => {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= nVocab) {
      throw new RangeError(
        `Expected token ids between 0 and ${nVocab - 1} for ${name} but element ${i} is ${describe(id)}`,
      );
    }
    out[i] = id;
  });
  return out;
}
