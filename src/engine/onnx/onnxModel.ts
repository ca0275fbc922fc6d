import type { AnyCrateModel } from '../alphaModel.ts';
import { ConfigError, parseAnyConfig, parseConfig } from '../config.ts';
import { anyModelFromTensors } from '../inferConfig.ts';
import { ModelError, modelFromTensors, type CrateModel } from '../model.ts';
import { checkCrateGraph } from './graphCheck.ts';
import { readOnnx } from './onnxFile.ts';

/**
 * A model in the project's ONNX format (tools/onnx_export.py): official
 * initializer names, config JSON in `metadata_props.config`, and optionally a
 * JSON model card in `metadata_props.model_card`. The WGSL engine reads its
 * weights from here, so one file serves both engines.
 */
export interface OnnxCrateModel {
  model: CrateModel;
  /** The parsed `model_card` summary, or undefined when the file has none or it is not JSON. */
  card?: Record<string, unknown>;
  outputs: string[];
}

export function modelFromOnnx(bytes: Uint8Array): OnnxCrateModel {
  const { file, raw } = readOnnxWithConfig(bytes);
  const config = parseConfig(raw);
  checkCrateGraph(file.nodes, config);
  const model = modelFromTensors(config, file.tensors);
  return { model, card: parseCard(file.metadata.model_card), outputs: file.outputs };
}

/**
 * As modelFromOnnx, for either family: a config with `"arch": "crate-alpha"` (tools/alpha_onnx_export.py,
 * the port's initializer names, docs/MEASUREMENTS.md §1.1) gives a CRATE-α model.
 */
export function anyModelFromOnnx(bytes: Uint8Array): { model: AnyCrateModel; card?: Record<string, unknown>; outputs: string[] } {
  const { file, raw } = readOnnxWithConfig(bytes);
  const config = parseAnyConfig(raw);
  checkCrateGraph(file.nodes, config);
  const model = anyModelFromTensors(config, file.tensors);
  return { model, card: parseCard(file.metadata.model_card), outputs: file.outputs };
}

/** The ONNX file and its `metadata_props.config` parsed as JSON (not yet validated). */
function readOnnxWithConfig(bytes: Uint8Array): { file: ReturnType<typeof readOnnx>; raw: unknown } {
  const file = readOnnx(bytes);
  const configText = file.metadata.config;
  if (configText === undefined) throw new ModelError('ONNX file has no metadata_props "config" (export it with tools/onnx_export.py)');
  try {
    return { file, raw: JSON.parse(configText) };
  } catch {
    throw new ConfigError('metadata_props "config" is not valid JSON');
  }
}

function parseCard(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const card: unknown = JSON.parse(text);
    return typeof card === 'object' && card !== null && !Array.isArray(card) ? (card as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
