/**
 * Saving a figure as shown, with its caption and provenance (issue 19): the
 * one path every PNG/SVG button takes (detail views and per-layer charts), so
 * every export is named uniquely per view (exporters.ts figureFileTags) and
 * carries the same metadata (provenance.ts) in the same places.
 */
import { gridOf } from '../state/derived.ts';
import { exportFileName, figureFileTags } from '../export/exporters.ts';
import { figureCaption, latin1, provenanceLines, provenanceOf, type FigureKind, type ProvenanceInput } from '../export/provenance.ts';
import { useApp, type RunResult } from '../state/store.ts';
import { downloadFile, markupSize, svgMarkup, svgToPng, type FigureAnnotation } from '../viz/exportFigure.ts';

/** The provenance inputs of the current view, read from the store at the moment of the export. */
export function currentProvenanceInput(result: RunResult): ProvenanceInput {
  const s = useApp.getState();
  return {
    run: result,
    view: s,
    adapter: s.adapter,
    localImage: result.source && result.source !== 'sample' ? s.localImage : undefined,
    localModel: s.localModel,
    link: window.location.href,
    exportedAt: new Date().toISOString(),
  };
}

/** Caption and provenance of `figure` in the current view. */
export function annotationFor(figure: FigureKind, result: RunResult): FigureAnnotation {
  const input = currentProvenanceInput(result);
  const provenance = provenanceOf(input);
  return { caption: figureCaption(figure, input, gridOf(result).width), lines: provenanceLines(provenance), json: JSON.stringify({ format: 'crate-explorer/figure@1', ...provenance }) };
}

/** The export's file name: per-layer charts are named by chart, detail views by view, layer and their tags. */
export function figureFileName(figure: FigureKind, result: RunResult, kind: 'png' | 'svg'): string {
  const s = useApp.getState();
  const perLayer = figure === 'rate' || figure === 'sparsity' || figure === 'iou';
  // A per-layer chart depends on the variant (rate) or the method (IoU), not on head or query.
  const [variant, method] = figureFileTags('layers', s);
  const tags = perLayer ? (figure === 'rate' ? [variant.replace(/^rate-/, '')] : figure === 'iou' ? [method] : []) : figureFileTags(figure, s);
  if (perLayer && s.dataset) tags.push('dataset');
  return exportFileName({ model: result.model.id, sample: result.sampleIndex, layer: perLayer ? undefined : s.layer, what: perLayer ? `layers-${figure}` : figure, tags }, kind);
}

/** Saves `svg` as PNG or SVG with its caption and provenance; returns the file name. */
export async function exportFigure(svg: SVGSVGElement, kind: 'png' | 'svg', figure: FigureKind, result: RunResult): Promise<string> {
  const annotation = annotationFor(figure, result);
  const name = figureFileName(figure, result, kind);
  const markup = svgMarkup(svg, annotation);
  if (kind === 'svg') downloadFile(markup, name, 'image/svg+xml');
  else {
    const text: [string, string][] = [
      ['Title', latin1(annotation.caption)],
      ['Description', latin1(annotation.lines.join('\n'))],
      ['Software', latin1(annotation.lines[0].replace(/^app: /, ''))],
      ['Comment', latin1(annotation.json)],
    ];
    downloadFile(await svgToPng(markup, markupSize(markup), 2, text), name, 'image/png');
  }
  return name;
}
