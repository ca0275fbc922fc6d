import { useApp, type RunResult } from '../state/store.ts';
import { formatFraction, formatRate } from './format.ts';
import { LayerChart } from './LayerChart.tsx';

/** Coding rate and sparsity per layer; the selected layer is shared by both charts and the table. */
export function LayerPanel({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const select = useApp((s) => s.select);
  const onSelect = (l: number) => select({ layer: l });
  const rates = result.layers.map((l) => l.codingRate);
  const sparsities = result.layers.map((l) => l.sparsity);
  const current = result.layers[layer];
  const m = result.model;
  return (
    <div className="layer-panel">
      <p className="muted small">
        {m.imageSize[0]}×{m.imageSize[1]}×{m.channels} input, patch {m.patchSize}, N = {m.tokens} tokens, d = {m.dim},{' '}
        {m.heads} heads of {m.dimHead}. Click a point or a row to select a layer.
      </p>
      <div className="charts">
        <LayerChart
          title="Coding rate Rᶜ of the MSSA input (ε² = 0.01)"
          testId="chart-coding-rate"
          name="Rᶜ"
          values={rates}
          selected={layer}
          yLabel="Rᶜ (nats)"
          format={formatRate}
          onSelect={onSelect}
        />
        <LayerChart
          title="Sparsity of the ISTA output: ‖Zˡ⁺¹‖₀ / (d·N)"
          testId="chart-sparsity"
          name="‖Z‖₀/(dN)"
          values={sparsities}
          selected={layer}
          yLabel="non-zero fraction"
          yDomain={[0, 1]}
          format={formatFraction}
          onSelect={onSelect}
        />
      </div>
      {current && (
        <p className="layer-detail" data-testid="layer-detail" data-layer={layer}>
          Layer {layer}: Rᶜ = {formatRate(current.codingRate)} nats, ‖Z‖₀/(d·N) = {formatFraction(current.sparsity)}
        </p>
      )}
      <table className="layer-table" data-testid="layer-table">
        <thead>
          <tr>
            <th scope="col">layer ℓ</th>
            <th scope="col">Rᶜ (nats)</th>
            <th scope="col">‖Zˡ⁺¹‖₀ / (d·N)</th>
          </tr>
        </thead>
        <tbody>
          {result.layers.map((l) => (
            <tr
              key={l.layer}
              className={l.layer === layer ? 'selected' : undefined}
              aria-selected={l.layer === layer}
              onClick={() => onSelect(l.layer)}
              data-layer={l.layer}
            >
              <th scope="row">{l.layer}</th>
              <td data-testid={`rate-${l.layer}`} data-value={l.codingRate}>
                {formatRate(l.codingRate)}
              </td>
              <td data-testid={`sparsity-${l.layer}`} data-value={l.sparsity}>
                {formatFraction(l.sparsity)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
