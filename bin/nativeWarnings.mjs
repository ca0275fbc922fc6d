// Dawn (the npm package `webgpu`) prints its own warnings straight to the
// process's stderr from C++, where Node cannot catch them: while it probes for
// a Vulkan driver, lines such as
//   Warning: vkCreateInstance: Found no drivers!
//   Warning: Vulkan shaderUniform*ArrayDynamicIndexing required …
//       at Initialize (…/dawn/native/vulkan/PhysicalDeviceVk.cpp:257)
// The command says what matters in its own words (src/engine/node/nodeGpu.ts:
// "no GPU driver found; using the SwiftShader software Vulkan driver"), so
// bin/crate-explorer.mjs runs it with stderr piped through this filter, which
// drops those blocks and passes everything else through as it comes.

/** A native warning line, its source-location lines, and the blank line Dawn ends the block with. */
const WARNING = /^Warning: /;
const LOCATION = /^\s+at .*\(.*:\d+\)$/;
const PREFIX = 'Warning: ';

export class NativeWarningFilter {
  #pending = '';
  #inWarning = false;
  /** Part of the current line was already passed on: the rest is not the start of a line. */
  #midLine = false;

  /** Text to pass on for this chunk; a line that may still turn out to be a warning is held back until it ends. */
  push(chunk) {
    this.#pending += chunk;
    let out = '';
    for (;;) {
      const end = this.#pending.search(/[\r\n]/);
      if (end < 0) break;
      const line = this.#pending.slice(0, end);
      const terminator = this.#pending[end];
      this.#pending = this.#pending.slice(end + 1);
      out += this.#midLine ? line + terminator : this.#line(line, terminator);
      this.#midLine = false;
    }
    // A progress bar redraws without a line feed: pass on at once what cannot be (part of) a warning block.
    const mayBeWarning = this.#inWarning || PREFIX.startsWith(this.#pending.slice(0, PREFIX.length));
    if (this.#pending !== '' && (this.#midLine || !mayBeWarning)) {
      out += this.#pending;
      this.#pending = '';
      this.#midLine = true;
    }
    return out;
  }

  /** What is left when the stream ends. */
  end() {
    const rest = this.#pending;
    this.#pending = '';
    return rest === '' ? '' : this.#midLine ? rest : this.#line(rest, '');
  }

  #line(line, terminator) {
    if (WARNING.test(line)) {
      this.#inWarning = true;
      return '';
    }
    const blankLine = line === '' && terminator === '\n';
    if (this.#inWarning && (LOCATION.test(line) || blankLine)) {
      if (blankLine) this.#inWarning = false;
      return '';
    }
    this.#inWarning = false;
    return line + terminator;
  }
}
