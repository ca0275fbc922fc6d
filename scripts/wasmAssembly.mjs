// wabt's text-to-binary step, shared by scripts/build-wasm.mjs and the test that
// checks the committed bytes against the .wat.
import wabtInit from 'wabt';

/** The .wat text as wasm bytes, with the SIMD proposal (standard since 2021) enabled. */
export async function assembleRowProducts(wat) {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat('rowProducts.wat', wat, { simd: true });
  try {
    parsed.validate();
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}
