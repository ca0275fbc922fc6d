import { useMemo } from 'react';
import { iouChart, rateChart, segmentationFraction, sparsityChart } from '../state/derived.ts';
import type { Series } from '../viz/series.ts';
import { rateNumbers } from '../state/layerNumbers.ts';
import { againstTrendNote } from '../state/trend.ts';
import { useApp, type RunResult } from '../state/store.ts';
import { RATE_VARIANTS, type RateVariant } from '../state/urlState.ts';
import { formatFraction, formatRate } from './format.ts';
import { LayerChart } from './LayerChart.tsx';
import { Teaching } from './Teaching.tsx';
import { DatasetCancel, DatasetTable } from './DatasetPanel.tsx';
import { DataExport } from './Toolbar.tsx';

const RATE_LABELS: Record<RateVariant, string> = { official: 'official (MSSA input)', paper: 'paper formula (Z^(ℓ+½))' };

/**
 * Layer overview (issue 6): coding rate, sparsity and segmentation IoU per
 * layer (docs/MEASUREMENTS.md §2); the selected layer is shared by every chart, the
 * table and the detail panel. In dataset mode the charts add the mean ± std
 * over the sample set.
 */
export function LayerPanel({ result }: { result: RunResult }) {
  const layer = useApp((s) => s.layer);
  const select = useApp((s) => s.select);
  const rate = useApp((s) => s.rate);
  const seg = useApp((s) => s.seg);
  const p = useApp((s) => s.p);
  const tau = useApp((s) => s.tau);
  const dataset = useApp((s) => s.dataset);
  const present = useApp((s) => s.present);
  const datasetStats = useApp((s) => s.datasetStats);
  const onSelect = (l: number) => select({ layer: l });
  const stats = dataset && datasetStats.status === 'ready' ? datasetStats.value : undefined;
  const fraction = segmentationFraction(seg, p, tau);
  const rates = useMemo(() => rateChart(result, rate, stats), [result, rate, stats]);
  const sparsities = useMemo(() => sparsityChart(result, stats), [result, stats]);
  const ious = useMemo(() => iouChart(result, seg, fraction, stats), [result, seg, fraction, stats]);
  // The numbers beside the chart come from the chart's own series (issue 19, bug 2).
  const rateValues = useMemo(() => rateNumbers(result, rate, stats), [result, rate, stats]);
  // Where this model goes against the paper's falling trend, said on the chart beside the dataset mean (issue 19).
  const meanOf = (series: readonly Series[]) => series.find((x) => x.std)?.values;
  const rateTrend = againstTrendNote(rateValues.label, rateValues.values, meanOf(rates.series));
  const sparsityTrend = againstTrendNote('‖Z‖₀/(dN)', sparsities.series[0].values, meanOf(sparsities.series));
  const current = result.layers[layer];
  const m = result.model;
  // CRATE-α's sparsity is that of its sparse code z2 (N × r·d), not of the dense Z^{ℓ+1} (docs/MEASUREMENTS.md §1.1).
  const alpha = m.arch === 'crate-alpha';
  const method = seg === 'top' ? `top ${Math.round(p * 100)}%` : `mass τ = ${tau}`;
  return (
    <div className="with-teaching overview">
      <div className="layer-panel">
        <div className="panel-toolbar">
          <p className="muted small">
            {alpha ? 'CRATE-α, ' : ''}
            {m.imageSize[0]}×{m.imageSize[1]}×{m.channels} input, patch {m.patchSize}, N = {m.tokens} tokens, d = {m.dim}, {m.heads} heads of{' '}
            {m.dimHead}. Click a point or a row to select a layer (or press ← →).
          </p>
          <fieldset className="segmented" aria-label="Coding-rate variant">
            <legend className="sr-only">Coding-rate variant</legend>
            {RATE_VARIANTS.map((v) => (
              <label key={v} className={v === rate ? 'checked' : undefined}>
                <input type="radio" name="rate" value={v} checked={v === rate} onChange={() => select({ rate: v })} data-testid={`rate-variant-${v}`} />
                {RATE_LABELS[v]}
              </label>
            ))}
          </fieldset>
        </div>
        {dataset && (
          <p className="muted small" data-testid="dataset-status" data-status={datasetStats.status}>
            {datasetStats.status === 'ready'
              ? `Dataset mode: dashed lines and bands are mean ± std over ${datasetStats.value.count} images${datasetStats.value.note ? ` (${datasetStats.value.note})` : ''}${datasetStats.value.accuracy !== undefined ? `; accuracy ${(100 * datasetStats.value.accuracy).toFixed(1)}%` : ''}.`
              : datasetStats.status === 'loading'
                ? datasetStats.message
                : datasetStats.status === 'error'
                  ? `Dataset mode failed: ${datasetStats.message}`
                  : 'Dataset mode: waiting for the statistics…'}
            {datasetStats.status === 'loading' && (
              <>
                {' '}
                <DatasetCancel />
              </>
            )}
          </p>
        )}
        <div className="charts">
          <LayerChart
            title={rate === 'official' ? 'Coding rate Rᶜ of the MSSA input (ε² = 0.01)' : 'Paper formula on Z^(ℓ+½) (ε² = 0.01)'}
            testId="chart-coding-rate"
            large={present}
            figure="rate"
            result={result}
            name={rates.series.find((s) => s.primary)?.name ?? 'Rᶜ'}
            series={rates.series}
            note={rates.note}
            trend={rateTrend}
            selected={layer}
            yLabel="nats"
            format={formatRate}
            onSelect={onSelect}
          />
          <LayerChart
            title={alpha ? 'Sparsity of the sparse code: ‖z₂ˡ‖₀ / (r·d·N)' : 'Sparsity of the ISTA output: ‖Zˡ⁺¹‖₀ / (d·N)'}
            testId="chart-sparsity"
            large={present}
            figure="sparsity"
            result={result}
            name="‖Z‖₀/(dN)"
            trend={sparsityTrend}
            series={sparsities.series}
            selected={layer}
            yLabel="non-zero fraction"
            yDomain={[0, 1]}
            format={formatFraction}
            onSelect={onSelect}
          />
          {/* The IoU chart shares its cell with the explanation: beside the numbers, not in a row of its own (issue 19, 1280×720). */}
          <div className="chart-cell">
            <LayerChart
              title={`Segmentation IoU with the ground truth (${method})`}
              testId="chart-iou"
              large={present}
              figure="iou"
              result={result}
              name="IoU"
              series={ious.series}
              missing={result.samplesFrom !== undefined && result.samplesFrom !== result.modelId ? 'no samples ship with this model, so there is no ground truth to score against' : ious.missing}
              selected={layer}
              yLabel="IoU"
              yDomain={[0, 1]}
              format={formatFraction}
              onSelect={onSelect}
            />
            {!present && <Teaching topic="overview" />}
          </div>
          <div className="layer-numbers">
            {current && (
              <p className="layer-detail" data-testid="layer-detail" data-layer={layer}>
                Layer {layer}: {rateValues.label} = <span data-testid="layer-detail-rate">{formatRate(rateValues.values[layer])}</span> nats, ‖Z‖₀/(d·N) ={' '}
                {formatFraction(current.sparsity)}
                {ious.series[0] && (
                  <>
                    , IoU (best head) = <span data-testid="layer-detail-iou">{formatFraction(ious.series[0].values[layer])}</span>
                  </>
                )}
              </p>
            )}
            {/* Presentation layout: the explanation folds into one line beside the numbers, not under the curves. */}
            {present && <Teaching topic="overview" />}
            <DataExport result={result} />
            <table className="layer-table" data-testid="layer-table">
              <thead>
                <tr>
                  <th scope="col">layer ℓ</th>
                  <th scope="col" data-testid="rate-column" data-variant={rateValues.variant}>
                    {rateValues.label} (nats)
                  </th>
                  <th scope="col">‖Zˡ⁺¹‖₀ / (d·N)</th>
                </tr>
              </thead>
              <tbody>
                {result.layers.map((l) => (
                  <tr key={l.layer} className={l.layer === layer ? 'selected' : undefined} aria-selected={l.layer === layer} onClick={() => onSelect(l.layer)} data-layer={l.layer}>
                    <th scope="row">{l.layer}</th>
                    <td data-testid={`rate-${l.layer}`} data-value={rateValues.values[l.layer]} data-variant={rateValues.variant}>
                      {formatRate(rateValues.values[l.layer])}
                    </td>
                    <td data-testid={`sparsity-${l.layer}`} data-value={l.sparsity}>
                      {formatFraction(l.sparsity)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
        {stats && <DatasetTable stats={stats} />}
      </div>
    </div>
  );
}
