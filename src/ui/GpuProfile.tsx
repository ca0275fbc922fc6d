import type { KernelTiming } from '../engine/gpu/profiler.ts';
import { ENGINE_LABELS } from '../engine/runner.ts';
import type { RunResult } from '../state/store.ts';
import { Teaching } from './Teaching.tsx';

const ms = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Sums of dispatch times grouped by `key`, in the order groups first appear (the dispatch order). */
function groupTimes(dispatches: readonly KernelTiming[], key: (t: KernelTiming) => string): { name: string; ms: number; count: number }[] {
  const groups = new Map<string, { name: string; ms: number; count: number }>();
  for (const t of dispatches) {
    const name = key(t);
    const group = groups.get(name) ?? { name, ms: 0, count: 0 };
    group.ms += t.ms;
    group.count += 1;
    groups.set(name, group);
  }
  return [...groups.values()];
}

function TimeTable({ title, rows, total, testId }: { title: string; rows: { name: string; ms: number; count: number }[]; total: number; testId: string }) {
  return (
    <table className="time-table" data-testid={testId}>
      <caption>{title}</caption>
      <tbody>
        {rows.map((r) => (
          <tr key={r.name} data-name={r.name} data-value={r.ms}>
            <th scope="row">{r.name}</th>
            <td className="time-bar" aria-hidden="true">
              <span style={{ width: `${total > 0 ? Math.max((100 * r.ms) / total, 0.5) : 0}%` }} />
            </td>
            <td>{ms(r.ms)} ms</td>
            <td className="muted">{r.count}×</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * GPU time per layer and per kernel from timestamp queries (engine/gpu/profiler.ts),
 * only on our WGSL engine; otherwise a sentence saying why there is none.
 */
export function GpuProfileView({ result }: { result: RunResult }) {
  const profile = result.outputs.profile;
  let body;
  if (result.engine !== 'wgsl') {
    body = <p className="muted small">GPU timing is measured on our WGSL engine only; this run used {ENGINE_LABELS[result.engine]}.</p>;
  } else if (!profile) {
    body = <p className="muted small">This run was not profiled.</p>;
  } else if (!profile.supported) {
    body = <p className="muted small">No GPU timing: {profile.reason}.</p>;
  } else {
    const layers = groupTimes(profile.dispatches, (t) => t.scope);
    const kernels = groupTimes(profile.dispatches, (t) => t.role === t.kernel ? t.kernel : `${t.kernel} (${t.role})`).sort((a, b) => b.ms - a.ms);
    body = (
      <>
        <p className="small">
          GPU time (timestamp queries): <strong>{ms(profile.totalMs)} ms</strong> in {profile.dispatches.length} dispatches.
        </p>
        <div className="time-tables">
          <TimeTable title="By layer" rows={layers} total={profile.totalMs} testId="gpu-time-layers" />
          <TimeTable title="By kernel" rows={kernels} total={profile.totalMs} testId="gpu-time-kernels" />
        </div>
      </>
    );
  }
  return (
    <details className="gpu-profile" data-testid="gpu-profile" data-supported={profile?.supported ? 'true' : 'false'} data-total={profile?.supported ? profile.totalMs : undefined} open>
      <summary>GPU time per layer and kernel</summary>
      {body}
      <Teaching topic="engine" />
    </details>
  );
}
