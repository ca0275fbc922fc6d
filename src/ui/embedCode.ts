/**
 * The `<iframe>` snippet of "Copy embed code" (issue 15): the current view's
 * link with `embed=1` (and without a tour), as HTML a course page or a slide
 * tool can paste. Pure, so the escaping is unit-tested.
 */
import { serialiseUrlState, type UrlState } from '../state/urlState.ts';

export const EMBED_SIZE = { width: 760, height: 520 };

/** Text safe inside a double-quoted HTML attribute. */
export function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The link of the embedded figure: the same view, `embed=1`, no tour. */
export function embedUrl(base: string, state: UrlState): string {
  return `${base}${serialiseUrlState({ ...state, embed: true, tour: 0 })}`;
}

export function embedSnippet(url: string, title: string, size = EMBED_SIZE): string {
  return `<iframe src="${escapeAttribute(url)}" width="${size.width}" height="${size.height}" style="border:0" loading="lazy" title="${escapeAttribute(title)}"></iframe>`;
}
