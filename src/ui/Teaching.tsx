/**
 * Teaching mode (state.teach): a short explanation beside each view, with
 * the equations of docs/MEASUREMENTS.md §1–2 rendered by KaTeX. KaTeX's CSS and fonts
 * come from the npm package through Vite's bundle, never from a third-party
 * host. Every TeX string here is a constant of this file (no user text goes
 * through KaTeX).
 */
import katex from 'katex';
import 'katex/dist/katex.min.css';
import { Fragment, type ReactNode } from 'react';
import { useApp } from '../state/store.ts';

const rendered = new Map<string, string>();

function tex(source: string, display: boolean): string {
  const key = `${display ? 'D' : 'I'}${source}`;
  let html = rendered.get(key);
  if (html === undefined) {
    html = katex.renderToString(source, { displayMode: display, throwOnError: false, output: 'htmlAndMathml' });
    rendered.set(key, html);
  }
  return html;
}

/** Inline maths. */
export function M({ children }: { children: string }) {
  return <span className="math" dangerouslySetInnerHTML={{ __html: tex(children, false) }} />;
}

/** Display maths. */
export function D({ children }: { children: string }) {
  return <div className="math-display" dangerouslySetInnerHTML={{ __html: tex(children, true) }} />;
}

export type Topic = 'overview' | 'attention' | 'segmentation' | 'histogram' | 'pca' | 'engine';

const CONTENT: Record<Topic, { title: string; body: ReactNode }> = {
  overview: {
    title: 'What one layer does',
    body: (
      <>
        <p>
          A CRATE layer is two optimisation steps on the tokens <M>{'Z \\in \\mathbb{R}^{N\\times d}'}</M>. <strong>MSSA</strong> (multi-head
          subspace self-attention) is a gradient step that <em>compresses</em> the tokens onto K subspaces <M>{'U_k'}</M>:
        </p>
        <D>{'\\begin{aligned} Z^{\\ell+\\frac12} &= Z^{\\ell} + \\mathrm{out}\\big([A_1W_1,\\dots,A_KW_K]\\big)\\\\ A_k &= \\operatorname{softmax}\\big(W_kW_k^{\\top}/\\sqrt{d_h}\\big)\\\\ W &= \\mathrm{LN}_1(Z^{\\ell})\\,U^{\\top} \\end{aligned}'}</D>
        <p>
          <strong>ISTA</strong> is one proximal-gradient step of sparse coding against a dictionary <M>{'D'}</M>; the ReLU makes exact zeros:
        </p>
        <D>{'\\begin{aligned} Z^{\\ell+1} &= \\operatorname{ReLU}\\big(X + \\eta\\,(X - XD^{\\top})D - \\eta\\lambda\\big)\\\\ X &= \\mathrm{LN}_2(Z^{\\ell+\\frac12}),\\quad \\eta=\\lambda=0.1 \\end{aligned}'}</D>
        <p>
          <strong>Compression.</strong> The chart measures the coding rate of the MSSA input on the head subspaces (rows of{' '}
          <M>{'X_k'}</M> scaled to unit length, <M>{'\\varepsilon^2 = 0.01'}</M>):
        </p>
        <D>{'R^c = \\tfrac12 \\sum_{k=1}^{K} \\log\\det\\!\\Big(I_N + \\tfrac{d_h}{N\\varepsilon^2} X_k X_k^{\\top}\\Big)'}</D>
        <p>
          MSSA descends on <M>{'R^c'}</M>, so it should <em>fall</em> from layer to layer. The paper variant uses{' '}
          <M>{'R(Z) = \\tfrac12\\log\\det(I + \\tfrac{d}{N\\varepsilon^2}Z^{\\top}Z)'}</M> and the rate reduction{' '}
          <M>{'\\Delta R = R - R^c'}</M> on <M>{'Z^{\\ell+\\frac12}'}</M>.
        </p>
        <p>
          <strong>Sparsity.</strong> ISTA trades reconstruction against <M>{'\\lambda\\|Z\\|_1'}</M>, so the non-zero share{' '}
          <M>{'\\|Z^{\\ell+1}\\|_0/(dN)'}</M> should <em>fall</em> (more zeros) with depth. A small model trained briefly need not do
          this at every layer; the dataset mean tells a trend from one image’s noise.
        </p>
      </>
    ),
  },
  attention: {
    title: 'Attention maps',
    body: (
      <>
        <p>
          Each head’s map is one row of <M>{'A_k'}</M>: how much the query token attends to every patch,{' '}
          <M>{'A_k[q, 1{:}]'}</M>, reshaped to the patch grid and upsampled over the image. With the class token as query (
          <M>{'q = 0'}</M>) CRATE’s heads often pick out the object without any segmentation training.
        </p>
        <p>Colours run from 0 (dark) to each map’s own maximum (yellow). Click a map to enlarge it, a patch to make it the query.</p>
      </>
    ),
  },
  segmentation: {
    title: 'Segmentation from attention',
    body: (
      <>
        <p>
          Two ways to turn a class-token map into a mask: the paper keeps the top <M>{'P'}</M> of patches; DINO keeps the smallest set
          holding a share <M>{'\\tau'}</M> of the attention mass. Against a ground-truth mask <M>{'G'}</M>:
        </p>
        <D>{'\\mathrm{IoU}(M, G) = \\frac{|M \\cap G|}{|M \\cup G|}'}</D>
        <p>If heads specialise, one “best head” segments far better than the mean of heads.</p>
      </>
    ),
  },
  histogram: {
    title: 'Where the zeros come from',
    body: (
      <>
        <p>
          ISTA ends in <M>{'\\operatorname{ReLU}(\\cdot - \\eta\\lambda)'}</M>: every entry below the threshold becomes exactly 0. The left
          bar is that share of all <M>{'N\\cdot d'}</M> entries; the right panel bins the positive values on a log scale.
        </p>
        <p>Deeper layers should have a taller zero bar: sparser codes.</p>
      </>
    ),
  },
  pca: {
    title: 'PCA of the tokens',
    body: (
      <>
        <p>
          Each patch token is described by its projections on all head subspaces, <M>{'[U_1^{\\top}z;\\dots;U_K^{\\top}z]'}</M> (the row
          of <M>{'W'}</M>). The three main directions of variation across patches become red, green and blue.
        </p>
        <p>Patches of the same part of an object get similar colours when the layer groups them; the background is cut at the middle of the first component.</p>
      </>
    ),
  },
  engine: {
    title: 'Timing',
    body: (
      <p>
        GPU times come from timestamp queries, one compute pass per dispatch. A software adapter (SwiftShader) is far slower than a
        real GPU: compare kernels with each other, not with other machines.
      </p>
    ),
  },
};

/** The explanation for a view, or nothing when teaching mode is off. */
export function Teaching({ topic }: { topic: Topic }) {
  const teach = useApp((s) => s.teach);
  if (!teach) return null;
  const { title, body } = CONTENT[topic];
  return (
    <aside className="teaching" data-testid="teaching" data-topic={topic} aria-label={`Explanation: ${title}`}>
      <h3>{title}</h3>
      <Fragment>{body}</Fragment>
    </aside>
  );
}

/** Header switch for teaching mode. */
export function TeachingToggle() {
  const teach = useApp((s) => s.teach);
  const select = useApp((s) => s.select);
  return (
    <label className="switch" title="Show the explanations and equations beside each view">
      <input type="checkbox" checked={teach} onChange={(e) => select({ teach: e.target.checked })} data-testid="teach-toggle" />
      <span>Teaching mode</span>
    </label>
  );
}
