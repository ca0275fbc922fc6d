#!/usr/bin/env node
// Draws the demo model's sample images: MNIST-style 28×28 grey digits (white
// strokes on black), anti-aliased, from hand-placed polylines. Deterministic.
// Usage: node scripts/make-samples.mjs [outDir]   (default public/models/samples)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeGreyPng } from './png.mjs';

const SIZE = 28;
const STROKE = 1.6; // half-width of a stroke, in pixels

// Polylines in a 0..1 box (x right, y down); arcs are sampled.
function arc(cx, cy, rx, ry, from, to, steps = 24) {
  return Array.from({ length: steps + 1 }, (_, i) => {
    const t = ((from + ((to - from) * i) / steps) * Math.PI) / 180;
    return [cx + rx * Math.cos(t), cy + ry * Math.sin(t)];
  });
}
const DIGITS = {
  0: [arc(0.5, 0.5, 0.26, 0.36, 0, 360, 40)],
  1: [[[0.38, 0.28], [0.54, 0.16], [0.54, 0.84]]],
  2: [[...arc(0.5, 0.36, 0.24, 0.2, 200, 380), [0.26, 0.84], [0.76, 0.84]]],
  3: [arc(0.48, 0.33, 0.22, 0.17, 210, 450), arc(0.48, 0.66, 0.25, 0.18, 270, 510)],
  4: [[[0.62, 0.84], [0.62, 0.16], [0.24, 0.62], [0.8, 0.62]]],
  5: [[[0.74, 0.16], [0.32, 0.16], [0.3, 0.46], ...arc(0.48, 0.62, 0.25, 0.21, 235, 500)]],
  6: [[[0.66, 0.16], ...arc(0.5, 0.64, 0.23, 0.2, 220, 580, 40)]],
  7: [[[0.24, 0.18], [0.76, 0.18], [0.42, 0.84]]],
  8: [arc(0.5, 0.32, 0.19, 0.16, 0, 360, 32), arc(0.5, 0.66, 0.23, 0.18, 0, 360, 32)],
  9: [[...arc(0.5, 0.36, 0.23, 0.2, 40, 400, 40), [0.66, 0.84]]],
};

function distanceToSegment(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy || 1)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

export function drawDigit(digit, { shift = [0, 0], slant = 0 } = {}) {
  const lines = DIGITS[digit].map((line) =>
    line.map(([x, y]) => [(x + slant * (0.5 - y)) * 20 + 4 + shift[0], y * 20 + 4 + shift[1]]),
  );
  const grey = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let d = Infinity;
      for (const line of lines) for (let i = 1; i < line.length; i++) d = Math.min(d, distanceToSegment(x + 0.5, y + 0.5, line[i - 1], line[i]));
      // Soft edge one pixel wide, like MNIST's anti-aliasing.
      grey[y * SIZE + x] = Math.round(255 * Math.max(0, Math.min(1, STROKE + 0.5 - d)));
    }
  }
  return grey;
}

const SAMPLES = [
  { digit: 3, slant: 0.1 },
  { digit: 7, slant: 0.15 },
  { digit: 0 },
  { digit: 1, slant: 0.1 },
  { digit: 8, shift: [0.5, 0] },
  { digit: 4 },
];

const outDir = process.argv[2] ?? 'public/models/samples';
mkdirSync(outDir, { recursive: true });
for (const { digit, ...style } of SAMPLES) {
  const file = join(outDir, `digit-${digit}.png`);
  writeFileSync(file, encodeGreyPng(SIZE, SIZE, drawDigit(digit, style)));
  console.log(`wrote ${file}`);
}
