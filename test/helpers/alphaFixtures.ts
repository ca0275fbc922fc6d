import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CrateAlphaModel } from '../../src/engine/alphaModel.ts';
import { parseAnyConfig, type CrateAlphaConfig } from '../../src/engine/config.ts';
import { anyModelFromPth } from '../../src/engine/pth/index.ts';
import { readSafetensors } from '../../src/engine/safetensors.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { FIXTURE_DIR } from './fixtures.ts';

/** The CRATE-α fixtures (tools/make_alpha_fixtures.py): `<name>.pth`, `<name>.golden.safetensors`, `<name>.onnx`. */
export const ALPHA_FIXTURE_DIR = join(FIXTURE_DIR, 'alpha');

export function alphaFixtureNames(): string[] {
  return readdirSync(ALPHA_FIXTURE_DIR)
    .filter((f) => f.endsWith('.pth'))
    .map((f) => f.slice(0, -'.pth'.length))
    .sort();
}

export interface AlphaFixture {
  name: string;
  /** The config the generator used (heads included, which the .pth does not store). */
  config: CrateAlphaConfig;
  golden: Map<string, Tensor>;
  pthBytes: Uint8Array;
}

export function loadAlphaFixture(name: string): AlphaFixture {
  const { tensors, metadata } = readSafetensors(readFileSync(join(ALPHA_FIXTURE_DIR, `${name}.golden.safetensors`)));
  const config = parseAnyConfig(JSON.parse(metadata.config!));
  if (config.arch !== 'crate-alpha') throw new Error(`${name}: golden config is not CRATE-α`);
  return { name, config, golden: tensors, pthBytes: readFileSync(join(ALPHA_FIXTURE_DIR, `${name}.pth`)) };
}

/** The fixture's .pth read as the CLI and the app read it, with the generator's head count. */
export async function alphaFixtureModel(fixture: AlphaFixture): Promise<CrateAlphaModel> {
  const { model } = await anyModelFromPth(fixture.pthBytes, { heads: fixture.config.heads });
  if (model.config.arch !== 'crate-alpha') throw new Error(`${fixture.name}: read as ${model.config.arch}`);
  return model as CrateAlphaModel;
}

export function alphaGolden(fixture: AlphaFixture, key: string): Float32Array {
  const t = fixture.golden.get(key);
  if (!t) throw new Error(`fixture ${fixture.name} has no tensor ${key}`);
  return t.data;
}
