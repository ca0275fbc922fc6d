import { useApp } from '../state/store.ts';

/** Tells the user what in their link (or the data) was ignored, and why. */
export function Notices() {
  const notices = useApp((s) => s.notices);
  const dismiss = useApp((s) => s.dismissNotices);
  if (notices.length === 0) return null;
  return (
    <div className="notices" role="status" data-testid="notices">
      <ul>
        {notices.map((line, i) => (
          <li key={i}>{line}</li>
        ))}
      </ul>
      <button type="button" onClick={dismiss}>
        Dismiss
      </button>
    </div>
  );
}
