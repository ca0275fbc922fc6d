import { useCallback, useEffect, useRef, useState, type CSSProperties } from 'react';
import type { RgbaImage } from '../engine/preprocess.ts';
import { fileLabel } from '../image/checks.ts';
import { clampCrop, cropZoom, defaultCrop, moveCrop, zoomCrop, type Crop } from '../image/crop.ts';
import { decodeImageFile, type DecodedImage } from '../image/decode.ts';
import { greyToRgba, invertImage, looksInverted, lumaOf } from '../image/pixels.ts';
import { cropAndResize } from '../image/resample.ts';
import { evalCropBox, keepsWholeImage } from '../image/inputPreprocessing.ts';
import { useApp } from '../state/store.ts';

/** Longest side of the crop editor on screen, CSS pixels. */
const EDITOR_SIDE = 240;
/** The model-size preview is drawn this large (pixelated). */
const PREVIEW_SIDE = 84;
/** Slider changes are applied (a forward pass) once the user pauses this long. */
const APPLY_DELAY_MS = 200;

/** A file the page-level drop or the paste handler hands over. */
export interface IncomingImage {
  file: Blob;
  name: string;
  seq: number;
}

function toCanvas(image: RgbaImage): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
  return canvas;
}

/**
 * The part of the picture the model sees: the user's crop, or for an ImageNet-layout model the evaluation
 * transform's centre crop ('auto') or the whole picture ('squash') (inputPreprocessing.ts).
 */
function visibleBox(decoded: DecodedImage, crop: Crop, whole: boolean, prep: string): Crop {
  if (!whole) return crop;
  const { width, height } = decoded.image;
  return prep === 'auto' ? evalCropBox(width, height) : { x: 0, y: 0, width, height };
}

/** What the model sees: the crop at the model's size, inverted if asked, grey for grey models (a preview where the pipeline preprocesses the whole picture). */
function modelView(decoded: DecodedImage, crop: Crop, size: [number, number], channels: number, invert: boolean): RgbaImage {
  let image = cropAndResize(decoded.image, crop, size[1], size[0]);
  if (invert) image = invertImage(image);
  return channels === 1 ? greyToRgba(lumaOf(image), image.width, image.height) : image;
}

/**
 * Upload (file picker, drop on the zone, paste, or a drop anywhere on the page
 * via `incoming`), then a crop editor (drag to move, slider for size; the
 * centre square by default) and a preview of the image at the model's input
 * size. Every problem with a file is a one-line notice; the current view stays.
 */
