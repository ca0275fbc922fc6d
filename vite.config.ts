import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, which
// onnxruntime-web's threaded WASM needs; set on both servers so dev and the
// built preview behave the same (DESIGN.md §4).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react()],
  // onnxruntime-web loads its wasm relative to its own module; pre-bundling breaks that.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { host: 'localhost', port: 5173, headers: isolation },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true, headers: isolation },
  build: {
    // Three pages: the app, the engine test harness that e2e/engine.spec.ts drives
    // (window.crateHarness), and the benchmark page bench/run.ts drives (window.crateBench).
    rolldownOptions: {
      input: {
        main: resolve(import.meta.dirname, 'index.html'),
        harness: resolve(import.meta.dirname, 'harness.html'),
        bench: resolve(import.meta.dirname, 'bench.html'),
      },
    },
  },
});
