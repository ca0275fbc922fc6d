/**
 * The one naming convention for the attention query (issue 19, bug 1). The
 * query is a TOKEN index that counts the class token, exactly as the URL's
 * `query` property stores it (docs/MEASUREMENTS.md §1: token 0 is the class
 * token, tokens 1..N−1 are the patches in row-major order). Every label, title
 * and file name says "token q" for that same number, and adds the patch's
 * row and column for reading; nothing shows the 0-based patch index alone.
 */

export interface PatchCell {
  row: number;
  col: number;
}

/** Token index of the patch in grid cell `cell` (row-major, 0-based). */
export function queryOfCell(cell: number): number {
  return cell + 1;
}

/** Grid cell of a patch token, or -1 for the class token. */
export function cellOfQuery(query: number): number {
  return query > 0 ? query - 1 : -1;
}

/** Row and column of a patch token on a grid `gridWidth` patches wide; undefined for the class token. */
export function patchOfQuery(query: number, gridWidth: number): PatchCell | undefined {
  const cell = cellOfQuery(query);
  if (cell < 0) return undefined;
  return { row: Math.floor(cell / gridWidth), col: cell % gridWidth };
}

/** "class token" or "token 38 · patch (row 4, col 5)": the page's label and the figure title's query part. */
export function queryLabel(query: number, gridWidth: number): string {
  const patch = patchOfQuery(query, gridWidth);
  return patch ? `token ${query} · patch (row ${patch.row}, col ${patch.col})` : 'class token';
}

/** The query's part of an export's file name: "qcls" or "q38" (the URL's number). */
export function queryFileTag(query: number): string {
  return query === 0 ? 'qcls' : `q${query}`;
}

/** The attention figure's title: "head 2, query token 38 · patch (row 4, col 5)". */
export function attentionTitle(head: 'mean' | number, query: number, gridWidth: number): string {
  return `${head === 'mean' ? 'mean of heads' : `head ${head}`}, query ${queryLabel(query, gridWidth)}`;
}
