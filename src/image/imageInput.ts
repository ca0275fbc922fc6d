/**
 * Images the user brings (upload, drop, paste, drawing), split by concern: checks.ts (header,
 * limits), crop.ts, resample.ts, pixels.ts, digitLayout.ts and decode.ts (the only browser
 * part). This module re-exports them for the importers outside src/image that still name it.
 */
export * from './checks.ts';
export * from './crop.ts';
export * from './decode.ts';
export * from './digitLayout.ts';
export * from './pixels.ts';
export * from './resample.ts';
