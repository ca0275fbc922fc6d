// Node module hooks: `import code from './x.wgsl?raw'` (Vite's raw-text import,
// which the kernels use) becomes a module whose default export is the file's text.
import { readFile } from 'node:fs/promises';

const SUFFIX = '.wgsl?raw';

export async function resolve(specifier, context, nextResolve) {
  if (specifier.endsWith(SUFFIX) && context.parentURL) {
    const file = new URL(specifier.slice(0, -'?raw'.length), context.parentURL);
    return { url: `${file.href}?raw`, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.endsWith(SUFFIX)) {
    const text = await readFile(new URL(url.slice(0, -'?raw'.length)), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
