/** One line of a per-layer chart, optionally with a ±std band (dataset mode). */
export interface Series {
  /** Stable id, also the CSS class suffix and the data-series attribute. */
  id: string;
  /** Legend text. */
  name: string;
  values: number[];
  /** mean ± std over the data set; `values` are then the means. */
  std?: number[];
  /** The series whose points carry data-value and select layers (one per chart). */
  primary?: boolean;
}
