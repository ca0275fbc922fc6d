import type { ClassScore } from '../analysis/classes.ts';
/**
 * The one zustand store: the view state (what is selected, which also lives
 * in the URL) plus what the pipeline has loaded and measured for it. Views
 * read it and call its actions; they never call the engine.
 */
import { create } from 'zustand';
import type { AdapterStatus } from './adapter.ts';
import type { Manifest } from './manifest.ts';
import { defaultUrlState, parseUrlState, sameUrlState, serialiseUrlState, type UrlState } from './urlState.ts';

export type Loadable<T> =
  | { status: 'idle' }
  | { status: 'loading'; message: string; /** 0..1 where known. */ fraction?: number }
  | { status: 'ready'; value: T }
  | { status: 'error'; message: string };

export interface LayerStats {
  layer: number;
  /** Official coding rate R^c of the MSSA input (DESIGN.md §2), nats. */
  codingRate: number;
  /** ‖Z^{ℓ+1}‖₀/(d·N) of the ISTA output. */
  sparsity: number;
}

export interface ModelSummary {
  id: string;
  imageSize: [number, number];
  patchSize: number;
  channels: number;
  tokens: number;
  dim: number;
  depth: number;
  heads: number;
  dimHead: number;
  numClasses: number;
}

export interface RunResult {
  modelId: string;
  sampleIndex: number;
  model: ModelSummary;
  /** Top five classes by probability, best first. */
  top: ClassScore[];
  layers: LayerStats[];
  /** Wall time of the forward pass plus the measurements, ms. */
  millis: number;
  engine: string;
}

export interface AppState extends UrlState {
  /** Lines telling the user that something in the link or the data was ignored. */
  notices: string[];
  adapter: AdapterStatus;
  manifest: Loadable<Manifest>;
  run: Loadable<RunResult>;
  /** Changes the selection; a new model or sample resets what depends on it. */
  select(patch: Partial<UrlState>): void;
  notify(lines: string[]): void;
  dismissNotices(): void;
}

/** At most this many notices are kept; a hostile link must not flood the page. */
const MAX_NOTICES = 12;

export const useApp = create<AppState>()((set) => ({
  ...defaultUrlState(),
  notices: [],
  adapter: { status: 'probing' },
  manifest: { status: 'idle' },
  run: { status: 'idle' },
  select: (patch) => set(patch),
  notify: (lines) => set((s) => ({ notices: [...s.notices, ...lines].slice(-MAX_NOTICES) })),
  dismissNotices: () => set({ notices: [] }),
}));

export function viewState(s: UrlState): UrlState {
  return { model: s.model, sample: s.sample, layer: s.layer };
}

/**
 * Reads the initial view state from `location.search` (garbage becomes
 * notices), then keeps the query string equal to the store with
 * `history.replaceState` (no history entry per click). Returns an unsubscribe.
 */
export function bindUrlState(store = useApp): () => void {
  const { state, notices } = parseUrlState(window.location.search);
  store.setState(state);
  if (notices.length) store.getState().notify(notices);
  let last: UrlState | null = null;
  const write = (s: AppState) => {
    const current = viewState(s);
    if (last && sameUrlState(last, current)) return;
    last = current;
    const search = serialiseUrlState(current);
    if (search !== window.location.search) {
      window.history.replaceState(window.history.state, '', `${window.location.pathname}${search}${window.location.hash}`);
    }
  };
  write(store.getState());
  return store.subscribe(write);
}
