import { useState, type ReactNode } from 'react';

/**
 * Disclosures that stay open once opened, for the session: the engine panel
 * is unmounted while each new image runs (its Loadable shows progress), and
 * a plain <details> would then close under a user who opened it to watch
 * the kernel variants or the GPU timings change from image to image.
 */
const keptOpen = new Set<string>();

export function KeptOpenDetails({ id, summary, className, children }: { id: string; summary: ReactNode; className?: string; children: ReactNode }) {
  const [open, setOpen] = useState(() => keptOpen.has(id));
  return (
    <details
      className={className}
      data-testid={id}
      open={open}
      onToggle={(event) => {
        const nowOpen = event.currentTarget.open;
        if (nowOpen) keptOpen.add(id);
        else keptOpen.delete(id);
        setOpen(nowOpen);
      }}
    >
      <summary>{summary}</summary>
      {children}
    </details>
  );
}
