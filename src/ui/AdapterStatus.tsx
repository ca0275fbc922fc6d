import { useApp } from '../state/store.ts';

export function AdapterStatus() {
  const adapter = useApp((s) => s.adapter);
  if (adapter.status === 'probing') {
    return <span className="adapter probing" data-testid="adapter-status">Looking for a WebGPU adapter…</span>;
  }
  if (adapter.status === 'unavailable') {
    return (
      <span className="adapter unavailable" data-testid="adapter-status" data-status="unavailable">
        WebGPU unavailable: {adapter.reason}
      </span>
    );
  }
  const detail = [adapter.vendor, adapter.architecture].filter(Boolean).join(' ');
  return (
    <span
      className="adapter ready"
      data-testid="adapter-status"
      data-status="ready"
      title={`features: ${adapter.features.join(', ') || 'none'}`}
    >
      WebGPU: {adapter.name}
      {detail && !adapter.name.includes(detail) ? ` (${detail})` : ''}
      {adapter.fallback ? ' · software fallback adapter' : ''}
    </span>
  );
}
