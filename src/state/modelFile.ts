import { modelFromSafetensors, type CrateModel } from '../engine/model.ts';
import { modelFromOnnx } from '../engine/onnx/onnxModel.ts';

/** A parsed model plus what the engines need beside it. */
export interface LoadedModel {
  model: CrateModel;
  /** The ONNX bytes onnxruntime-web runs; undefined for a safetensors model (ORT cannot run it). */
  onnx?: Uint8Array;
  card?: Record<string, unknown>;
  /** File size in bytes. */
  bytes: number;
}

const ONNX_FIRST_BYTE = 0x08; // field 1 (ir_version), varint: every ONNX ModelProto starts with it

/** Picks the format from the content first (a PNG named .onnx must not pass as ONNX), then the name. */
export function parseModelFile(name: string, bytes: Uint8Array): LoadedModel {
  const lower = name.toLowerCase().split('?')[0];
  if (lower.endsWith('.safetensors')) return { model: modelFromSafetensors(bytes), bytes: bytes.byteLength };
  if (lower.endsWith('.onnx') || bytes[0] === ONNX_FIRST_BYTE) {
    const { model, card } = modelFromOnnx(bytes);
    return { model, card, onnx: bytes, bytes: bytes.byteLength };
  }
  throw new Error(`${name} is neither an ONNX (.onnx) nor a safetensors (.safetensors) CRATE model`);
}