export function ImageDrop({ size, channels, incoming }: { size: [number, number]; channels: number; incoming?: IncomingImage }) {
  const useLocalImage = useApp((s) => s.useLocalImage);
  const notify = useApp((s) => s.notify);
  const source = useApp((s) => s.source);
  const prep = useApp((s) => s.prep);
  const select = useApp((s) => s.select);
  // An ImageNet-layout model preprocesses the whole picture unless the user places a crop (issue 16).
  const whole = keepsWholeImage(size, channels, prep);
  const [decoded, setDecoded] = useState<(DecodedImage & { name: string; canvas: HTMLCanvasElement }) | undefined>();
  const [crop, setCrop] = useState<Crop | undefined>();
  const [invert, setInvert] = useState(false);
  const [busy, setBusy] = useState(false);
  const [dragOver, setDragOver] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const editorRef = useRef<HTMLCanvasElement>(null);
  const previewRef = useRef<HTMLCanvasElement>(null);
  const applyTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const drag = useRef<{ x: number; y: number; crop: Crop } | undefined>(undefined);

  const apply = useCallback(
    (d: DecodedImage & { name: string }, c: Crop, inv: boolean) => {
      try {
        // The crop box in the file's own pixels (the decoder may have downscaled it), for an export's provenance.
        const k = d.original.width / d.image.width;
        const box = { x: Math.round(c.x * k), y: Math.round(c.y * k), width: Math.round(c.width * k), height: Math.round(c.height * k), sourceWidth: d.original.width, sourceHeight: d.original.height };
        const full = { x: 0, y: 0, width: d.original.width, height: d.original.height, sourceWidth: d.original.width, sourceHeight: d.original.height };
        if (whole) useLocalImage({ image: d.image, source: 'upload', name: d.name, crop: full });
        else useLocalImage({ image: modelView(d, c, size, channels, inv), source: 'upload', name: d.name, crop: box });
      } catch (error) {
        notify([`${d.name}: ${(error as Error).message}`]);
      }
    },
    [useLocalImage, notify, size, channels, whole],
  );
  const applyRef = useRef(apply);
  applyRef.current = apply;
  // Switching between the whole picture and a placed crop changes the image the pipeline gets.
  const applied = useRef(whole);
  useEffect(() => {
    if (applied.current === whole) return;
    applied.current = whole;
    if (decoded && crop && source === 'upload') apply(decoded, crop, invert);
  }, [whole, apply, decoded, crop, invert, source]);
  /** Moving or resizing the crop of an ImageNet-layout model means the user places it: prep becomes 'crop'. */
  const placeCrop = () => {
    if (whole) select({ prep: 'crop' });
  };

  const accept = useCallback(
    async (file: Blob, name: string) => {
      // "decoding…" only for a decode that lasts (a big photo), never a flash for a small one.
      const busyTimer = setTimeout(() => setBusy(true), 300);
      try {
        const d = await decodeImageFile(file, name);
        const c = defaultCrop(d.image.width, d.image.height, size[1] / size[0]);
        const inv = channels === 1 && looksInverted(d.image);
        const notes: string[] = [];
        const label = fileLabel(name);
        if (d.downscaled) notes.push(`${label} is ${d.original.width}×${d.original.height} pixels; it was decoded at ${d.image.width}×${d.image.height}`);
        if (d.animated) notes.push(`${label} is animated; its first frame is used`);
        if (inv) notes.push(`${label} is light on dark ink, so it is inverted to the white-on-black the digit model was trained on (untick "invert" to undo)`);
        if (notes.length) notify(notes);
        const entry = { ...d, name, canvas: toCanvas(d.image) };
        setDecoded(entry);
        setCrop(c);
        setInvert(inv);
        apply(entry, c, inv);
      } catch (error) {
        // One line; the current image, model and view stay.
        notify([(error as Error).message]);
      } finally {
        clearTimeout(busyTimer);
        setBusy(false);
      }
    },
    [apply, notify, size, channels],
  );

  // Only a new `incoming` is accepted: `accept` changes with the model size, and must not re-take an old drop.
  const acceptRef = useRef(accept);
  acceptRef.current = accept;
  useEffect(() => {
    if (incoming) void acceptRef.current(incoming.file, incoming.name);
  }, [incoming]);

  // Paste an image anywhere (but not into a text field, where a paste is text).
  useEffect(() => {
    const onPaste = (event: ClipboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.isContentEditable)) return;
      const files = [...(event.clipboardData?.files ?? [])];
      const file = files.find((f) => f.type.startsWith('image/')) ?? files[0];
      if (!file) return;
      event.preventDefault();
      void accept(file, file.name || 'pasted image');
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [accept]);

  // The crop editor: the image, the area outside the crop dimmed, the crop outlined.
  const scale = decoded ? Math.min(EDITOR_SIDE / decoded.image.width, EDITOR_SIDE / decoded.image.height) : 1;
  useEffect(() => {
    const canvas = editorRef.current;
    if (!canvas || !decoded || !crop) return;
    const context = canvas.getContext('2d')!;
    context.imageSmoothingEnabled = true;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(decoded.canvas, 0, 0, canvas.width, canvas.height);
    const box = visibleBox(decoded, crop, whole, prep);
    const [x, y, w, h] = [box.x * scale, box.y * scale, box.width * scale, box.height * scale];
    context.fillStyle = 'rgba(0, 0, 0, 0.55)';
    context.fillRect(0, 0, canvas.width, y);
    context.fillRect(0, y + h, canvas.width, canvas.height - y - h);
    context.fillRect(0, y, x, h);
    context.fillRect(x + w, y, canvas.width - x - w, h);
    context.strokeStyle = '#ffb020';
    context.lineWidth = 2;
    context.strokeRect(x + 1, y + 1, Math.max(w - 2, 1), Math.max(h - 2, 1));
  }, [decoded, crop, scale, whole, prep]);

  useEffect(() => {
    const canvas = previewRef.current;
    if (!canvas || !decoded || !crop) return;
    const view = modelView(decoded, visibleBox(decoded, crop, whole, prep), size, channels, invert);
    canvas.width = view.width;
    canvas.height = view.height;
    canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(view.data), view.width, view.height), 0, 0);
  }, [decoded, crop, invert, size, channels, whole, prep]);

  const applySoon = (c: Crop, inv = invert) => {
    if (applyTimer.current) clearTimeout(applyTimer.current);
    applyTimer.current = setTimeout(() => decoded && applyRef.current(decoded, c, inv), APPLY_DELAY_MS);
  };
  useEffect(() => () => applyTimer.current && clearTimeout(applyTimer.current), []);

  const zone: CSSProperties = {
    border: `2px dashed ${dragOver ? 'var(--accent)' : '#b9c3d3'}`,
    borderRadius: 8,
    padding: '0.6rem',
    fontSize: '0.85rem',
    background: dragOver ? 'var(--accent-soft)' : undefined,
  };
  return (
    <div data-testid="image-input">
      <div
        style={zone}
        data-testid="image-drop"
        onDragOver={(e) => {
          e.preventDefault();
          e.stopPropagation();
          setDragOver(true);
        }}
        onDragLeave={() => setDragOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          e.stopPropagation(); // the page-level handler would take it as a model file
          setDragOver(false);
          const file = e.dataTransfer.files[0];
          if (file) void accept(file, file.name || 'dropped image');
        }}
      >
        <p className="muted" style={{ margin: '0 0 0.4rem' }}>
          Drop an image here, paste one (Ctrl+V), or
        </p>
        <button type="button" onClick={() => inputRef.current?.click()} disabled={busy}>
          Choose an image…
        </button>
        <input
          ref={inputRef}
          type="file"
          accept="image/*"
          hidden
          data-testid="image-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = ''; // the same file again must fire another change
            if (file) void accept(file, file.name);
          }}
        />
        {busy && <span className="muted small"> decoding…</span>}
      </div>
      {decoded && crop && (
        <div style={{ display: 'flex', gap: '0.75rem', flexWrap: 'wrap', marginTop: '0.5rem', alignItems: 'flex-start' }}>
          <div>
            <canvas
              ref={editorRef}
              width={Math.max(1, Math.round(decoded.image.width * scale))}
              height={Math.max(1, Math.round(decoded.image.height * scale))}
              data-testid="crop-editor"
              aria-label="Crop: drag to move"
              style={{ cursor: 'move', touchAction: 'none', display: 'block', borderRadius: 4 }}
              data-outline={whole ? prep : 'crop'}
              onPointerDown={(e) => {
                placeCrop();
                e.currentTarget.setPointerCapture(e.pointerId);
                drag.current = { x: e.clientX, y: e.clientY, crop };
              }}
              onPointerMove={(e) => {
                const start = drag.current;
                if (!start) return;
                setCrop(moveCrop(start.crop, (e.clientX - start.x) / scale, (e.clientY - start.y) / scale, decoded.image.width, decoded.image.height));
              }}
              onPointerUp={(e) => {
                const start = drag.current;
                drag.current = undefined;
                if (!start) return;
                const c = moveCrop(start.crop, (e.clientX - start.x) / scale, (e.clientY - start.y) / scale, decoded.image.width, decoded.image.height);
                setCrop(c);
                apply(decoded, c, invert);
              }}
            />
            <label className="small" style={{ display: 'flex', gap: '0.4rem', alignItems: 'center', marginTop: '0.3rem' }}>
              Crop size
              <input
                type="range"
                min={10}
                max={100}
                value={Math.round(100 * cropZoom(crop, decoded.image.width, decoded.image.height))}
                data-testid="crop-size"
                onChange={(e) => {
                  placeCrop();
                  const c = zoomCrop(clampCrop(crop, decoded.image.width, decoded.image.height), Number(e.target.value) / 100, decoded.image.width, decoded.image.height);
                  setCrop(c);
                  applySoon(c);
                }}
              />
            </label>
            <button
              type="button"
              className="small"
              onClick={() => {
                const c = defaultCrop(decoded.image.width, decoded.image.height, size[1] / size[0]);
                setCrop(c);
                if (whole) placeCrop(); // the effect above applies the crop once the choice is 'crop'
                else apply(decoded, c, invert);
              }}
            >
              Centre square
            </button>
          </div>
          <div>
            <canvas
              ref={previewRef}
              data-testid="crop-preview"
              aria-label={`What the model sees: ${size[1]}×${size[0]}`}
              style={{ width: PREVIEW_SIDE, height: (PREVIEW_SIDE * size[0]) / size[1], imageRendering: 'pixelated', display: 'block', background: '#000', borderRadius: 4 }}
            />
            <p className="muted small" style={{ margin: '0.2rem 0' }}>
              {size[1]}×{size[0]}
              {source === 'upload' ? ', shown' : ''}
            </p>
            {channels === 1 && (
              <label className="small" style={{ display: 'flex', gap: '0.3rem', alignItems: 'center' }}>
                <input
                  type="checkbox"
                  checked={invert}
                  data-testid="image-invert"
                  onChange={(e) => {
                    setInvert(e.target.checked);
                    apply(decoded, crop, e.target.checked);
                  }}
                />
                invert
              </label>
            )}
          </div>
        </div>
      )}
    </div>
  );
}
