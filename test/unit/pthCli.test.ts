import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/cli.ts';
import { CliError, UsageError } from '../../src/cli/errors.ts';
import { isPthPath, loadPthModelFile } from '../../src/cli/loadModel.ts';

describe('crate-explorer run with a .pth model', () => {
  it('recognises PyTorch checkpoint names', () => {
    for (const name of ['a.pth', 'b.PT', 'c/crate_base.pth.tar']) expect(isPthPath(name), name).toBe(true);
    for (const name of ['a.safetensors', 'b.onnx', 'c.tar', 'pth']) expect(isPthPath(name), name).toBe(false);
  });

  it('parses --heads for .pth models only', () => {
    expect(parseCommandLine(['run', 'm.pth', 'x.png', '--heads', '6'])).toMatchObject({ heads: 6 });
    expect(parseCommandLine(['run', 'm.pth', 'x.png'])).toMatchObject({ heads: undefined });
    expect(() => parseCommandLine(['run', 'm.pth', 'x.png', '--heads', '0'])).toThrow(UsageError);
    expect(() => parseCommandLine(['run', 'm.pth', 'x.png', '--heads', 'six'])).toThrow('--heads takes a positive integer, got "six"');
    expect(parseCommandLine(['run', 'm.safetensors', 'x.png', '--heads', '6'])).toMatchObject({ heads: 6 });
    expect(() => parseCommandLine(['run', 'm.onnx', 'x.png', '--heads', '6'])).toThrow('--heads only applies to a .pth checkpoint');
  });

  it('loads a checkpoint, passing the notes on, and turns refusals into one-line CLI errors', async () => {
    const notes: string[] = [];
    const model = await loadPthModelFile('fixtures/checkpoints/tiny_model_f32.pth', { heads: 2, onNote: (n) => notes.push(n) });
    expect(model.config).toMatchObject({ dim: 32, heads: 2, dim_head: 16 });
    expect(notes.some((n) => /ImageNet normalisation/.test(n))).toBe(true);
    await expect(loadPthModelFile('fixtures/checkpoints/zeros.pth')).rejects.toThrow(CliError);
    await expect(loadPthModelFile('fixtures/checkpoints/evil_eval.pth')).rejects.toThrow(
      'fixtures/checkpoints/evil_eval.pth: not a valid CRATE model: refusing checkpoint: it references the global builtins.eval, which is not on the whitelist',
    );
    await expect(loadPthModelFile('fixtures/checkpoints/nope.pth')).rejects.toThrow('cannot read model file fixtures/checkpoints/nope.pth: no such file');
  });
});
