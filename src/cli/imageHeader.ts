/**
 * The pixel size an encoded image declares in its header (PNG IHDR, JPEG
 * SOFn), read without decoding anything, so that an image too large to decode
 * is refused before a decoder allocates for it.
 */

export interface DeclaredSize {
  width: number;
  height: number;
}

/** PNG: the IHDR chunk comes first, right after the 8-byte signature. */
export function pngDeclaredSize(bytes: Uint8Array): DeclaredSize | undefined {
  if (bytes.length < 24) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (type !== 'IHDR') return undefined;
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** SOFn markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames. */
const isStartOfFrame = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** JPEG: walks the marker segments from SOI to the first SOFn (a frame header must come before the scan). */
export function jpegDeclaredSize(bytes: Uint8Array): DeclaredSize | undefined {
  const u16 = (at: number) => (bytes[at] << 8) | bytes[at + 1];
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at += 1; // fill byte
    } else if (marker === 0x01 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a segment
    } else if (marker === 0xd9 || marker === 0xda) {
      return undefined; // end of image or start of scan before any frame: the decoder says what is wrong
    } else if (isStartOfFrame(marker)) {
      return at + 9 <= bytes.length ? { height: u16(at + 5), width: u16(at + 7) } : undefined;
    } else {
      at += 2 + u16(at + 2);
    }
  }
  return undefined;
}
