import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

// Cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, which
// onnxruntime-web's threaded WASM needs; set on both servers so dev and the
// built preview behave the same (docs/PLATFORM.md).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * Content-Security-Policy of the built app (issue 9). Scripts, workers and
 * wasm come only from the app's own origin: no inline scripts, no eval;
 * 'wasm-unsafe-eval' is what onnxruntime-web needs to compile its wasm, and
 * its worker threads load the same-origin glue file (src/runners/engines.ts).
 * Inline styles are allowed because React writes style attributes. Data may
 * be fetched from any https origin, because a link may name a hosted model
 * (`?model=https://…`); nothing is ever executed from there. e2e/hostile.spec.ts
 * checks the app runs under this policy with no violation and no third-party
 * request.
 */
export const CSP_DIRECTIVES: Record<string, string> = {
  'default-src': "'self'",
  'script-src': "'self' 'wasm-unsafe-eval'",
  'worker-src': "'self'",
  'style-src': "'self' 'unsafe-inline'",
  'img-src': "'self' data: blob:",
  'font-src': "'self' data:",
  'connect-src': "'self' https: http://localhost:* http://127.0.0.1:*",
  'object-src': "'none'",
  'base-uri': "'none'",
  'form-action': "'none'",
};
const policy = (extra: Record<string, string> = {}) =>
  Object.entries({ ...CSP_DIRECTIVES, ...extra })
    .map(([name, value]) => `${name} ${value}`)
    .join('; ');
/**
 * As a header (vite preview, or any server that copies it): frame-ancestors works only there.
 * Any origin may frame the pages (issue 15: `embed=1` figures in slides and
 * course pages). That is safe because the page has no action worth
 * clickjacking: no account, no purchase, no upload anywhere; every file the
 * user opens stays in the browser (README, "Embedding").
 */
export const CSP_HEADER = policy({ 'frame-ancestors': '*' });
/** As a <meta> in every built page, for static hosting that sets no headers. */
export const CSP_META = policy();

/**
 * Adds the policy to the built pages only: the dev server's React Refresh
 * preamble is an inline script, so `vite` (dev) runs without it.
 */
function contentSecurityPolicy(): Plugin {
  return {
    name: 'crate-content-security-policy',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CSP_META }, injectTo: 'head-prepend' }],
    },
  };
}

export default defineConfig({
  plugins: [react(), contentSecurityPolicy()],
  // onnxruntime-web loads its wasm relative to its own module; pre-bundling breaks that.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { host: 'localhost', port: 5173, headers: isolation },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true, headers: { ...isolation, 'Content-Security-Policy': CSP_HEADER } },
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
