/** Types of nativeWarnings.mjs (plain JavaScript: the launcher runs it before tsx is loaded). */
export declare class NativeWarningFilter {
  push(chunk: string): string;
  end(): string;
}
