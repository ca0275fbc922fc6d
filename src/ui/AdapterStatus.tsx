import { isSoftwareAdapter } from '../runners/adapter.ts';
import { useApp } from '../state/store.ts';

/**
 * The WebGPU adapter in words a user reads (issue 19): "your browser's
 * software GPU" rather than a vendor string; the adapter's own name, vendor,
 * architecture and features are one click away.
 */
export function AdapterStatus() {
  const adapter = useApp((s) => s.adapter);
  if (adapter.status === 'probing') {
    return <span className="adapter probing" data-testid="adapter-status">Looking for a GPU…</span>;
  }
  if (adapter.status === 'unavailable') {
    return (
      <div className="adapter unavailable" data-testid="adapter-status" data-status="unavailable">
        WebGPU unavailable here, so the model runs on the processor (slower, same results).
        <details className="tech-details">
          <summary>Technical details</summary>
          {adapter.reason}
        </details>
      </div>
    );
  }
  const software = isSoftwareAdapter(adapter);
  const detail = [adapter.vendor, adapter.architecture].filter(Boolean).join(' ');
  return (
    <div className="adapter ready" data-testid="adapter-status" data-status="ready" data-software={software}>
      {software ? "WebGPU runs on your browser's software GPU: correct, but much slower than a graphics card." : 'WebGPU runs on your graphics card.'}
      <details className="tech-details" data-testid="adapter-details">
        <summary>Technical details</summary>
        <p>
          Adapter: {adapter.name}
          {detail && !adapter.name.includes(detail) ? ` (${detail})` : ''}
          {adapter.fallback ? '; a fallback adapter' : ''}.
        </p>
        <p className="tech-features">Features: {adapter.features.join(', ') || 'none'}.</p>
      </details>
    </div>
  );
}
