// The engine with each choice of kernel variants gives the fixture's numbers,
// and tune()/retune() choose, cache (per adapter and shape) and report the
// variants in use through engine.info.
import { describe, expect, it } from 'vitest';
import { MemoryTuningStore } from '../../src/kernels/autotune.ts';
import { ATTENTION_VARIANTS, type AttentionVariantName } from '../../src/kernels/attention.ts';
import { MATMUL_VARIANTS, type MatmulVariant, type MatmulVariantName } from '../../src/kernels/matmul.ts';
import { BASELINE_VARIANTS, candidateVariants, DEFAULT_VARIANTS, TUNABLE_KERNELS, type KernelVariants, type TunableKernel } from '../../src/kernels/variants.ts';
import { CrateGpuEngine } from '../../src/engine/gpu/engine.ts';
import { createGpuRunner } from '../../src/engine/gpu/gpuRunner.ts';
import { goldenTensor, loadFixture, relativeError } from '../helpers/fixtures.ts';
import { testGpu } from '../helpers/gpu.ts';

const fixture = loadFixture('grey17');
const image = goldenTensor(fixture, 'input.0');
const expected = goldenTensor(fixture, 'input.0.logits');
const TOLERANCE = 1e-4;

describe('engine kernel variants', () => {
  const combinations: KernelVariants[] = (Object.keys(MATMUL_VARIANTS) as MatmulVariantName[]).flatMap((matmul) =>
    (Object.keys(ATTENTION_VARIANTS) as AttentionVariantName[]).map((attention) => ({ matmul, attention, qkvNorm: 'fused' as const })),
  );
  // LN1 as its own dispatch, with each matmul variant (the attention variant does not meet it).
  combinations.push(...(Object.keys(MATMUL_VARIANTS) as MatmulVariantName[]).map((matmul) => ({ matmul, attention: DEFAULT_VARIANTS.attention, qkvNorm: 'separate' as const })));
  it.each(combinations)('matmul $matmul, attention $attention, LN1 $qkvNorm matches the fixture logits and reports its variants', async (variants) => {
    const { device } = await testGpu();
    const engine = CrateGpuEngine.create(device, fixture.model, { variants });
    const declared: MatmulVariant = MATMUL_VARIANTS[variants.matmul];
    const missing = (declared.requires ?? []).filter((feature) => !device.features.has(feature));
    try {
      expect(engine.info).toMatchObject({ variants, tuning: 'given' });
      if (missing.length) {
        // Without the feature the run is refused with it named; the tuner never offers such a variant.
        await expect(engine.run(image)).rejects.toThrow(`needs the device feature ${missing[0]}`);
        return;
      }
      expect(relativeError((await engine.run(image)).logits, expected)).toBeLessThanOrEqual(declared.tolerance ?? TOLERANCE);
    } finally {
      engine.destroy();
    }
  });

  it('starts on the safe default, and names it', async () => {
    const { device } = await testGpu();
    const engine = CrateGpuEngine.create(device, fixture.model);
    try {
      expect(engine.info.variants).toEqual(DEFAULT_VARIANTS);
      expect(engine.info.tuning).toBe('default');
      expect(engine.info.variantDescriptions.matmul.startsWith(`${DEFAULT_VARIANTS.matmul} (`)).toBe(true);
      expect(engine.info.variantDescriptions.attention.startsWith(`${DEFAULT_VARIANTS.attention} (`)).toBe(true);
      expect(engine.info.adapter).not.toBe('');
    } finally {
      engine.destroy();
    }
  });
});

describe('the tuner\'s output check on this adapter', () => {
  it('finds every f32 candidate within 1e-4 of the default, and reports the deviations through engine.info', async () => {
    const { device } = await testGpu();
    const engine = CrateGpuEngine.create(device, fixture.model);
    try {
      const info = await engine.tune({ store: new MemoryTuningStore(), budgetMs: 60_000 });
      const matmul = info.tuningDeviations.matmul ?? {};
      expect(matmul[DEFAULT_VARIANTS.matmul]).toBe(0);
      // splitK, and splitK-subgroup where the adapter has subgroups (SwiftShader does), were checked and kept.
      const expectedChecked = candidateVariants('matmul', device.features);
      expect(Object.keys(matmul).sort()).toEqual([...expectedChecked].sort());
      for (const [variant, deviation] of Object.entries(matmul)) expect(deviation, variant).toBeLessThanOrEqual((MATMUL_VARIANTS[variant as MatmulVariantName] as MatmulVariant).tolerance ?? 1e-4);
      expect(info.tuningNote ?? '').not.toContain('dropped');
      expect(Object.keys(info.tuningDeviations.attention ?? {}).length).toBe(Object.keys(ATTENTION_VARIANTS).length);
    } finally {
      engine.destroy();
    }
  });
});

