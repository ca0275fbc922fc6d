import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { startPipeline } from './pipeline/pipeline.ts';
import { bindUrlState } from './state/store.ts';
import { App } from './ui/App.tsx';
import './ui/styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

bindUrlState();
startPipeline();
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
