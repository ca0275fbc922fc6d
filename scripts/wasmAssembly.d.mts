/** The .wat text as wasm bytes (scripts/wasmAssembly.mjs). */
export function assembleRowProducts(wat: string): Promise<Uint8Array>;
