/**
 * Export of a figure as it is shown: an <svg> (d3 chart, or a figure of
 * <image> overlays) serialised with its computed styles inlined, so the file
 * looks the same without the page's stylesheet; PNG by drawing that SVG on a
 * canvas. Rasters inside are data: URLs, so the canvas is never tainted.
 * An export carries its caption (visible under the figure, and as <title>)
 * and its provenance (<desc> lines and <metadata> JSON; tEXt chunks in a PNG),
 * issue 19: a figure in a paper or on a slide says what it shows and where
 * it came from.
 */
import { withTextChunks } from './pngText.ts';

/** Caption and provenance written into an exported figure. */
export interface FigureAnnotation {
  caption: string;
  /** "key: value" lines (src/export/provenance.ts provenanceLines). */
  lines: string[];
  /** The provenance as JSON, for <metadata>. */
  json: string;
}

const CAPTION_FONT = 12;
const CAPTION_LINE = 16;

/** The caption broken into lines of at most `chars` characters, at spaces. */
function wrapText(text: string, chars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > chars) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Presentation properties copied from the page's CSS into the exported SVG. */
const STYLE_PROPERTIES = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-dasharray',
  'stroke-opacity',
  'stroke-linejoin',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'text-anchor',
  'dominant-baseline',
  'paint-order',
  'image-rendering',
  'visibility',
  'display',
] as const;

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The figure's size in user units (its viewBox), which the exported file keeps. */
function figureSize(svg: SVGSVGElement): { width: number; height: number } {
  const box = svg.viewBox.baseVal;
  if (box && box.width > 0 && box.height > 0) return { width: box.width, height: box.height };
  const rect = svg.getBoundingClientRect();
  return { width: Math.max(1, Math.round(rect.width)), height: Math.max(1, Math.round(rect.height)) };
}

/** Standalone SVG markup of `svg` with computed styles inlined, a white background, and the annotation's caption and metadata. */
export function svgMarkup(svg: SVGSVGElement, annotation?: FigureAnnotation): string {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const originals = [svg, ...svg.querySelectorAll('*')];
  const copies = [clone, ...clone.querySelectorAll('*')];
  originals.forEach((original, i) => {
    const copy = copies[i] as SVGElement;
    const computed = getComputedStyle(original);
    const declarations = STYLE_PROPERTIES.map((p) => [p, computed.getPropertyValue(p)] as const).filter(([, v]) => v !== '');
    copy.setAttribute('style', declarations.map(([p, v]) => `${p}:${v}`).join(';'));
    // Interaction-only attributes mean nothing in a file.
    for (const attribute of ['tabindex', 'role', 'aria-pressed']) copy.removeAttribute(attribute);
  });
  const { width, height: figureHeight } = figureSize(svg);
  const box = svg.viewBox.baseVal;
  const x0 = box && box.width > 0 ? box.x : 0;
  const y0 = box && box.height > 0 ? box.y : 0;
  const captionLines = annotation ? wrapText(annotation.caption, Math.max(30, Math.floor(width / (CAPTION_FONT * 0.55)))) : [];
  const height = figureHeight + (captionLines.length ? captionLines.length * CAPTION_LINE + 10 : 0);
  if (annotation) {
    clone.setAttribute('viewBox', `${x0} ${y0} ${width} ${height}`);
    const element = (name: string, text: string) => {
      const node = document.createElementNS(SVG_NS, name);
      node.textContent = text;
      return node;
    };
    const caption = document.createElementNS(SVG_NS, 'text');
    caption.setAttribute('class', 'figure-caption');
    caption.setAttribute('style', `font-family:system-ui,sans-serif;font-size:${CAPTION_FONT}px;fill:#1f2937`);
    captionLines.forEach((line, i) => {
      const span = document.createElementNS(SVG_NS, 'tspan');
      span.setAttribute('x', String(x0 + 4));
      span.setAttribute('y', String(y0 + figureHeight + 6 + (i + 1) * CAPTION_LINE - 4));
      span.textContent = line;
      caption.append(span);
    });
    clone.append(caption);
    clone.insertBefore(element('metadata', annotation.json), clone.firstChild);
    clone.insertBefore(element('desc', [annotation.caption, ...annotation.lines].join('\n')), clone.firstChild);
    clone.insertBefore(element('title', annotation.caption), clone.firstChild);
  }
  clone.setAttribute('xmlns', SVG_NS);
  clone.setAttribute('xmlns:xlink', 'http://www.w3.org/1999/xlink');
  clone.setAttribute('width', String(width));
  clone.setAttribute('height', String(height));
  if (!clone.getAttribute('viewBox')) clone.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const background = document.createElementNS(SVG_NS, 'rect');
  background.setAttribute('x', String(x0));
  background.setAttribute('y', String(y0));
  background.setAttribute('width', '100%');
  background.setAttribute('height', '100%');
  background.setAttribute('fill', '#ffffff');
  clone.insertBefore(background, clone.firstChild);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(clone)}\n`;
}

/** The size an exported SVG declares (its width and height attributes), caption included. */
export function markupSize(markup: string): { width: number; height: number } {
  const root = new DOMParser().parseFromString(markup, 'image/svg+xml').documentElement;
  return { width: Number(root.getAttribute('width')) || 1, height: Number(root.getAttribute('height')) || 1 };
}

/** The SVG drawn on a canvas at `scale`× its size, as a PNG blob, with `text` as tEXt chunks. */
export async function svgToPng(markup: string, size: { width: number; height: number }, scale = 2, text: readonly [string, string][] = []): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([markup], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.decoding = 'sync';
    await new Promise<void>((resolve, reject) => {
      image.onload = () => resolve();
      image.onerror = () => reject(new Error('the figure could not be drawn as an image'));
      image.src = url;
    });
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(size.width * scale);
    canvas.height = Math.round(size.height * scale);
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2D canvas context');
    context.fillStyle = '#fff';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingEnabled = false;
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    const png = await new Promise<Blob>((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the canvas gave no PNG'))), 'image/png'));
    if (text.length === 0) return png;
    const bytes = withTextChunks(new Uint8Array(await png.arrayBuffer()), text);
    return new Blob([bytes as BlobPart], { type: 'image/png' });
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Saves `content` as a file through a temporary <a download>. */
export function downloadFile(content: Blob | string, fileName: string, type: string): void {
  const blob = typeof content === 'string' ? new Blob([content], { type }) : content;
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = fileName;
  anchor.rel = 'noopener';
  anchor.style.display = 'none';
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  // Revoked later: some browsers read the URL after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
