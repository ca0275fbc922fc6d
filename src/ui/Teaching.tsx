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

/**
 * Each box: a title, a one-line takeaway in plain words that a lecturer can
 * read aloud (issue 19), then the maths, collapsible.
 */
const CONTENT: Record<Topic, { title: string; takeaway: string; body: ReactNode }> = {
  overview: {
    title: 'What one layer does',
    takeaway: 'Each layer first squeezes the tokens onto a few subspaces (MSSA), then makes them sparse (ISTA): the charts track both.',
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
          <strong>Compression.</strong> The chart measures the coding rate of the MSSA input on the head subspaces: <M>{'W_k = \\mathrm{LN}_1(Z^{\\ell})\\,U_k^{\\top}'}</M>{' '}
          (head <M>{'k'}</M>’s columns of <M>{'W'}</M>), rows scaled to unit length, <M>{'\\varepsilon^2 = 0.01'}</M>:
        </p>
        <D>{'R^c = \\tfrac12 \\sum_{k=1}^{K} \\log\\det\\!\\Big(I_N + \\tfrac{d_h}{N\\varepsilon^2} W_k W_k^{\\top}\\Big)'}</D>
        <p>
          MSSA descends on <M>{'R^c'}</M>, so in the paper it <em>falls</em> from layer to layer. Where this model’s curve rises instead,
          the chart says so under it. The paper variant uses{' '}
          <M>{'R(Z) = \\tfrac12\\log\\det(I + \\tfrac{d}{N\\varepsilon^2}Z^{\\top}Z)'}</M> and the rate reduction{' '}
          <M>{'\\Delta R = R - R^c'}</M> on <M>{'Z^{\\ell+\\frac12}'}</M>.
        </p>
        <p>
          <strong>Sparsity.</strong> ISTA trades reconstruction against <M>{'\\lambda\\|Z\\|_1'}</M>, so the non-zero share{' '}
          <M>{'\\|Z^{\\ell+1}\\|_0/(dN)'}</M> <em>falls</em> (more zeros) with depth in the paper. The small shipped models do not
          follow it everywhere: their sparsity rises again at the last layers, and the chart flags every such step. The dataset mean
          tells a trend from one image’s noise.
        </p>
      </>
    ),
  },
  attention: {
    title: 'Attention maps',
    takeaway: 'Where one token looks: bright patches are the ones the chosen token attends to most.',
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
    takeaway: 'Keep the most-attended patches and you get a mask of the object, without ever training for segmentation.',
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
    takeaway: 'The last step of each layer sets every small value to exactly zero: the tall bar is how many.',
    body: (
      <>
        <p>
          ISTA ends in <M>{'\\operatorname{ReLU}(\\cdot - \\eta\\lambda)'}</M>: every entry below the threshold becomes exactly 0. The left
          bar is that share of all <M>{'N\\cdot d'}</M> entries; the right panel bins the positive values on a log scale.
        </p>
        <p>In the paper, deeper layers have a taller zero bar (sparser codes); compare layers here to see whether this model does.</p>
      </>
    ),
  },
  pca: {
    title: 'PCA of the tokens',
    takeaway: 'Patches the layer sees as alike get alike colours, so parts of an object light up together.',
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
    takeaway: 'How long each step took on this computer; a software GPU is far slower than a real one.',
    body: (
      <p>
        GPU times come from timestamp queries, one compute pass per dispatch. Your browser’s software GPU is far slower than a
        graphics card: compare kernels with each other, not with other machines.
      </p>
    ),
  },
};

/** The explanation for a view, or nothing when teaching mode is off. */
export function Teaching({ topic }: { topic: Topic }) {
  const teach = useApp((s) => s.teach);
  const present = useApp((s) => s.present);
  if (!teach) return null;
  const { title, takeaway, body } = CONTENT[topic];
  if (present) {
    // Presentation layout: one line with the takeaway, the maths one click away (issue 19).
    return (
      <details className="teaching compact" data-testid="teaching" data-topic={topic} aria-label={`Explanation: ${title}`}>
        <summary>
          <strong>{title}</strong>
        </summary>
        <p className="takeaway" data-testid="teaching-takeaway">
          {takeaway}
        </p>
        <Fragment>{body}</Fragment>
      </details>
    );
  }
  return (
    <aside className="teaching" data-testid="teaching" data-topic={topic} aria-label={`Explanation: ${title}`}>
      <h3>{title}</h3>
      <p className="takeaway" data-testid="teaching-takeaway">
        {takeaway}
      </p>
      {/* The overview's maths is long and sits above the figures: folded by default, so the figures start within a 720-px screen. */}
      <details className="teaching-maths" open={topic !== 'overview'}>
        <summary>The maths</summary>
        <Fragment>{body}</Fragment>
      </details>
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
