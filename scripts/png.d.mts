export function encodeGreyPng(width: number, height: number, grey: ArrayLike<number>): Buffer;
export function decodeGreyPng(file: Buffer): { width: number; height: number; data: Uint8ClampedArray };