describe('engine tuning', () => {
  it('tunes on first use, reuses the cached choice for the same shape, retunes on request, and keeps giving the fixture logits', async () => {
    const { device } = await testGpu();
    const store = new MemoryTuningStore();
    const notes: string[] = [];
    const first = CrateGpuEngine.create(device, fixture.model, { variants: BASELINE_VARIANTS });
    const second = CrateGpuEngine.create(device, fixture.model);
    try {
      await first.run(image); // a plan with the given variants, which tuning must replace
      const info = await first.tune({ store, budgetMs: 60_000, onProgress: (note) => notes.push(note) });
      expect(info.tuning).toBe('tuned');
      expect(Object.keys(info.tuningTimings.matmul ?? {}).sort()).toEqual(candidateVariants('matmul', device.features).sort());
      expect(Object.keys(info.tuningTimings.attention ?? {}).sort()).toEqual(Object.keys(ATTENTION_VARIANTS).sort());
      expect(Object.keys(info.tuningTimings.qkvNorm ?? {}).sort()).toEqual(['fused', 'separate']);
      for (const ms of Object.values(info.tuningTimings.matmul ?? {})) expect(ms).toBeGreaterThan(0);
      expect(notes.some((n) => n.startsWith('tuning matmul'))).toBe(true);
      const fastest = (timings: Record<string, number>) => Object.entries(timings).sort((a, b) => a[1] - b[1])[0][0];
      expect(info.variants.matmul).toBe(fastest(info.tuningTimings.matmul!));
      expect(info.variants.attention).toBe(fastest(info.tuningTimings.attention!));
      expect(info.variants.qkvNorm).toBe(fastest(info.tuningTimings.qkvNorm!));
      expect(relativeError((await first.run(image)).logits, expected)).toBeLessThanOrEqual(TOLERANCE);

      const cached = await second.tune({ store });
      expect(cached).toMatchObject({ tuning: 'cached', variants: info.variants });

      const again = await second.retune({ store, budgetMs: 60_000 });
      expect(again.tuning).toBe('tuned');
      expect(relativeError((await second.run(image)).logits, expected)).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      first.destroy();
      second.destroy();
    }
  });
});

describe('the WGSL runner and tuning', () => {
  it('tunes on its first run, reports the variants it ran, reuses the cache in a second runner, and retunes on request', async () => {
    const { device } = await testGpu();
    const store = new MemoryTuningStore();
    const progress: { note: string; fraction?: number }[] = [];
    const runner = createGpuRunner(CrateGpuEngine.create(device, fixture.model), { enabled: true, store, budgetMs: 60_000, onTuning: (note, fraction) => progress.push({ note, fraction }) });
    const second = createGpuRunner(CrateGpuEngine.create(device, fixture.model), { enabled: true, store });
    try {
      const first = await runner.run(image, { layers: false });
      expect(relativeError(first.logits, expected)).toBeLessThanOrEqual(TOLERANCE);
      expect(first.kernels?.source).toBe('tuned');
      expect(first.kernels?.tuneMillis).toBeGreaterThan(0);
      for (const kernel of Object.keys(TUNABLE_KERNELS) as TunableKernel[]) {
        expect(Object.keys(TUNABLE_KERNELS[kernel])).toContain(first.kernels?.variants[kernel]);
        expect(first.kernels?.descriptions?.[kernel]?.startsWith(`${first.kernels?.variants[kernel]} (`)).toBe(true);
      }
      expect(progress.length).toBeGreaterThan(0);
      for (const { fraction } of progress) expect(fraction).toBeGreaterThanOrEqual(0), expect(fraction).toBeLessThanOrEqual(1);
      // Later runs keep the choice without timing again.
      const notes = progress.length;
      expect((await runner.run(image, { layers: false })).kernels).toMatchObject({ source: 'tuned', variants: first.kernels!.variants });
      expect(progress.length).toBe(notes);

      const cached = await second.run(image);
      expect(cached.kernels).toMatchObject({ source: 'cached', variants: first.kernels!.variants });
      expect(relativeError(cached.logits, expected)).toBeLessThanOrEqual(TOLERANCE);

      const retuneNotes: string[] = [];
      await second.retune!((note) => retuneNotes.push(note));
      expect(retuneNotes.some((n) => n.startsWith('tuning matmul'))).toBe(true);
      const after = await second.run(image, { layers: false });
      expect(after.kernels?.source).toBe('tuned');
      expect(relativeError(after.logits, expected)).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await runner.dispose();
      await second.dispose();
    }
  });

  it('says what a tight budget cut, and without tuning reports the default', async () => {
    const { device } = await testGpu();
    const tight = createGpuRunner(CrateGpuEngine.create(device, fixture.model), { enabled: true, store: new MemoryTuningStore(), budgetMs: 0.001 });
    const plain = createGpuRunner(CrateGpuEngine.create(device, fixture.model));
    try {
      const cut = await tight.run(image, { layers: false });
      expect(cut.kernels?.source).toBe('tuned');
      // Only matmul's default fits (it is always timed once); the other kernels keep their defaults untimed.
      expect(cut.kernels?.variants).toEqual(DEFAULT_VARIANTS);
      expect(cut.kernels?.note).toMatch(/tuning budget was spent: .*attention kept its default \(\w+\) untimed/);
      expect((await plain.run(image, { layers: false })).kernels).toMatchObject({ source: 'default', variants: DEFAULT_VARIANTS });
    } finally {
      await tight.dispose();
      await plain.dispose();
    }
  });
});
