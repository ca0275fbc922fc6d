/** The crop rectangle the user moves and sizes over an image, kept inside it. Pure. */

/** A crop rectangle in source pixels (may be fractional: it is sampled, not indexed). */
export interface Crop {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The largest centred rectangle of the given aspect (width/height) inside the image: the default crop. */
export function defaultCrop(width: number, height: number, aspect = 1): Crop {
  let w = width;
  let h = w / aspect;
  if (h > height) {
    h = height;
    w = h * aspect;
  }
  return { x: (width - w) / 2, y: (height - h) / 2, width: w, height: h };
}

/** Keeps a crop inside the image (shrinking it, aspect kept, if it is larger than the image). */
export function clampCrop(crop: Crop, width: number, height: number): Crop {
  let { width: w, height: h } = crop;
  const shrink = Math.min(1, width / w, height / h);
  w *= shrink;
  h *= shrink;
  const x = Math.min(Math.max(crop.x, 0), width - w);
  const y = Math.min(Math.max(crop.y, 0), height - h);
  return { x, y, width: w, height: h };
}

/** The crop moved by (dx, dy) source pixels, stopping at the image's edges. */
export function moveCrop(crop: Crop, dx: number, dy: number, width: number, height: number): Crop {
  return clampCrop({ ...crop, x: crop.x + dx, y: crop.y + dy }, width, height);
}

/**
 * The crop at `zoom` ∈ (0, 1] of the largest crop of its aspect, about its
 * centre, then kept inside the image: the "crop size" slider.
 */
export function zoomCrop(crop: Crop, zoom: number, width: number, height: number): Crop {
  const full = defaultCrop(width, height, crop.width / crop.height);
  const z = Math.min(1, Math.max(zoom, 0.02));
  const w = full.width * z;
  const h = full.height * z;
  const cx = crop.x + crop.width / 2;
  const cy = crop.y + crop.height / 2;
  return clampCrop({ x: cx - w / 2, y: cy - h / 2, width: w, height: h }, width, height);
}

/** zoomCrop's inverse: how large a crop is relative to the largest of its aspect. */
export function cropZoom(crop: Crop, width: number, height: number): number {
  return crop.width / defaultCrop(width, height, crop.width / crop.height).width;
}
