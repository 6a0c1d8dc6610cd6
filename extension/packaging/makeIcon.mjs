// Draws media/icon.png (128x128): a pale ghost with a dotted "ghost text" trail on a dark tile.
// Run once with `node extension/packaging/makeIcon.mjs`; the PNG is committed.
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";

const N = 128;
const px = new Uint8Array(N * N * 4);
const put = (x, y, [r, g, b, a]) => {
  const i = (y * N + x) * 4;
  px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = a;
};
const tile = [30, 34, 48, 255], ghost = [236, 240, 255, 255], eye = [30, 34, 48, 255], trail = [120, 200, 255, 255];

// Ghost body: a half disc on top of a rectangle whose bottom edge waves.
const cx = 56, cy = 54, r = 30, bottom = 98;
function inGhost(x, y) {
  if (y <= cy) return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  if (x < cx - r || x > cx + r) return false;
  const wave = bottom - 6 * Math.abs(Math.sin(((x - (cx - r)) / (2 * r)) * Math.PI * 3));
  return y <= wave;
}
for (let y = 0; y < N; y++) {
  for (let x = 0; x < N; x++) {
    // Rounded tile with a transparent outside.
    const c = 20, dx = Math.max(c - x, x - (N - 1 - c), 0), dy = Math.max(c - y, y - (N - 1 - c), 0);
    if (dx * dx + dy * dy > c * c) { put(x, y, [0, 0, 0, 0]); continue; }
    let color = tile;
    if (inGhost(x, y)) color = ghost;
    if ((x - (cx - 10)) ** 2 + (y - 52) ** 2 <= 25 || (x - (cx + 10)) ** 2 + (y - 52) ** 2 <= 25) color = eye;
    // The trail: three dots to the right, like a suggestion still to be typed.
    for (const [tx, ty] of [[96, 84], [106, 84], [116, 84]]) if ((x - tx) ** 2 + (y - ty) ** 2 <= 10) color = trail;
    put(x, y, color);
  }
}

function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(zlib.crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}
const header = Buffer.alloc(13);
header.writeUInt32BE(N, 0); header.writeUInt32BE(N, 4);
header[8] = 8; header[9] = 6; // 8-bit RGBA
const raw = Buffer.alloc(N * (N * 4 + 1));
for (let y = 0; y < N; y++) {
  raw[y * (N * 4 + 1)] = 0; // filter: none
  Buffer.from(px.buffer, y * N * 4, N * 4).copy(raw, y * (N * 4 + 1) + 1);
}
const png = Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
const out = path.resolve(import.meta.dirname, "..", "..", "media", "icon.png");
fs.writeFileSync(out, png);
console.log(`wrote ${out} (${png.length} bytes)`);
